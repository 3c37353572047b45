// SmmuV3Driver: probe, queues, command submission and invalidation.
#include "svaemu/kernel/drivers/smmuv3/driver.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "absl/strings/str_cat.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel::drivers::smmuv3 {

using namespace ::svaemu::hw::smmuv3;  // NOLINT: spec names throughout

namespace {
mem::Access CpuAccess() { return mem::Access::Cpu(Purpose::kData); }
}  // namespace

SmmuV3Driver::SmmuV3Driver(sim::Simulation& sim, mem::FrameAllocator& alloc,
                           hw::MmioDevice& mmio, SmmuV3IrqLines irqs,
                           SmmuV3DriverConfig config)
    : sim_(sim), alloc_(alloc), mmio_(mmio), irqs_(irqs), config_(config),
      log_(GetLogger("smmuv3")) {}

SmmuV3Driver::~SmmuV3Driver() {
  for (sim::IrqLine* l : {irqs_.evtq, irqs_.priq, irqs_.cmd_sync, irqs_.gerror,
                          irqs_.combined}) {
    if (l != nullptr && l->requested()) l->Request(nullptr, nullptr);
  }
}

absl::StatusOr<std::unique_ptr<SmmuV3Driver>> SmmuV3Driver::Probe(
    sim::Simulation& sim, mem::FrameAllocator& alloc, hw::MmioDevice& mmio,
    SmmuV3IrqLines irqs, SmmuV3DriverConfig config) {
  std::unique_ptr<SmmuV3Driver> d(
      new SmmuV3Driver(sim, alloc, mmio, irqs, config));
  absl::Status s = d->Init();
  if (!s.ok()) return s;
  return d;
}

StallModel SmmuV3Driver::stall_model() const {
  return static_cast<StallModel>(idr0::kStallModel.Get(idr0_));
}

absl::StatusOr<PhysAddr> SmmuV3Driver::AllocTable(uint64_t bytes,
                                                  mem::FrameUse use,
                                                  const char* site) {
  if (bytes <= kPageSize4K) return alloc_.Allocate(use, site, kNoSpace, /*zero=*/true);
  const uint64_t frames = (bytes + kPageSize4K - 1) / kPageSize4K;
  // Fresh memory reads as zero; queues and tables are aligned to their size.
  return alloc_.AllocateContiguous(frames, std::bit_ceil(bytes), use, site);
}

absl::Status SmmuV3Driver::Init() {
  if (EffectiveSplit(config_.strtab_split) != config_.strtab_split) {
    return absl::InvalidArgumentError("strtab_split must be 6, 8 or 10 (6.3.25)");
  }
  // arm_smmu_device_hw_probe(): 6.3.1, 6.3.2, 6.3.6.
  idr0_ = mmio_.Read32(kIdr0);
  idr1_ = mmio_.Read32(kIdr1);
  idr5_ = mmio_.Read32(kIdr5);
  if (!idr0::kS1p.Get(idr0_) || (idr0::kTtf.Get(idr0_) & 0b10) == 0 ||
      !idr5::kGran4k.Get(idr5_)) {
    return absl::FailedPreconditionError(
        "SMMUv3 without stage 1, AArch64 tables or the 4 KiB granule");
  }
  sid_bits_ = static_cast<uint8_t>(idr1::kSidsize.Get(idr1_));
  ssid_bits_ = static_cast<uint8_t>(idr1::kSsidsize.Get(idr1_));
  oas_bits_ = static_cast<uint8_t>(AddressSizeBits(idr5::kOas.Get(idr5_)));
  // arm_smmu_device_hw_probe(): a 2-level table only when the StreamIDs
  // do not fit one level-2 table (SPLIT is 6, 8 or 10: 6.3.25).
  two_level_ = idr0::kStLevel.Get(idr0_) == 1 && sid_bits_ > config_.strtab_split;
  config_.cmdq_log2 = std::min<uint8_t>(config_.cmdq_log2,
                                        static_cast<uint8_t>(idr1::kCmdqs.Get(idr1_)));
  config_.evtq_log2 = std::min<uint8_t>(config_.evtq_log2,
                                        static_cast<uint8_t>(idr1::kEvtqs.Get(idr1_)));
  config_.priq_log2 = std::min<uint8_t>(config_.priq_log2,
                                        static_cast<uint8_t>(idr1::kPriqs.Get(idr1_)));

  // arm_smmu_device_disable().
  mmio_.Write32(kCr0, 0);

  // arm_smmu_init_queues().
  auto q = AllocTable(16ull << config_.cmdq_log2, mem::FrameUse::kQueue, "arm_smmu_init_one_queue");
  if (!q.ok()) return q.status();
  cmdq_ = *q;
  q = AllocTable(32ull << config_.evtq_log2, mem::FrameUse::kQueue, "arm_smmu_init_one_queue");
  if (!q.ok()) return q.status();
  evtq_ = *q;
  const bool pri = idr0::kPri.Get(idr0_) != 0;
  if (pri) {
    q = AllocTable(16ull << config_.priq_log2, mem::FrameUse::kQueue, "arm_smmu_init_one_queue");
    if (!q.ok()) return q.status();
    priq_ = *q;
  }

  // arm_smmu_init_strtab(): 5.1.
  uint64_t cfg = 0;
  if (two_level_) {
    const uint8_t split = config_.strtab_split;
    auto t = AllocTable(8ull << (sid_bits_ - split), mem::FrameUse::kIommuTable,
                        "arm_smmu_init_strtab_2lvl");
    if (!t.ok()) return t.status();
    strtab_ = *t;
    cfg = strtab_base_cfg::kFmt.Set(cfg, 0b01);
    cfg = strtab_base_cfg::kSplit.Set(cfg, split);
    cfg = strtab_base_cfg::kLog2size.Set(cfg, sid_bits_);
  } else {
    sid_bits_ = std::min(sid_bits_, config_.linear_sid_bits);
    auto t = AllocTable(64ull << sid_bits_, mem::FrameUse::kIommuTable,
                        "arm_smmu_init_strtab_linear");
    if (!t.ok()) return t.status();
    strtab_ = *t;
    cfg = strtab_base_cfg::kLog2size.Set(cfg, sid_bits_);
  }

  // arm_smmu_device_reset(): 6.3.24-6.3.35, then the enables.
  mmio_.Write64(kStrtabBase, strtab_base::kRa.Set(strtab_.value(), 1));
  mmio_.Write32(kStrtabBaseCfg, static_cast<uint32_t>(cfg));
  mmio_.Write64(kCmdqBase, queue_base::kLog2size.Set(cmdq_.value(), config_.cmdq_log2));
  mmio_.Write32(kCmdqProd, 0);
  mmio_.Write32(kCmdqCons, 0);
  uint32_t cr0 = static_cast<uint32_t>(cr0::kCmdqen.Set(0, 1));
  mmio_.Write32(kCr0, cr0);
  // Invalidate any cached configuration and TLB entries.
  absl::Status s = Submit({MakeCfgiAll(), MakeTlbiNsnhAll()});
  if (!s.ok()) return s;

  mmio_.Write64(kEvtqBase, queue_base::kLog2size.Set(evtq_.value(), config_.evtq_log2));
  mmio_.Write32(kEvtqProd, 0);
  mmio_.Write32(kEvtqCons, 0);
  cr0 = static_cast<uint32_t>(cr0::kEvtqen.Set(cr0, 1));
  mmio_.Write32(kCr0, cr0);
  if (pri) {
    mmio_.Write64(kPriqBase, queue_base::kLog2size.Set(priq_.value(), config_.priq_log2));
    mmio_.Write32(kPriqProd, 0);
    mmio_.Write32(kPriqCons, 0);
    cr0 = static_cast<uint32_t>(cr0::kPriqen.Set(cr0, 1));
    mmio_.Write32(kCr0, cr0);
  }
  // arm_smmu_setup_irqs(): wired (or MSI routed to the same lines).
  RequestIrqs();
  uint64_t irq = irq_ctrl::kGerrorIrqen.Set(0, 1);
  irq = irq_ctrl::kEvtqIrqen.Set(irq, 1);
  if (pri) irq = irq_ctrl::kPriqIrqen.Set(irq, 1);
  mmio_.Write32(kIrqCtrl, static_cast<uint32_t>(irq));
  if (mmio_.Read32(kIrqCtrlAck) != irq) return absl::InternalError("IRQ_CTRLACK mismatch");
  // 6.3.12: record C_BAD_STREAMID.
  mmio_.Write32(kCr2, static_cast<uint32_t>(cr2::kRecinvsid.Set(0, 1)));
  cr0 = static_cast<uint32_t>(cr0::kSmmuen.Set(cr0, 1));
  mmio_.Write32(kCr0, cr0);
  if (mmio_.Read32(kCr0Ack) != cr0) return absl::InternalError("CR0ACK mismatch");
  return absl::OkStatus();
}

absl::Status SmmuV3Driver::WaitFor(const std::function<bool()>& done,
                                   const char* what) {
  size_t steps = 0;
  while (!done()) {
    if (steps++ >= config_.max_wait_steps) {
      return absl::DeadlineExceededError(absl::StrCat("smmuv3: timed out waiting for ", what));
    }
    if (!sim_.events().Step()) {
      return absl::FailedPreconditionError(
          absl::StrCat("smmuv3: nothing left to run while waiting for ", what));
    }
  }
  return absl::OkStatus();
}

absl::Status SmmuV3Driver::Issue(const Command& cmd) {
  const uint32_t wrap = 1u << config_.cmdq_log2;
  const uint32_t mask = 2 * wrap - 1;
  auto space = [&] {
    const uint32_t cons = mmio_.Read32(kCmdqCons) & mask;
    return ((cmdq_prod_ ^ cons) & mask) != wrap;  // not full (3.5)
  };
  absl::Status s = WaitFor(space, "command queue space");
  if (!s.ok()) return s;
  const PhysAddr slot = cmdq_ + 16ull * (cmdq_prod_ & (wrap - 1));
  sim_.Trace("smmuv3_driver", OpcodeName(cmd.opcode()));
  alloc_.mem().Write64(slot, cmd.dw[0], CpuAccess());
  alloc_.mem().Write64(slot + 8, cmd.dw[1], CpuAccess());
  cmdq_prod_ = (cmdq_prod_ + 1) & mask;
  mmio_.Write32(kCmdqProd, cmdq_prod_);
  return absl::OkStatus();
}

absl::Status SmmuV3Driver::Sync() {
  absl::Status s = Issue(MakeSync(SyncCs::kNone));
  if (!s.ok()) return s;
  const uint32_t wrap = 1u << config_.cmdq_log2;
  const uint32_t mask = 2 * wrap - 1;
  const uint32_t target = cmdq_prod_;  // one past the SYNC
  // queue_consumed(): CONS has reached or passed `target` (same wrap and
  // index >= target, or different wrap and index < target).
  auto consumed = [&] {
    const uint32_t cons = mmio_.Read32(kCmdqCons) & mask;
    const bool same_wrap = ((cons ^ target) & wrap) == 0;
    const uint32_t ci = cons & (wrap - 1), ti = target & (wrap - 1);
    return same_wrap ? ci >= ti : ci < ti;
  };
  return WaitFor(consumed, "CMD_SYNC");
}

absl::Status SmmuV3Driver::Submit(const std::vector<Command>& cmds, bool sync) {
  for (const Command& c : cmds) {
    absl::Status s = Issue(c);
    if (!s.ok()) return s;
  }
  return sync ? Sync() : absl::OkStatus();
}

absl::Status SmmuV3Driver::TlbiAsid(Asid asid) {
  return Submit({MakeTlbiNhAsid(asid)});
}

absl::Status SmmuV3Driver::TlbiVa(Asid asid, VirtAddr va, uint64_t size,
                                  bool leaf, uint8_t ttl) {
  // __arm_smmu_tlb_inv_range() with IDR3.RIL: each command covers
  // (NUM+1) << SCALE pages (4.4.1.1).
  uint64_t pages = std::max<uint64_t>(1, (size + kPageSize4K - 1) / kPageSize4K);
  VirtAddr addr = va.AlignDown(kPageSize4K);
  std::vector<Command> cmds;
  if (pages == 1 && ttl == 0) {
    cmds.push_back(MakeTlbiNhVa(asid, addr, leaf));
  } else {
    while (pages > 0) {
      const unsigned scale = static_cast<unsigned>(std::countr_zero(pages));
      const uint64_t num = (pages >> scale) & 31;  // >= 1: bit `scale` is set
      TlbiRange r{.num = static_cast<uint8_t>(num - 1),
                  .scale = static_cast<uint8_t>(scale), .tg = 0b01, .ttl = ttl};
      cmds.push_back(MakeTlbiNhVa(asid, addr, leaf, r));
      const uint64_t done = num << scale;
      pages -= done;
      addr += done * kPageSize4K;
    }
  }
  return Submit(cmds);
}

absl::Status SmmuV3Driver::AtcInvalidate(StreamId sid, std::optional<uint32_t> ssid,
                                         VirtAddr va, uint64_t size) {
  // arm_smmu_atc_inv_to_cmd(): the smallest naturally aligned power-of-two
  // span of pages covering the range; size 0 means everything.
  uint8_t log2 = 52;
  VirtAddr base(0);
  if (size != 0) {
    const uint64_t first = va.value() >> 12;
    const uint64_t last = (va.value() + size - 1) >> 12;
    log2 = static_cast<uint8_t>(64 - std::countl_zero(first ^ last));
    base = VirtAddr((first >> log2) << (log2 + 12));
  }
  return Submit({MakeAtcInv(sid, ssid.has_value(), ssid.value_or(0), base, log2)});
}

}  // namespace svaemu::kernel::drivers::smmuv3
