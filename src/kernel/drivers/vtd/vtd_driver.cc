#include "svaemu/kernel/drivers/vtd/vtd_driver.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "svaemu/base/bits.h"
#include "svaemu/base/logging.h"
#include "svaemu/hw/vtd/regs.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/irq.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel::vtd {

using namespace hw::vtd;  // NOLINT: register and descriptor names

namespace {

constexpr uint32_t kQiInUse = 0;  // Linux QI_IN_USE
constexpr uint32_t kQiDone = 1;   // Linux QI_DONE
constexpr uint64_t kDescSize = 32;  // 256-bit descriptors (IQA.DW=1)

mem::Access CpuAccess() { return mem::Access::Cpu(Purpose::kData); }

// Linux calculate_psi_aligned_address(): the smallest naturally aligned
// power-of-two region (in pages) that covers [start, end).
void PsiAligned(uint64_t start, uint64_t end, uint64_t* base, uint8_t* am) {
  const uint64_t first = start >> 12;
  const uint64_t last = (end - 1) >> 12;
  uint8_t mask = 0;
  while (mask < 52 && (first >> mask) != (last >> mask)) ++mask;
  *am = mask;
  *base = (first >> mask) << (mask + 12);
}

}  // namespace

VtdDriver::VtdDriver(sim::Simulation& sim, mem::PhysMem& mem,
                     mem::FrameAllocator& alloc, hw::MmioDevice& regs,
                     VtdIrqs irqs, VtdDriverConfig config)
    : sim_(sim), mem_(mem), alloc_(alloc), regs_(regs), irqs_(irqs), config_(config) {}

VtdDriver::~VtdDriver() {
  if (irqs_.fault != nullptr && irqs_.fault->requested()) irqs_.fault->Free();
  if (irqs_.prq != nullptr && irqs_.prq->requested()) irqs_.prq->Free();
}

absl::StatusOr<std::unique_ptr<VtdDriver>> VtdDriver::Probe(
    sim::Simulation& sim, mem::PhysMem& mem, mem::FrameAllocator& alloc,
    hw::MmioDevice& regs, VtdIrqs irqs, VtdDriverConfig config) {
  std::unique_ptr<VtdDriver> d(new VtdDriver(sim, mem, alloc, regs, irqs, config));
  absl::Status s = d->Init();
  if (!s.ok()) return s;
  return d;
}

// 10.4.4: set a GCMD bit, keeping the persistent ones, and wait for GSTS.
absl::Status VtdDriver::GlobalCommand(uint32_t bit, bool on) {
  const bool one_shot = bit == Gcmd::kSrtp || bit == Gcmd::kWbf;
  const uint32_t cmd = on ? (gcmd_ | (1u << bit)) : (gcmd_ & ~(1u << bit));
  if (!one_shot) gcmd_ = cmd;
  regs_.Write32(kGcmdReg, cmd);
  for (int i = 0; i < 1000; ++i) {
    if (Bit(regs_.Read32(kGstsReg), bit) == on) return absl::OkStatus();
    if (!sim_.events().Step()) break;
  }
  return absl::DeadlineExceededError(absl::StrFormat("GSTS bit %d did not follow GCMD", bit));
}

absl::Status VtdDriver::Init() {
  cap_ = regs_.Read64(kCapReg);
  ecap_ = regs_.Read64(kEcapReg);
  if (!Bit(ecap_, Ecap::kSmts) || !Bit(ecap_, Ecap::kQi) || !Bit(ecap_, Ecap::kFlts) ||
      !Bit(ecap_, Ecap::kPasid)) {
    return absl::FailedPreconditionError("vtd: scalable mode, QI, first stage and PASID required");
  }
  // Root table (3.4.3), scalable mode (RTADDR.TTM = 01).
  absl::StatusOr<PhysAddr> root =
      alloc_.Allocate(mem::FrameUse::kIommuTable, "vtd_root_table", kNoSpace, true);
  if (!root.ok()) return root.status();
  root_ = *root;
  regs_.Write64(kRtaddrReg, root_.value() | (Rtaddr::kTtmScalable << Rtaddr::kTtmLo));
  if (absl::Status s = GlobalCommand(Gcmd::kSrtp, true); !s.ok()) return s;

  // Invalidation queue (6.5.2): 256-bit descriptors.
  iq_bytes_ = 4096ull << config_.iq_order;
  absl::StatusOr<PhysAddr> iq = alloc_.AllocateContiguous(1ull << config_.iq_order, iq_bytes_,
                                                          mem::FrameUse::kQueue, "vtd_iq");
  if (!iq.ok()) return iq.status();
  iq_ = *iq;
  absl::StatusOr<PhysAddr> status =
      alloc_.Allocate(mem::FrameUse::kQueue, "vtd_qi_status", kNoSpace, true);
  if (!status.ok()) return status.status();
  status_page_ = *status;
  regs_.Write64(kIqtReg, 0);
  regs_.Write64(kIqaReg, iq_.value() | (1ull << Iqa::kDw) | config_.iq_order);
  if (absl::Status s = GlobalCommand(Gcmd::kQie, true); !s.ok()) return s;
  iq_tail_ = 0;

  // Page request queue (7.5).
  if (Bit(ecap_, Ecap::kPrs)) {
    prq_bytes_ = 4096ull << config_.prq_order;
    absl::StatusOr<PhysAddr> prq = alloc_.AllocateContiguous(1ull << config_.prq_order, prq_bytes_,
                                                             mem::FrameUse::kQueue, "vtd_prq");
    if (!prq.ok()) return prq.status();
    prq_ = *prq;
    regs_.Write64(kPqhReg, 0);
    regs_.Write64(kPqaReg, prq_.value() | config_.prq_order);
  }
  // request_threaded_irq() for the fault and page request events.
  if (irqs_.fault != nullptr) {
    irqs_.fault->Request(nullptr, [this] { FaultThread(); });
    regs_.Write32(kFectlReg, 0);  // unmask
  }
  if (irqs_.prq != nullptr && prq_bytes_ != 0) {
    irqs_.prq->Request(nullptr, [this] { PrqThread(); });
    regs_.Write32(kPectlReg, 0);
  }
  // Global invalidation of every cache before enabling translation.
  const RawDesc descs[] = {
      ContextCacheDesc{.g = 1}.Encode(),
      PasidCacheDesc{.g = 3}.Encode(),
      IotlbDesc{.g = 1}.Encode(),
  };
  if (absl::Status s = SubmitSync(descs); !s.ok()) return s;
  return GlobalCommand(Gcmd::kTe, true);
}

void VtdDriver::WriteDesc(uint64_t offset, const RawDesc& d) {
  for (int i = 0; i < 4; ++i) mem_.Write64(iq_ + offset + 8 * i, d[i], CpuAccess());
}

// qi_submit_sync(): the descriptors, then a wait descriptor that writes
// QI_DONE into a status slot; IQT moves once; the caller polls the slot,
// running the event queue, and checks FSTS for IQE/ITE (qi_check_fault).
absl::Status VtdDriver::SubmitSync(std::span<const RawDesc> descs, bool prq_drain) {
  ++submissions_;
  const uint64_t need = (descs.size() + 1) * kDescSize;
  // Wait for room (one slot stays empty: head == tail means empty).
  for (size_t steps = 0;; ++steps) {
    const uint64_t head = regs_.Read64(kIqhReg);
    const uint64_t used = (iq_tail_ + iq_bytes_ - head) % iq_bytes_;
    if (iq_bytes_ - used > need) break;
    if (steps >= config_.qi_max_steps || !sim_.events().Step()) {
      return absl::ResourceExhaustedError("vtd: invalidation queue full");
    }
  }
  const PhysAddr slot = status_page_ + 4 * (status_slot_++ % 1024);
  mem_.Write32(slot, kQiInUse, CpuAccess());
  for (const RawDesc& d : descs) {
    WriteDesc(iq_tail_, d);
    iq_tail_ = (iq_tail_ + kDescSize) % iq_bytes_;
  }
  const RawDesc wait = WaitDesc{.sw = true, .fn = true, .pd = prq_drain,
                                .status_data = kQiDone, .status_addr = slot.value()}.Encode();
  WriteDesc(iq_tail_, wait);
  iq_tail_ = (iq_tail_ + kDescSize) % iq_bytes_;
  regs_.Write64(kIqtReg, iq_tail_);

  const uint64_t start = sim_.now();
  bool iqe_seen = false;
  for (size_t steps = 0;; ++steps) {
    const uint32_t fsts = regs_.Read32(kFstsReg);
    if (Bit(fsts, Fsts::kIqe)) {
      // qi_check_fault(): replace the bad descriptor by our wait descriptor
      // so the queue can move on, then clear IQE.
      const uint64_t head = regs_.Read64(kIqhReg);
      WriteDesc(head, wait);
      regs_.Write32(kFstsReg, 1u << Fsts::kIqe);
      iqe_seen = true;
    }
    if (Bit(fsts, Fsts::kIte)) {
      // The unit discarded everything pending (our wait included).
      regs_.Write32(kFstsReg, 1u << Fsts::kIte);
      iq_tail_ = regs_.Read64(kIqtReg);
      return absl::DeadlineExceededError("vtd: device-TLB invalidation time-out (ITE)");
    }
    if (mem_.Read32(slot, CpuAccess()) == kQiDone) {
      return iqe_seen ? absl::InvalidArgumentError("vtd: invalid descriptor (IQE)")
                      : absl::OkStatus();
    }
    if (steps >= config_.qi_max_steps || sim_.now() - start > config_.qi_timeout_cycles) break;
    if (!sim_.events().Step()) {
      return absl::InternalError("vtd: invalidation queue idle but wait not complete");
    }
  }
  return absl::DeadlineExceededError("vtd: qi_submit_sync timed out");
}

absl::Status VtdDriver::AttachDevice(StreamId rid_id, AttachOptions opts) {
  const uint16_t rid = static_cast<uint16_t>(rid_id.value());
  if (devices_.contains(rid)) return absl::AlreadyExistsError("device already attached");
  const uint8_t hw_bits = static_cast<uint8_t>(Bits(ecap_, Ecap::kPssHi, Ecap::kPssLo) + 1);
  if (opts.pasid_bits == 0 || opts.pasid_bits > hw_bits) {
    return absl::InvalidArgumentError("PASID width beyond the unit's");
  }
  if ((opts.ats && !Bit(ecap_, Ecap::kDt)) || (opts.pri && !Bit(ecap_, Ecap::kPrs))) {
    return absl::FailedPreconditionError("unit lacks device-TLB or page request support");
  }
  // Root entry: the lower (devfn < 128) or upper context table of the bus.
  const bool upper = SidDevfn(rid) >= 128;
  const uint16_t key = static_cast<uint16_t>(SidBus(rid) << 1 | upper);
  auto ct = context_tables_.find(key);
  if (ct == context_tables_.end()) {
    absl::StatusOr<PhysAddr> t =
        alloc_.Allocate(mem::FrameUse::kIommuTable, "vtd_context_table", kNoSpace, true);
    if (!t.ok()) return t.status();
    ct = context_tables_.emplace(key, *t).first;
    const PhysAddr re = root_ + kRootEntrySize * SidBus(rid);
    std::array<uint64_t, 2> raw{mem_.Read64(re, CpuAccess()), mem_.Read64(re + 8, CpuAccess())};
    SmRootEntry e = SmRootEntry::Decode(raw);
    (upper ? e.up : e.lp) = true;
    (upper ? e.uctp : e.lctp) = *t;
    raw = e.Encode();
    mem_.Write64(re, raw[0], CpuAccess());
    mem_.Write64(re + 8, raw[1], CpuAccess());
  }
  // intel_pasid_alloc_table(): 2^(bits-6) directory entries, at least one
  // page; PDTS = log2(entries) - 7.
  const uint32_t entries = opts.pasid_bits > 6 ? (1u << (opts.pasid_bits - 6)) : 1;
  const uint32_t frames = std::max<uint32_t>(1, entries * 8 / 4096);
  absl::StatusOr<PhysAddr> dir = alloc_.AllocateContiguous(
      frames, 4096ull * frames, mem::FrameUse::kIommuTable, "vtd_pasid_dir");
  if (!dir.ok()) return dir.status();
  for (uint32_t i = 0; i < frames; ++i) mem_.ZeroFrame(*dir + 4096ull * i);
  uint8_t pdts = 0;
  while ((1u << (pdts + 7)) < entries && pdts < 7) ++pdts;
  SmContextEntry ce{.p = true, .dte = opts.ats, .paside = true, .pre = opts.pri,
                    .pdts = pdts, .pasid_dir = *dir, .rid_pasid = opts.rid_pasid};
  const auto raw = ce.Encode();
  const PhysAddr ce_pa = ct->second + kSmContextEntrySize * (SidDevfn(rid) & 0x7f);
  for (int i = 3; i >= 0; --i) mem_.Write64(ce_pa + 8 * i, raw[i], CpuAccess());  // P last
  devices_[rid] = Device{opts, *dir, std::min<uint32_t>(entries, 1u << (pdts + 7))};
  return absl::OkStatus();
}

absl::StatusOr<PhysAddr> VtdDriver::PasidEntryAddress(const Device& d, uint32_t pasid,
                                                      bool allocate) {
  const PhysAddr de_pa = d.pasid_dir + kPasidDirEntrySize * (pasid >> 6);
  PasidDirEntry de = PasidDirEntry::Decode(mem_.Read64(de_pa, CpuAccess()));
  if (!de.p) {
    if (!allocate) return absl::NotFoundError("no PASID table");
    absl::StatusOr<PhysAddr> t =
        alloc_.Allocate(mem::FrameUse::kIommuTable, "vtd_pasid_table", kNoSpace, true);
    if (!t.ok()) return t.status();
    de = PasidDirEntry{.p = true, .table = *t};
    mem_.Write64(de_pa, de.Encode(), CpuAccess());
  }
  return de.table + kPasidEntrySize * (pasid & 63);
}

absl::StatusOr<PasidEntry> VtdDriver::FirstStageEntry(const Device& d, uint32_t pasid,
                                                      PhysAddr pgd, DomainId did,
                                                      const FirstStageOptions& opts) const {
  if ((pasid >> d.opts.pasid_bits) != 0)
    return absl::OutOfRangeError("PASID beyond the device's width");
  if (opts.levels != 4 && opts.levels != 5)
    return absl::InvalidArgumentError("levels must be 4 or 5");
  if (opts.levels == 5 && !Bit(cap_, Cap::kFl5lp))
    return absl::FailedPreconditionError("no 5-level first stage");
  if (opts.sre && !Bit(ecap_, Ecap::kSrs))
    return absl::FailedPreconditionError("no supervisor requests");
  if (opts.ere && !Bit(ecap_, Ecap::kErs))
    return absl::FailedPreconditionError("no execute requests");
  return PasidEntry{.p = true, .aw = 2, .pgtt = static_cast<uint8_t>(Pgtt::kFirstStage),
                    .did = static_cast<uint16_t>(did.value()), .sre = opts.sre, .ere = opts.ere,
                    .fspm = static_cast<uint8_t>(opts.levels == 5 ? 1 : 0), .wpe = opts.sre,
                    .fsptptr = pgd};
}

absl::Status VtdDriver::SetupFirstStagePasid(StreamId rid_id, Pasid pasid_id, PhysAddr pgd,
                                             DomainId did, FirstStageOptions opts) {
  return InstallFirstStage(rid_id, pasid_id, pgd, did, opts, /*replace=*/false);
}

absl::Status VtdDriver::InstallFirstStage(StreamId rid_id, Pasid pasid_id, PhysAddr pgd,
                                          DomainId did, FirstStageOptions opts, bool replace) {
  const uint16_t rid = static_cast<uint16_t>(rid_id.value());
  auto dev = devices_.find(rid);
  if (dev == devices_.end()) return absl::NotFoundError("device not attached");
  absl::StatusOr<PasidEntry> pe = FirstStageEntry(dev->second, pasid_id.value(), pgd, did, opts);
  if (!pe.ok()) return pe.status();
  return InstallPasidEntry(rid, pasid_id.value(), *pe, replace);
}

void VtdDriver::AppendDevTlb(uint16_t did, uint32_t pasid, uint64_t addr, uint64_t size,
                             std::vector<RawDesc>* out) const {
  for (const auto& [key, b] : bindings_) {
    if (key.second != pasid || b.did != did) continue;
    auto dev = devices_.find(key.first);
    if (dev == devices_.end() || !dev->second.opts.ats) continue;
    PdevTlbDesc d{.sid = key.first, .pasid = pasid};
    if (size == 0) {
      d.s = true;
      d.addr = BitMask(62, 12);  // whole space (PCIe 10.3.1 S encoding)
    } else if (size > 4096) {
      d.s = true;
      d.addr = addr | ((size / 2 - 1) & BitMask(63, 12));
    } else {
      d.addr = addr;
    }
    out->push_back(d.Encode());
  }
}

absl::Status VtdDriver::TearDownPasid(StreamId rid_id, Pasid pasid_id, bool suppress_faults) {
  const uint16_t rid = static_cast<uint16_t>(rid_id.value());
  const uint32_t pasid = pasid_id.value();
  auto dev = devices_.find(rid);
  if (dev == devices_.end()) return absl::NotFoundError("device not attached");
  absl::StatusOr<PhysAddr> pe_pa = PasidEntryAddress(dev->second, pasid, /*allocate=*/false);
  if (!pe_pa.ok()) return pe_pa.status();
  std::array<uint64_t, 8> raw{};
  for (int i = 0; i < 8; ++i) raw[i] = mem_.Read64(*pe_pa + 8 * i, CpuAccess());
  const PasidEntry old = PasidEntry::Decode(raw);
  if (!old.p) return absl::NotFoundError("PASID entry not present");
  // pasid_clear_entry_with_fpd() / pasid_clear_entry(): P first.
  mem_.Write64(*pe_pa, suppress_faults ? 2u : 0u, CpuAccess());
  for (int i = 1; i < 8; ++i) mem_.Write64(*pe_pa + 8 * i, 0, CpuAccess());
  std::vector<RawDesc> descs = {
      PasidCacheDesc{.g = 1, .did = old.did, .pasid = pasid}.Encode(),
      PiotlbDesc{.g = PiotlbDesc::kNonGlobalPasid, .did = old.did, .pasid = pasid}.Encode(),
  };
  AppendDevTlb(old.did, pasid, 0, 0, &descs);
  bindings_.erase({rid, pasid});
  return SubmitSync(descs);
}

absl::Status VtdDriver::FlushPasidRange(DomainId did_id, Pasid pasid_id, VirtAddr start,
                                        VirtAddr end, bool page_tables_freed) {
  if (end <= start) return absl::InvalidArgumentError("empty range");
  const uint16_t did = static_cast<uint16_t>(did_id.value());
  const uint32_t pasid = pasid_id.value();
  uint64_t base;
  uint8_t am;
  PsiAligned(start.value(), end.value(), &base, &am);
  std::vector<RawDesc> descs;
  if (am > Bits(cap_, Cap::kMamvHi, Cap::kMamvLo)) {
    return FlushPasidAll(did_id, pasid_id);
  }
  descs.push_back(PiotlbDesc{.g = PiotlbDesc::kPageSelective, .did = did, .pasid = pasid,
                             .am = am, .ih = !page_tables_freed, .addr = base}.Encode());
  AppendDevTlb(did, pasid, base, 4096ull << am, &descs);
  return SubmitSync(descs);
}

absl::Status VtdDriver::FlushPasidAll(DomainId did_id, Pasid pasid_id) {
  const uint16_t did = static_cast<uint16_t>(did_id.value());
  std::vector<RawDesc> descs = {
      PiotlbDesc{.g = PiotlbDesc::kNonGlobalPasid, .did = did, .pasid = pasid_id.value()}.Encode()};
  AppendDevTlb(did, pasid_id.value(), 0, 0, &descs);
  return SubmitSync(descs);
}

absl::Status VtdDriver::DrainPasidPrq(StreamId rid_id, Pasid pasid_id) {
  const uint16_t rid = static_cast<uint16_t>(rid_id.value());
  const uint32_t pasid = pasid_id.value();
  if (prq_bytes_ == 0) return absl::OkStatus();
  auto b = bindings_.find({rid, pasid});
  const uint16_t did = b != bindings_.end() ? b->second.did : 0;
  for (int round = 0; round < 16; ++round) {
    // Wait until no request of this PASID is left in the queue.
    SynchronizeIrqs();
    PrqThread();
    std::vector<RawDesc> descs = {
        PiotlbDesc{.g = PiotlbDesc::kNonGlobalPasid, .did = did, .pasid = pasid}.Encode()};
    AppendDevTlb(did, pasid, 0, 0, &descs);
    // The wait descriptor carries PD: page requests received before it are
    // in the PRQ when it completes.
    if (absl::Status s = SubmitSync(descs, /*prq_drain=*/true); !s.ok()) return s;
    if (!Bit(regs_.Read32(kPrsReg), Prs::kPro)) {
      PrqThread();
      return absl::OkStatus();
    }
    PrqThread();  // overflowed meanwhile: drain again
  }
  return absl::DeadlineExceededError("vtd: PRQ drain did not settle");
}

void VtdDriver::SynchronizeIrqs() {
  if (irqs_.fault != nullptr) irqs_.fault->SynchronizeIrq();
  if (irqs_.prq != nullptr) irqs_.prq->SynchronizeIrq();
}

// prq_event_thread(): clear PPR first so a new request raises a new event,
// then consume [PQH, PQT).
void VtdDriver::PrqThread() {
  if (prq_bytes_ == 0) return;
  regs_.Write32(kPrsReg, 1u << Prs::kPpr);
  uint64_t head = regs_.Read64(kPqhReg) % prq_bytes_;
  const uint64_t tail = regs_.Read64(kPqtReg) % prq_bytes_;
  while (head != tail) {
    RawDesc raw{};
    for (int i = 0; i < 4; ++i) raw[i] = mem_.Read64(prq_ + head + 8 * i, CpuAccess());
    const PageRequestDesc d = PageRequestDesc::Decode(raw);
    head = (head + kPageRequestDescSize) % prq_bytes_;
    const bool canonical = SignExtend(d.addr, 47) == d.addr || SignExtend(d.addr, 56) == d.addr;
    if (!d.pasid_present || !canonical || sink_ == nullptr || !devices_.contains(d.rid)) {
      // handle_bad_prq_event(): answer the group if this ends it.
      if (d.lpig) {
        const RawDesc r = PageGroupResponseDesc{.pasid_present = d.pasid_present,
                                                .code = PageGroupResponseDesc::kInvalidRequest,
                                                .rid = d.rid, .pasid = d.pasid, .lpig = true,
                                                .prgi = d.prgi}.Encode();
        ++responses_sent_;
        (void)SubmitSync(std::span<const RawDesc>(&r, 1));
      }
      continue;
    }
    IopfFault f;
    f.flags = kIopfPasidValid | (d.lpig ? kIopfLastPage : 0) | (d.pdp ? kIopfPrivData : 0);
    f.pasid = Pasid(d.pasid);
    f.grpid = d.prgi;
    f.perm = (d.rd ? kIopfPermRead : 0) | (d.wr ? kIopfPermWrite : 0) |
             (d.exe ? kIopfPermExec : 0) | (d.priv ? kIopfPermPriv : 0);
    f.addr = VirtAddr(d.addr);
    f.private_data[0] = d.priv_data[0];
    f.private_data[1] = d.priv_data[1];
    ++prq_reported_;
    sink_->ReportFault(FaultSource{config_.unit, StreamId(d.rid)}, f);
  }
  regs_.Write64(kPqhReg, tail);
  // Overflow: clear PRO once the queue is empty (prq_event_thread).
  if (Bit(regs_.Read32(kPrsReg), Prs::kPro) &&
      regs_.Read64(kPqhReg) == regs_.Read64(kPqtReg)) {
    regs_.Write32(kPrsReg, 1u << Prs::kPro);
  }
}

// intel_iommu_page_response().
void VtdDriver::PageResponse(const FaultSource& src, const IopfFault& last,
                             PageResponseCode code) {
  PageGroupResponseDesc r;
  r.pasid_present = (last.flags & kIopfPasidValid) != 0;
  r.pdp = (last.flags & kIopfPrivData) != 0;
  r.rid = static_cast<uint16_t>(src.rid.value());
  r.pasid = last.pasid.value();
  r.lpig = (last.flags & kIopfLastPage) != 0;
  r.prgi = static_cast<uint16_t>(last.grpid & 0x1ff);
  r.priv_data[0] = last.private_data[0];
  r.priv_data[1] = last.private_data[1];
  r.code = code == PageResponseCode::kSuccess   ? PageGroupResponseDesc::kSuccess
           : code == PageResponseCode::kInvalid ? PageGroupResponseDesc::kInvalidRequest
                                                : PageGroupResponseDesc::kResponseFailure;
  const RawDesc d = r.Encode();
  ++responses_sent_;
  absl::Status s = SubmitSync(std::span<const RawDesc>(&d, 1));
  if (!s.ok()) GetLogger("vtd")->warn("page response failed: {}", s.ToString());
}

// dmar_fault(): read every pending fault recording register from FRI on,
// clear each F, then PFO.
void VtdDriver::FaultThread() {
  const uint32_t fsts = regs_.Read32(kFstsReg);
  const uint32_t nfr = static_cast<uint32_t>(Bits(cap_, Cap::kNfrHi, Cap::kNfrLo) + 1);
  const uint32_t fro = static_cast<uint32_t>(Bits(cap_, Cap::kFroHi, Cap::kFroLo) * 16);
  if (Bit(fsts, Fsts::kPpf)) {
    uint32_t i = static_cast<uint32_t>(Bits(fsts, Fsts::kFriHi, Fsts::kFriLo));
    for (uint32_t n = 0; n < nfr; ++n, i = (i + 1) % nfr) {
      const uint64_t hi = regs_.Read64(fro + 16 * i + 8);
      if (!Bit(hi, Frcd::kF)) break;
      const uint64_t lo = regs_.Read64(fro + 16 * i);
      faults_.push_back(RecordedFault{
          .reason = static_cast<FaultReason>(Bits(hi, Frcd::kFrHi, Frcd::kFrLo)),
          .sid = static_cast<uint16_t>(Bits(hi, Frcd::kSidHi, Frcd::kSidLo)),
          .has_pasid = Bit(hi, Frcd::kPp),
          .pasid = static_cast<uint32_t>(Bits(hi, Frcd::kPvHi, Frcd::kPvLo)),
          .addr = lo & BitMask(63, 12),
          .write = !Bit(hi, Frcd::kT),
          .priv = Bit(hi, Frcd::kPriv),
          .exec = Bit(hi, Frcd::kExe)});
      regs_.Write64(fro + 16 * i + 8, 1ull << Frcd::kF);
    }
  }
  if (Bit(fsts, Fsts::kPfo)) regs_.Write32(kFstsReg, 1u << Fsts::kPfo);
}

}  // namespace svaemu::kernel::vtd
