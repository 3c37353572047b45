// Vtd translation: the slow path behind the inline IOTLB hit check, the
// configuration fetch (root, context, PASID directory, PASID entry), the
// first-stage walk with paging-structure caches, and the PCIe port.
#include <algorithm>
#include <type_traits>

#include "svaemu/arch/x86_64.h"
#include "svaemu/hw/vtd/vtd.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::vtd {
namespace {

// 3.15: the interrupt address range, 0xFEE0_0000-0xFEEF_FFFF.
constexpr uint64_t kInterruptBase = 0xfee00000, kInterruptEnd = 0xfef00000;
constexpr bool InInterruptRange(uint64_t addr) {
  return addr >= kInterruptBase && addr < kInterruptEnd;
}

// Records the entries a walk reads, so the paging-structure caches can be
// filled with the non-leaf ones (6.2.4.2): by level, since a walk reads one
// entry per level from its start down. A restarted walk (A/D race) starts
// over at the start level and overwrites; `low` is the last level read, so
// the fill is levels (low, start]. Only the entries are kept (each fill's
// rights are recomputed from them, PreparedWalker::Narrow), so the inlined
// walk stores one word per level.
struct PscFillObserver {
  explicit PscFillObserver(uint8_t start_level) : low(start_level) {}
  uint8_t low;  // the start level until a read: no fill
  uint64_t entry[5];
  [[gnu::always_inline]] void OnRead(const arch::LevelRead& r) {
    entry[r.level - 1] = r.entry;
    low = r.level;
  }
};

// `levels`: the paging mode's (4 or 5): an access error on the top-level
// entry, read through FSPTPTR, is SFS.4; below it SFS.1.
FaultReason WalkFaultReason(const arch::WalkResult& w, uint8_t levels) {
  switch (w.fault) {
    case arch::FaultKind::kNonCanonical: return FaultReason::kNonCanonical;   // SGN.1
    case arch::FaultKind::kNotPresent: return FaultReason::kFsNotPresent;     // SFS.2
    case arch::FaultKind::kReservedBit: return FaultReason::kFsReserved;      // SFS.3
    case arch::FaultKind::kBusError:
      return w.level == levels ? FaultReason::kFsRootAccessError  // SFS.4
                               : FaultReason::kFsAccessError;     // SFS.1
    case arch::FaultKind::kUpdateFailed:
      return FaultReason::kFsAdUpdateFailed;  // SFS.10
    case arch::FaultKind::kPermission:
      switch (w.perm) {
        case arch::PermFault::kUser: return FaultReason::kUserToSupervisor;   // SGN.2
        case arch::PermFault::kWrite: return FaultReason::kWriteDenied;       // SGN.6
        case arch::PermFault::kExec: return FaultReason::kExecuteDenied;      // SGN.3
        case arch::PermFault::kNone:
        case arch::PermFault::kPan:
          break;  // (arm64 only)
      }
      return FaultReason::kReadDenied;
    default: return FaultReason::kFsReserved;
  }
}

constexpr unsigned kIotlbShift[3] = {12, 21, 30};

// An IOTLB line's deny mask (Vtd::kNeed*) from the walk's cumulative
// rights (arch::PermsIndex bits, 0..15) and the leaf's D bit (index bit 4):
// a write needs W and a dirty page (6.2.3: a clean page cannot serve a
// write from the cache), a user request U/S, an execute request both
// execute rights.
struct IotlbDenyTable {
  uint8_t v[32];
};
constexpr IotlbDenyTable MakeIotlbDenyTable(uint8_t need_write, uint8_t need_user,
                                            uint8_t need_exec) {
  IotlbDenyTable t{};
  constexpr uint32_t kExec = arch::kPermIndexExecUser | arch::kPermIndexExecPriv;
  for (uint32_t i = 0; i < 32; ++i) {
    const uint32_t perms = i & 15;
    const bool dirty = (i & 16) != 0;
    const bool writable = (perms & arch::kPermIndexWrite) != 0;
    t.v[i] = static_cast<uint8_t>(((writable && dirty) ? 0 : need_write) |
                                  ((perms & arch::kPermIndexUser) != 0 ? 0 : need_user) |
                                  ((perms & kExec) == kExec ? 0 : need_exec));
  }
  return t;
}

// The address bits a paging-structure entry of `level` covers start here.
constexpr unsigned PscShift(unsigned level) { return 12 + 9 * (level - 1); }
// A level as a type, so that a per-level step is compiled once per level.
template <unsigned kLevel>
constexpr std::integral_constant<unsigned, kLevel> kLevelC{};

}  // namespace

[[gnu::always_inline]] inline uint8_t Vtd::IotlbDeny(uint32_t index) {
  static constexpr IotlbDenyTable kTable =
      MakeIotlbDenyTable(kNeedWrite, kNeedUser, kNeedExec);
  return kTable.v[index & 31];
}

// 3.4.3: the root entry for the bus, then the scalable-mode context entry
// for devfn (lower table for devfn 0-127, upper for 128-255).
const Vtd::ContextData* Vtd::FetchContext(uint16_t sid, uint32_t* cycles,
                                          FaultReason* fault, bool* fpd) {
  const uint64_t tag = ContextTag(sid);
  *cycles += static_cast<uint32_t>(sim_.cost().cache_lookup);
  if (const ContextData* c = context_cache_.Lookup(tag, 0)) return c;
  mem::Access a;
  a.agent = Agent::Iommu(config_.unit);
  a.purpose = Purpose::kTableFetch;
  const PhysAddr root_table(active_rtaddr_ & BitMask(63, 12));
  const PhysAddr re_pa = root_table + kRootEntrySize * SidBus(sid);
  std::array<uint64_t, 2> re{};
  bool ok = mem_.Read64(re_pa, a, &re[0]) && mem_.Read64(re_pa + 8, a, &re[1]);
  *cycles += static_cast<uint32_t>(2 * sim_.cost().mem_read);
  if (!ok) { *fault = FaultReason::kRootAccessError; return nullptr; }
  // 9.2: the half for devfn; its present bit first, then its reserved
  // bits (the other half is not looked at).
  const SmRootEntry root = SmRootEntry::Decode(re);
  const bool upper = SidDevfn(sid) >= 128;
  if (!(upper ? root.up : root.lp)) { *fault = FaultReason::kRootNotPresent; return nullptr; }
  // 9.2, 9.4, 9.5: a table pointer's bits above HAW are reserved too.
  if (SmRootEntry::ReservedBits(re, upper) ||
      ((upper ? root.uctp : root.lctp).value() >> config_.haw) != 0) {
    *fault = FaultReason::kRootReserved;
    return nullptr;
  }
  const PhysAddr ce_pa = (upper ? root.uctp : root.lctp) +
                         kSmContextEntrySize * (SidDevfn(sid) & 0x7f);
  std::array<uint64_t, 4> raw{};
  for (int i = 0; i < 4; ++i) ok &= mem_.Read64(ce_pa + 8 * i, a, &raw[i]);
  *cycles += static_cast<uint32_t>(4 * sim_.cost().mem_read);
  if (!ok) { *fault = FaultReason::kContextAccessError; return nullptr; }
  const SmContextEntry ce = SmContextEntry::Decode(raw);
  // 9.4: FPD is honoured whether or not P is set (Linux writes FPD-only
  // entries on teardown).
  *fpd |= ce.fpd;
  if (!ce.p) { *fault = FaultReason::kContextNotPresent; return nullptr; }
  if (SmContextEntry::ReservedBits(raw) || (ce.pasid_dir.value() >> config_.haw) != 0) {
    *fault = FaultReason::kContextReserved;
    return nullptr;
  }
  // 6.2.1: only present, valid entries are cached.
  return context_cache_.Insert(tag, 0, ContextData{ce});
}

// 3.4.3 / 9.5 / 9.6: PASID directory entry, then the PASID table entry.
Vtd::PasidData* Vtd::FetchPasid(uint16_t sid, const SmContextEntry& ce,
                                      bool has_pasid, uint32_t pasid_in,
                                      uint32_t* cycles, FaultReason* fault,
                                      bool* fpd) {
  const uint64_t tag = PasidTag(sid, has_pasid, pasid_in);
  *cycles += static_cast<uint32_t>(sim_.cost().cache_lookup);
  if (PasidData* p = pasid_cache_.Lookup(tag, 0)) return p;
  const uint32_t pasid = has_pasid ? pasid_in : ce.rid_pasid;
  if (has_pasid && !ce.paside) { *fault = FaultReason::kContextPasidDisabled; return nullptr; }
  if ((pasid >> 6) >= ce.dir_entries() || (pasid >> config_.pasid_bits) != 0) {
    // SCT.7 for a request's PASID, SCT.9 for the context's RID_PASID.
    *fault = has_pasid ? FaultReason::kPasidTooLarge : FaultReason::kRidPasidError;
    return nullptr;
  }
  mem::Access a;
  a.agent = Agent::Iommu(config_.unit);
  a.purpose = Purpose::kTableFetch;
  uint64_t de_raw = 0;
  bool ok = mem_.Read64(ce.pasid_dir + kPasidDirEntrySize * (pasid >> 6), a, &de_raw);
  *cycles += static_cast<uint32_t>(sim_.cost().mem_read);
  if (!ok) { *fault = FaultReason::kPasidDirAccessError; return nullptr; }
  const PasidDirEntry de = PasidDirEntry::Decode(de_raw);
  *fpd |= de.fpd;
  if (!de.p) { *fault = FaultReason::kPasidDirNotPresent; return nullptr; }
  if (PasidDirEntry::ReservedBits(de_raw) || (de.table.value() >> config_.haw) != 0) {
    *fault = FaultReason::kPasidDirReserved;
    return nullptr;
  }
  std::array<uint64_t, 8> raw{};
  const PhysAddr pe_pa = de.table + kPasidEntrySize * (pasid & 63);
  for (int i = 0; i < 8; ++i) ok &= mem_.Read64(pe_pa + 8 * i, a, &raw[i]);
  *cycles += static_cast<uint32_t>(8 * sim_.cost().mem_read);
  if (!ok) { *fault = FaultReason::kPasidAccessError; return nullptr; }
  const PasidEntry pe = PasidEntry::Decode(raw);
  *fpd |= pe.fpd;  // 9.6: evaluated even when P=0
  if (!pe.p) { *fault = FaultReason::kPasidNotPresent; return nullptr; }
  // EAFE is reserved without ECAP.EAFS, SRE without SRS and ERE without
  // ERS (SPT.3).
  if (PasidEntry::ReservedBits(raw) || pe.eafe || (pe.sre && !config_.supervisor_requests) ||
      (pe.ere && !config_.execute_requests)) {
    *fault = FaultReason::kPasidReserved;
    return nullptr;
  }
  const bool fs = pe.pgtt == static_cast<uint8_t>(Pgtt::kFirstStage);
  const bool pt = pe.pgtt == static_cast<uint8_t>(Pgtt::kPassThrough) && config_.pass_through;
  if (!fs && !pt) { *fault = FaultReason::kPasidInvalid; return nullptr; }  // SPT.4
  // SPT.4 as well: a first-stage paging mode the hardware does not
  // support (FSPM 2/3 reserved; 5-level needs CAP.FL5LP).
  if (fs && (pe.fspm > 1 || (pe.fspm == 1 && !config_.five_level))) {
    *fault = FaultReason::kPasidInvalid;
    return nullptr;
  }
  if (fs && (pe.fsptptr.value() >> config_.haw) != 0) {
    *fault = FaultReason::kPasidReserved;
    return nullptr;
  }
  PasidData d{};
  d.pgtt = pe.pgtt;
  d.levels = pe.fspm == 1 ? 5 : 4;
  d.wpe = pe.wpe;
  d.fpd = *fpd;
  d.did = pe.did;
  d.pasid = pasid;
  d.owner = OwnerOf(pe.did, pasid);
  d.owner_mix = CacheOwnerMix(d.owner);
  d.fsptptr = pe.fsptptr;
  // Checker contract: the space the root belongs to, recorded when the
  // configuration naming it is fetched, and used for every walk from it.
  d.space = fs ? mem_.Meta(pe.fsptptr).space : kNoSpace;
  // The inline check tests a request's own privilege; a request without a
  // PASID takes the context's RID_PRIV instead (9.4), so the line of a
  // device with RID_PRIV = 1 sends those to FirstStage, which applies it.
  d.deny = static_cast<uint8_t>((pe.sre ? 0 : kNeedPriv) |
                                ((pe.ere || !config_.execute_requests) ? 0 : kNeedExec) |
                                (fs && (has_pasid || !ce.rid_priv) ? 0 : kAlways));
  d.large = false;
  d.rid_priv = ce.rid_priv;
  arch::WalkOptions opts;
  opts.write_protect = pe.wpe;  // 3.6.1 WPE
  opts.nxe = true;              // first-stage XD always applies
  opts.pages_1g = config_.one_gig_pages;  // CAP.FL1GP: else PS in a PDPE is reserved
  opts.max_phys_bits = config_.haw;
  d.walker = arch::MakeX86Walker({.levels = d.levels}, opts);
  return pasid_cache_.Insert(tag, 0, d);
}

VtdResult Vtd::Fault(const VtdRequest& r, FaultReason reason, bool fpd,
                     uint32_t cycles, bool record) {
  VtdResult res;
  res.fault = reason;
  res.cycles = cycles;
  translate_cycles_.Inc(cycles);
  if (record) res.recorded = RecordFault(FaultInfoOf(r, reason, fpd));
  return res;
}

FaultInfo Vtd::FaultInfoOf(const VtdRequest& r, FaultReason reason, bool fpd) {
  return FaultInfo{.reason = reason,
                   .sid = r.sid,
                   .has_pasid = r.has_pasid,
                   .pasid = r.pasid,
                   .addr = r.addr,
                   .write = r.write,
                   .exec = r.exec,
                   .priv = r.priv,
                   .suppressed = fpd};
}

FaultReason Vtd::RootTableModeFault(bool has_pasid, bool page_request) const {
  const uint64_t ttm = ActiveTtm();
  if (ttm == Rtaddr::kTtmScalable) return FaultReason::kNone;
  // RTA.2/RTA.3: legacy mode and a request with PASID (0x31) or a page
  // request (0x32). Legacy-mode translation is not modelled: a request
  // without PASID faults as RTA.1 (0x30), as does abort-DMA mode (ECAP.
  // ADMS = 0) and the reserved 10.
  if (ttm == Rtaddr::kTtmLegacy && page_request) return FaultReason::kTtmLegacyPageRequest;
  if (ttm == Rtaddr::kTtmLegacy && has_pasid) return FaultReason::kTtmLegacyPasid;
  return FaultReason::kSmInvalidRootTable;
}

VtdResult Vtd::TranslateSlow(const VtdRequest& req, bool ats) {
  translations_.Inc();
  VtdResult res;
  // 3.1 / 11.4.5: with TES=0 requests are not remapped.
  if (!te()) {
    res.ok = true;
    res.pa = PhysAddr(req.addr);
    res.writable = true;
    return res;
  }
  // 3.15: requests without PASID to the interrupt address range are
  // interrupt requests, not subject to DMA remapping. Interrupt delivery
  // is not modelled (ECAP.IR = 0): the request is not translated, nothing
  // is recorded, and it is counted.
  if (!req.has_pasid && InInterruptRange(req.addr)) [[unlikely]] {
    interrupt_requests_->Inc();
    return res;
  }
  if (const FaultReason rta = RootTableModeFault(req.has_pasid, /*page_request=*/false);
      rta != FaultReason::kNone) [[unlikely]] {
    return Fault(req, rta, false, 0, true);
  }
  uint32_t cycles = 0;
  bool fpd = false;
  FaultReason fr = FaultReason::kNone;
  const ContextData* ctx = FetchContext(req.sid, &cycles, &fr, &fpd);
  if (ctx == nullptr) return Fault(req, fr, fpd, cycles, true);
  if (ats && !ctx->ce.dte) {
    return Fault(req, FaultReason::kContextDteClear, fpd || ctx->ce.fpd, cycles, true);  // SCT.5
  }
  PasidData* pc = FetchPasid(req.sid, ctx->ce, req.has_pasid, req.pasid, &cycles, &fr, &fpd);
  if (pc == nullptr) return Fault(req, fr, fpd || ctx->ce.fpd, cycles, true);
  return FirstStage(req, *pc, cycles, ats, /*probed_4k=*/false, nullptr);
}

// Where a first-stage walk starts after the paging-structure caches
// (6.2.4.2): the deepest hit's table, its level, and the rights above it
// (PermsIndex), or the root; and the set each level's cache was probed in.
struct Vtd::PscStart {
  uint64_t table;
  uint8_t level;
  uint32_t cum;
  CacheSet set[4];  // per level 2..5: the set probed, for the fill
};

// The paging-structure caches of a first-stage request whose IOTLB probes
// missed, deepest first; adds their lookups to *cycles. With `pde_missed`
// the caller has probed the PDE cache in that set (and charged the lookup)
// and missed.
[[gnu::always_inline]] inline void Vtd::ProbePsc(const VtdRequest& r, const PasidData& pc,
                                                 const CacheSet* pde_missed, uint32_t* cycles,
                                                 PscStart* s) {
  const uint64_t owner = pc.owner;
  const uint32_t lookup = lookup_cycles_;
  s->table = pc.fsptptr.value() & BitMask(63, 12);
  s->level = pc.levels;
  s->cum = arch::kPermIndexAll;
  // One level's probe, the level a constant (each cache at a fixed
  // offset, its tag shift known).
  const auto probe = [&](auto level_c) __attribute__((always_inline)) {
    constexpr unsigned kLevel = decltype(level_c)::value;
    *cycles += lookup;
    const uint64_t tag = PageTag(r.addr, PscShift(kLevel));
    s->set[kLevel - 2] = psc_[kLevel - 2].SetFor(tag, pc.owner_mix);
    const PscData* p = psc_[kLevel - 2].LookupAt(s->set[kLevel - 2], tag, owner);
    if (p == nullptr) return false;
    s->table = p->next.value();
    s->level = kLevel - 1;
    s->cum = p->cum;
    return true;
  };
  if (pde_missed != nullptr) s->set[0] = *pde_missed;
  if ((pde_missed != nullptr || !probe(kLevelC<2>)) && !probe(kLevelC<3>) &&
      !probe(kLevelC<4>) && pc.levels == 5) {
    probe(kLevelC<5>);
  }
}

// Fills the paging-structure caches with the table entries a walk from
// `s` used, levels (low, s.level] top down, each with the rights
// accumulated down to it; entries[level - 1] is the entry read at a level.
// Every level filled was probed and missed (ProbePsc), with no fill since.
[[gnu::always_inline]] inline void Vtd::FillPsc(const VtdRequest& r, const PasidData& pc,
                                                const PscStart& s, const uint64_t* entries,
                                                unsigned low) {
  uint64_t tables_and = ~0ull;
  uint64_t tables_or = 0;
  const uint64_t next_mask = BitMask(config_.haw - 1, 12);
  const auto fill = [&](auto level_c) __attribute__((always_inline)) {
    constexpr unsigned kLevel = decltype(level_c)::value;
    if (s.level < kLevel || low >= kLevel) return;
    const uint64_t entry = entries[kLevel - 1];
    tables_and &= entry;
    tables_or |= entry;
    psc_[kLevel - 2].InsertAfterMiss(
        s.set[kLevel - 2], PageTag(r.addr, PscShift(kLevel)), pc.owner,
        PscData{.next = PhysAddr(entry & next_mask),
                .cum = pc.walker.NarrowIndex(s.cum, tables_and, tables_or)});
  };
  fill(kLevelC<5>);
  fill(kLevelC<4>);
  fill(kLevelC<3>);
  fill(kLevelC<2>);
}

// The walk from `s` (the walker's whole walk: faults, A/D updates, the
// checker's reports) and the paging-structure fills it allows; adds the
// reads and A/D writes to *cycles. True with the translation in *t, false
// with the fault in *w.
[[gnu::always_inline]] inline bool Vtd::WalkFromStart(const VtdRequest& r, PasidData& pc,
                                                      const PscStart& s, uint32_t* cycles,
                                                      arch::FastTranslation* t,
                                                      arch::WalkResult* w) {
  const VirtAddr va(r.addr);
  const arch::AccessType acc{.write = r.write, .exec = r.exec, .user = !r.priv};
  const Agent agent = Agent::Iommu(config_.unit);
  bool ok;
  if (s.level == 1) {
    // A walk from a PT reads only the leaf: nothing to fill.
    ok = pc.walker.WalkTranslated<arch::NullObserver>(mem_, s.table, 1, s.cum, va, acc, agent,
                                                      pc.space, nullptr, t, w);
  } else {
    PscFillObserver obs(s.level);
    ok = pc.walker.WalkTranslated(mem_, s.table, s.level, s.cum, va, acc, agent, pc.space, &obs,
                                  t, w);
    // Every read but the last was a table entry. On a faulting walk, the
    // fill only if configured.
    if (ok || config_.fill_psc_on_fault) FillPsc(r, pc, s, obs.entry, obs.low);
  }
  if (ok) [[likely]] {
    *cycles += t->reads * read_cycles_ + t->ad_updates * write_cycles_;
  } else {
    *cycles += w->reads * read_cycles_ + w->ad_updates * write_cycles_;
  }
  return ok;
}

// 3.15 / SGN.8: a translation whose output lies in the interrupt address
// range is blocked (fault 0x87). A leaf that only overlaps the range
// translates the rest of its pages, uncached, so the IOTLB never holds a
// translation into the range.
constexpr bool OverlapsInterruptRange(uint64_t page, unsigned shift) {
  return page < kInterruptEnd && page + (1ull << shift) > kInterruptBase;
}

VtdResult Vtd::InterruptRangeLeaf(const VtdRequest& r, bool fpd, uint64_t pa, bool writable,
                                  uint32_t cycles, bool record) {
  if (InInterruptRange(pa)) {
    return Fault(r, FaultReason::kInterruptRange, fpd, cycles, record);
  }
  VtdResult res;
  res.ok = true;
  res.pa = PhysAddr(pa);
  res.page_shift = 12;  // (the part of the leaf outside the range only)
  res.writable = writable;
  res.cycles = cycles;
  translate_cycles_.Inc(cycles);
  return res;
}

// 6.2.3: caches the leaf of a translated walk with its cumulative rights
// (a page not yet dirty cannot serve a write from the cache) and returns
// the translation. `missed_4k`: the 4 KiB array was probed for this
// (page, owner) and missed, with no fill since; `set4k` is then the set
// probed. `record`: a fault (SGN.8) is recorded (not for a translation
// request).
[[gnu::always_inline]] inline VtdResult Vtd::FillLeaf(const VtdRequest& r, PasidData& pc,
                                                      const arch::FastTranslation& t,
                                                      uint32_t cycles, bool missed_4k,
                                                      CacheSet set4k, bool record) {
  const unsigned shift = t.page_shift();
  if (OverlapsInterruptRange(t.page, shift)) [[unlikely]] {
    // (Scalars, not `t`: the hit-path callers keep it in registers.)
    return InterruptRangeLeaf(r, pc.fpd, t.Pa(r.addr), (t.perms & arch::kPermIndexWrite) != 0,
                              cycles, record);
  }
  const int arr = t.level - 1;  // 4 KiB, 2 MiB, 1 GiB
  const bool writable = (t.perms & arch::kPermIndexWrite) != 0;
  // The line's deny mask by look-up on the rights and the leaf's D bit.
  static_assert(arch::X86Entry::kD >= 4 && arch::kPermIndexAll == 15);
  const uint32_t deny_index =
      (t.perms & arch::kPermIndexAll) | ((t.leaf >> (arch::X86Entry::kD - 4)) & 16);
  const IotlbData leaf{
      .pa_page = t.page,
      .deny = IotlbDeny(deny_index),
      .page_shift = static_cast<uint8_t>(shift),
      .writable = writable,
      .global = pc.walker.Global(t.leaf)};
  const uint64_t owner = pc.owner;
  const uint64_t leaf_tag = PageTag(r.addr, shift);
  if (arr == 0 && missed_4k) [[likely]] {
    iotlb_[0].InsertAfterMiss(set4k, leaf_tag, owner, leaf);
  } else {
    if (arr != 0) pc.large = true;
    iotlb_[arr].Insert(leaf_tag, owner, leaf);
  }
  VtdResult res;
  res.ok = true;
  res.pa = PhysAddr(t.Pa(r.addr));
  res.page_shift = static_cast<uint8_t>(shift);
  res.writable = writable;
  res.cycles = cycles;
  translate_cycles_.Inc(cycles);
  return res;
}

VtdResult Vtd::TranslateMiss(const VtdRequest& r, PasidData* pc, IotlbData* e4k,
                             CacheSet set4k) {
  // The inline check passed `pc`'s deny mask: a first-stage PASID whose
  // SRE/ERE allow the request. The common miss (the 4 KiB array missed,
  // no large leaf of this PASID to probe for, the request's own privilege)
  // goes straight to the caches and the walk; the rest through FirstStage.
  translations_.Inc();
  pasid_cache_.counters().hits.Inc();
  if (e4k != nullptr || pc->large || !r.has_pasid) [[unlikely]] {
    // The PASID-cache lookup; FirstStage adds the 4 KiB IOTLB lookup.
    return FirstStage(r, *pc, lookup_cycles_, /*ats=*/false, /*probed_4k=*/true, e4k);
  }
  iotlb_[0].counters().misses.Inc();
  walks_.Inc();
  uint32_t cycles = 2 * lookup_cycles_;  // PASID cache, 4 KiB IOTLB
  // SGN.1: a non-canonical address faults before any cache or table is
  // used.
  if (!arch::X86Canonical(VirtAddr(r.addr), pc->levels)) [[unlikely]] {
    return Fault(r, FaultReason::kNonCanonical, pc->fpd, cycles, true);
  }
  // The PDE cache first (6.2.4.2). On a hit (the common miss) the walk
  // reads the PTE and fills only the IOTLB; the rest is out of line, so
  // that this function keeps a small frame.
  cycles += lookup_cycles_;
  const uint64_t pde_tag = PageTag(r.addr, PscShift(2));
  const CacheSet pde_set = psc_[0].SetFor(pde_tag, pc->owner_mix);
  const PscData* pde = psc_[0].LookupAt(pde_set, pde_tag, pc->owner);
  if (pde == nullptr) [[unlikely]] return MissBelowPde(r, *pc, set4k, pde_set);
  // The walk from the PT that line names: here when it is one plain read
  // with nothing to fault, report or update (PreparedWalker::TryWalk),
  // else the whole walk out of line.
  arch::FastTranslation t;
  uint64_t entries[5];
  if (!pc->walker.TryWalk(mem_, pde->next.value(), 1, pde->cum, VirtAddr(r.addr),
                          {.write = r.write, .exec = r.exec, .user = !r.priv}, pc->space,
                          entries, &t)) [[unlikely]] {
    return MissFromStart(r, *pc, set4k,
                         PscStart{.table = pde->next.value(), .level = 1, .cum = pde->cum,
                                  .set = {}},
                         cycles);
  }
  cycles += t.reads * read_cycles_;  // (no A/D update)
  return FillLeaf(r, *pc, t, cycles, /*missed_4k=*/true, set4k, /*record=*/true);
}

// TranslateMiss() after the PDE cache missed in set `pde_set`: the other
// paging-structure caches, the walk and its fills. A walk of plain reads
// (PreparedWalker::TryWalk) is finished here; any other goes to
// MissFromStart.
VtdResult Vtd::MissBelowPde(const VtdRequest& r, PasidData& pc, CacheSet set4k,
                            CacheSet pde_set) {
  uint32_t cycles = 3 * lookup_cycles_;  // PASID cache, 4 KiB IOTLB, PDE cache
  PscStart s;
  ProbePsc(r, pc, &pde_set, &cycles, &s);
  arch::FastTranslation t;
  // Levels (1, s.level] are written by a walk that returns true, and only
  // those are read (FillPsc); GCC cannot follow the levels and warns.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
  uint64_t entries[5];
  if (!pc.walker.TryWalk(mem_, s.table, s.level, s.cum, VirtAddr(r.addr),
                         {.write = r.write, .exec = r.exec, .user = !r.priv}, pc.space, entries,
                         &t)) [[unlikely]] {
    return MissFromStart(r, pc, set4k, s, cycles);
  }
  FillPsc(r, pc, s, entries, /*low=*/1);
#pragma GCC diagnostic pop
  cycles += t.reads * read_cycles_;  // (no A/D update)
  return FillLeaf(r, pc, t, cycles, /*missed_4k=*/true, set4k, /*record=*/true);
}

// The rest of a miss whose walk from `s` is more than plain reads (after
// a PDE-cache hit, or in MissBelowPde): the walker's whole walk, the
// paging-structure fills it allows, the IOTLB fill or the fault.
VtdResult Vtd::MissFromStart(const VtdRequest& r, PasidData& pc, CacheSet set4k, PscStart s,
                             uint32_t cycles) {
  arch::FastTranslation t;
  arch::WalkResult w;
  if (!WalkFromStart(r, pc, s, &cycles, &t, &w)) [[unlikely]] {
    return Fault(r, WalkFaultReason(w, pc.levels), pc.fpd, cycles, true);
  }
  return FillLeaf(r, pc, t, cycles, /*missed_4k=*/true, set4k, /*record=*/true);
}

VtdResult Vtd::FirstStage(const VtdRequest& req, PasidData& pc, uint32_t cycles, bool ats,
                          bool probed_4k, IotlbData* e4k) {
  VtdResult res;
  const bool fpd = pc.fpd;
  VtdRequest r = req;
  if (!r.has_pasid) r.priv = pc.rid_priv;  // 9.4 RID_PRIV
  // 3.6.1 / 9.6: supervisor requests need SRE; execute requests need ERE.
  if (r.priv && (pc.deny & kNeedPriv))
    return Fault(req, FaultReason::kPasidSreClear, fpd, cycles, !ats);
  if (r.exec && (pc.deny & kNeedExec))
    return Fault(req, FaultReason::kPasidEreClear, fpd, cycles, !ats);
  if (pc.pgtt == static_cast<uint8_t>(Pgtt::kPassThrough)) {
    // 3.9: pass-through, address beyond HAW faults.
    if ((r.addr >> config_.haw) != 0)
      return Fault(req, FaultReason::kBeyondMgaw, fpd, cycles, !ats);
    // 3.15: a request with PASID through pass-through whose address (so
    // its output) lies in the interrupt range is blocked (SGN.8).
    if (InInterruptRange(r.addr)) [[unlikely]]
      return Fault(req, FaultReason::kInterruptRange, fpd, cycles, !ats);
    res.ok = true;
    res.pa = PhysAddr(r.addr);
    res.writable = true;
    res.cycles = cycles;
    translate_cycles_.Inc(cycles);
    return res;
  }
  const uint8_t need = NeedOf(r);
  const uint64_t owner = pc.owner;

  // IOTLB: 4 KiB, 2 MiB, 1 GiB arrays (6.2.3). A hit whose cached rights
  // do not allow the access (or a write to a clean page) walks again; the
  // arrays after it are not probed. The large-page arrays are probed only
  // if this PASID put a large leaf there (PasidData::large).
  const uint32_t lookup = lookup_cycles_;
  IotlbData* e;
  cycles += lookup;
  if (probed_4k) {
    e = e4k;
    (e != nullptr ? iotlb_[0].counters().hits : iotlb_[0].counters().misses).Inc();
  } else {
    e = iotlb_[0].Lookup(PageTag(r.addr, kIotlbShift[0]), owner);
  }
  const bool missed_4k = e == nullptr;  // (tag, owner) absent from the 4 KiB array
  if (e == nullptr && pc.large) {
    cycles += lookup;
    e = iotlb_[1].Lookup(PageTag(r.addr, kIotlbShift[1]), owner);
    if (e == nullptr) {
      cycles += lookup;
      e = iotlb_[2].Lookup(PageTag(r.addr, kIotlbShift[2]), owner);
    }
  }
  if (e != nullptr && (e->deny & need) == 0) {
    res.ok = true;
    res.pa = PhysAddr(e->pa_page | (r.addr & ((1ull << e->page_shift) - 1)));
    res.page_shift = e->page_shift;
    res.writable = e->writable;
    res.cycles = cycles;
    translate_cycles_.Inc(cycles);
    return res;
  }
  walks_.Inc();
  // SGN.1: a non-canonical address faults before any cache or table is
  // used.
  if (!arch::X86Canonical(VirtAddr(r.addr), pc.levels)) [[unlikely]] {
    return Fault(req, FaultReason::kNonCanonical, fpd, cycles, !ats);
  }
  PscStart s{};  // (GCC cannot follow which levels ProbePsc sets)
  ProbePsc(r, pc, nullptr, &cycles, &s);
  arch::FastTranslation t;
  arch::WalkResult w;
  if (!WalkFromStart(r, pc, s, &cycles, &t, &w)) [[unlikely]] {
    // Translation requests report first-stage faults in the completion,
    // not in the fault log (4.2.3); configuration faults above are logged.
    return Fault(req, WalkFaultReason(w, pc.levels), fpd, cycles, !ats);
  }
  return FillLeaf(
      r, pc, t, cycles, missed_4k,
      iotlb_[0].At(missed_4k ? iotlb_[0].SetOf(PageTag(r.addr, kIotlbShift[0]), owner) : 0),
      /*record=*/!ats);
}

// 3.4 untranslated requests through the PCIe port: faults are
// non-recoverable (recorded), the DMA is aborted.
pci::DmaResult Vtd::Translate(const pci::DmaRequest& req, pci::DmaCompletion) {
  const VtdResult r = Translate(VtdRequest{
      .sid = static_cast<uint16_t>(req.rid.value()), .has_pasid = req.has_pasid,
      .pasid = req.pasid.value(), .addr = req.addr.value(), .write = req.write,
      .exec = req.exec, .priv = req.priv});
  pci::DmaResult out;
  if (r.ok) {
    out.status = pci::DmaStatus::kTranslated;
    out.pa = r.pa;
    out.writable = r.writable;
  }
  return out;
}

namespace {

// The completion of a translation request that ends in fault `fr`
// (docs/vtd.md, "ATS completions"): Success with R = W = 0 for what a
// page walk finds (not present, reserved bits, non-canonical, beyond the
// address width, a right the page or PASID entry does not give); Unsupported
// Request for a request the configuration does not admit (an entry not
// present, DTE, PASIDE or PASID range, the interrupt range); Completer
// Abort for hardware and programming errors (access errors, reserved bits
// and invalid values in root, context and PASID entries, the root table
// mode, a failed A/D update).
pci::AtsCompletion::Code AtsCodeFor(FaultReason fr) {
  using Code = pci::AtsCompletion::Code;
  switch (fr) {
    case FaultReason::kFsNotPresent:
    case FaultReason::kFsReserved:
    case FaultReason::kNonCanonical:
    case FaultReason::kUserToSupervisor:
    case FaultReason::kExecuteDenied:
    case FaultReason::kBeyondMgaw:
    case FaultReason::kWriteDenied:
    case FaultReason::kReadDenied:
    case FaultReason::kPasidEreClear:
    case FaultReason::kPasidSreClear:
      return Code::kNotPresent;
    case FaultReason::kNone:  // not remapped: an interrupt request (3.15)
    case FaultReason::kRootNotPresent:
    case FaultReason::kContextNotPresent:
    case FaultReason::kContextDteClear:
    case FaultReason::kContextPasidDisabled:
    case FaultReason::kPasidTooLarge:
    case FaultReason::kContextPreClear:
    case FaultReason::kPasidDirNotPresent:
    case FaultReason::kPasidNotPresent:
    case FaultReason::kInterruptRange:
      return Code::kUnsupported;
    case FaultReason::kSmInvalidRootTable:
    case FaultReason::kTtmLegacyPasid:
    case FaultReason::kTtmLegacyPageRequest:
    case FaultReason::kRootAccessError:
    case FaultReason::kRootReserved:
    case FaultReason::kContextAccessError:
    case FaultReason::kContextReserved:
    case FaultReason::kContextInvalid:
    case FaultReason::kRidPasidError:
    case FaultReason::kPasidDirAccessError:
    case FaultReason::kPasidDirReserved:
    case FaultReason::kPasidAccessError:
    case FaultReason::kPasidReserved:
    case FaultReason::kPasidInvalid:
    case FaultReason::kFsAccessError:
    case FaultReason::kFsRootAccessError:
    case FaultReason::kFsAdUpdateFailed:
      return Code::kCompleterAbort;
  }
  return Code::kCompleterAbort;
}

}  // namespace

// 4.2.3: ATS translation requests. A first-stage fault is answered in the
// completion, not recorded; configuration faults are recorded (FPD
// permitting) and answered UR or CA (AtsCodeFor). A right the page does not
// give (SGN.6 write, SGN.3 or SPT.5 execute) is not a failure: the
// completion grants the rights there are (R = 1, W = 0 for a read-only
// page), found by the request again without that right (the model's
// shortcut: that second pass is counted and charged as a translation of
// its own, where hardware has the rights from one walk).
pci::AtsCompletion Vtd::AtsTranslate(const pci::DmaRequest& req) {
  pci::AtsCompletion c;
  if (!config_.device_tlb) return c;
  VtdRequest vr{.sid = static_cast<uint16_t>(req.rid.value()),
                .has_pasid = req.has_pasid,
                .pasid = req.pasid.value(),
                .addr = req.addr.value(),
                .write = req.write,
                .exec = req.exec,
                .priv = req.priv};
  VtdResult r = TranslateSlow(vr, /*ats=*/true);
  for (int retry = 0; retry < 2 && !r.ok; ++retry) {
    if (vr.write && r.fault == FaultReason::kWriteDenied) {
      vr.write = false;
    } else if (vr.exec &&
               (r.fault == FaultReason::kExecuteDenied || r.fault == FaultReason::kPasidEreClear)) {
      vr.exec = false;
    } else {
      break;
    }
    r = TranslateSlow(vr, /*ats=*/true);
  }
  c.priv = req.priv;
  if (!r.ok) {
    c.code = AtsCodeFor(r.fault);
    return c;
  }
  c.code = pci::AtsCompletion::Code::kSuccess;
  c.pa = PhysAddr(r.pa.value() & ~((1ull << r.page_shift) - 1));
  c.page_shift = r.page_shift;
  c.read = true;
  c.write = r.writable;
  c.exec = vr.exec;
  return c;
}

}  // namespace svaemu::hw::vtd
