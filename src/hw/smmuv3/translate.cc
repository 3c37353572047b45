// SmmuV3 translation after the configuration (config.cc): the stage-1 walk
// through the TLB and walk caches, the common miss, faults and stalls
// (3.12, 7.3), ATS.
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"
#include "walk_config.h"

namespace svaemu::hw::smmuv3 {

namespace {

// A PCIe request as the SMMU takes it (13.7): without a PASID TLP prefix,
// its INST and PRIV attributes are Data and Unprivileged.
TransReq PcieRequest(const pci::DmaRequest& req, VirtAddr va) {
  return TransReq{.sid = req.rid,
                  .ssv = req.has_pasid,
                  .ssid = req.pasid.value(),
                  .va = va,
                  .write = req.write,
                  .exec = req.has_pasid && req.exec,
                  .priv = req.has_pasid && req.priv};
}

// What a cached leaf allows with nothing else to do (mirrors
// Arm64Format::Check: exec needs only XN, a user access needs AP[1], a
// write needs the leaf writable now), less what the CD's PAN and WXN forbid
// (5.4): with PAN, privileged data accesses to an EL0-accessible page; with
// WXN, execution where the page is writable at that level.
constexpr uint8_t OkBits(const arch::Perms& p, bool pan, bool wxn) {
  uint8_t ok = 0;
  if (!(pan && p.user)) {
    ok |= AccessBit(false, false, true);
    if (p.write) ok |= AccessBit(true, false, true);
  }
  if (p.exec_priv && !(wxn && p.write)) ok |= AccessBit(false, true, true);
  if (p.user) ok |= AccessBit(false, false, false);
  if (p.user && p.write) ok |= AccessBit(true, false, false);
  if (p.exec_user && !(wxn && p.user && p.write)) ok |= AccessBit(false, true, false);
  return ok;
}
// OkBits() by a PermsIndex() set (FastTranslation::perms) with
// CfgEntry::ok_controls: a table lookup instead of the tests.
constexpr std::array<uint8_t, 64> kOkBitsOf = [] {
  std::array<uint8_t, 64> t{};
  for (uint32_t i = 0; i < 64; ++i) {
    t[i] = OkBits(arch::PermsOfIndex(i & 15), (i & CfgEntry::kOkPan) != 0,
                  (i & CfgEntry::kOkWxn) != 0);
  }
  return t;
}();

EventType FaultEvent(arch::FaultKind k) {
  switch (k) {
    case arch::FaultKind::kAccessFlag: return EventType::kFAccess;
    case arch::FaultKind::kAddressSize: return EventType::kFAddrSize;
    case arch::FaultKind::kPermission: return EventType::kFPermission;
    // 7.3.12: an external abort fetching or updating a descriptor.
    case arch::FaultKind::kBusError:
    case arch::FaultKind::kUpdateFailed:
      return EventType::kFWalkEabt;
    // 3.4.1/5.4: a VA outside both TTB ranges, EPDx = 1, an invalid or
    // reserved descriptor: F_TRANSLATION.
    default: return EventType::kFTranslation;
  }
}

// A walk that reads nothing: a VA outside both TTB ranges, or EPDx = 1
// (3.4.1). Out of line: the walker reports the fault.
[[gnu::noinline]] arch::WalkResult WalkWithoutReads(
    mem::PhysMem& mem, const arch::Arm64Stage1Config& s1, VirtAddr va,
    arch::AccessType acc, const arch::WalkOptions& opts) {
  return arch::WalkArm64(mem, s1, va, acc, opts);
}

}  // namespace

// Records, by level, what a walk read: the entry's address and its value
// (the table a walk-cache fill names and the permissions it carries are
// recomputed from the values, for the few levels filled). A
// restarted attempt overwrites the levels it reads again, so after the walk
// levels [last_level, start_level] describe the last attempt. Left
// uninitialised on purpose (like the walker's path): only those levels are
// read. Indexed by level - 1, so the walker's per-level code (constant
// levels) stores at constant offsets. A walk from a last-level table runs
// without it (WalkFromStart).
struct SmmuV3::WalkRecorder {
  uint64_t walk_tag[3];     // WalkTag() of levels 2..4, as probed
  CacheSet walk_set[3];     // and the set of each (for the fills)
  uint8_t start_level = 0;  // where the walk starts; 0: the table base faulted
  uint8_t last_level = 0;   // level of the last entry read; 0: none
  uint32_t start_perms;     // the start's permissions (PermsIndex bits)
  uint64_t start_table;     // the start's table
  uint64_t entry_pa[5];
  uint64_t entry[5];
  [[gnu::always_inline]] void OnRead(const arch::LevelRead& r) {
    const unsigned i = r.level - 1u;  // the walker's levels are 1..5
    entry_pa[i] = r.entry_pa.value();
    entry[i] = r.entry;
    last_level = r.level;
  }
};

// The walk caches a miss probes, deepest level first (one copy per level:
// constant shifts and cache addresses), from level 2 or (kProbed ==
// kL2Miss) from level 3; the latency of each lookup is added to *latency.
// Sets the recorder's start: the table and rights a hit names, else the
// table base of the VA's half at level 4, or start_level 0 if that base
// is beyond the OA size (WalkArm64's full walk: an Address size fault at
// L0, before any read).
template <SmmuV3::Probed kProbed>
[[gnu::always_inline]] inline void SmmuV3::FindStart(const CfgEntry& c, uint64_t ttag,
                                                     bool upper, sim::Cycles* latency,
                                                     WalkRecorder* rec) {
  sim::Cycles lat = *latency;
  const auto probe = [&]<uint8_t kLevel>() {
    SetAssocCache<WalkEntry>& wc = walk_[kLevel - 2];
    const uint64_t tag = WalkTagOf(ttag, kLevel);
    const CacheSet set = wc.SetFor(WalkHash(tag));
    rec->walk_tag[kLevel - 2] = tag;
    rec->walk_set[kLevel - 2] = set;
    lat += cache_lookup_cycles_;
    if (const WalkEntry* e = wc.Find(set, tag)) {
      walk_stats_[kLevel - 2].hits.Inc();
      rec->start_table = e->table;
      rec->start_level = kLevel - 1;
      rec->start_perms = e->perms;
      return true;
    }
    walk_stats_[kLevel - 2].misses.Inc();
    return false;
  };
  const bool hit = (kProbed == Probed::kNone && probe.template operator()<2>()) ||
                   probe.template operator()<3>() || probe.template operator()<4>();
  *latency = lat;
  if (hit) return;
  const PhysAddr base = upper ? c.ttb1 : c.ttb0;
  rec->start_perms = arch::kPermIndexAll;
  rec->start_table = base.AlignDown(kPageSize4K).value();
  const bool bad = (base.value() & (c.walkers[0].format().oa_fault_mask() | BitMask(63, 50))) != 0;
  rec->start_level = bad ? 0 : 4;
}

// The walk from the recorder's start, by the CD's prepared walker
// (arch/walker.h: the loop WalkArm64 runs; the checks WalkArm64 makes
// before it are made by the callers). As PreparedWalker::WalkTranslated:
// true with the translation in *t (scalars the callers keep in
// registers), false with the fault in *w. `try_plain`: first try the walk
// as plain reads (PreparedWalker::TryWalk), for a caller that has not.
[[gnu::always_inline]] inline bool SmmuV3::WalkFromStart(const CfgEntry& c, const TransReq& r,
                                                         bool try_plain, WalkRecorder* rec,
                                                         arch::FastTranslation* t,
                                                         arch::WalkResult* w) {
  const uint64_t va = r.va.value();
  const arch::AccessType acc = AccessOf(r);
  const SpaceId space = SpaceOf(c, va);
  const uint64_t table = rec->start_table;
  const uint8_t level = rec->start_level;
  if (level == 0) [[unlikely]] {
    *w = arch::WalkResult{.fault = arch::FaultKind::kAddressSize, .level = 4};
    return false;
  }
  if (level == 1) {
    // A walk from a last-level table (an L2 walk-cache hit) reads one entry
    // per attempt, at a known address, and fills no walk cache: no
    // observer needed.
    rec->last_level = 1;
    rec->entry_pa[0] = table + ((va >> 9) & 0xff8);
    return c.WalkerFor(va).WalkTranslated<arch::NullObserver>(
        mem_, table, 1, rec->start_perms, r.va, acc, agent_, space, nullptr, t, w);
  }
  // A deeper walk of plain reads hands back its entries by level, as the
  // recorder keeps them.
  if (try_plain && c.WalkerFor(va).TryWalk(mem_, table, level, rec->start_perms, r.va, acc, space,
                                           rec->entry, t)) [[likely]] {
    rec->last_level = 1;
    rec->entry_pa[0] = t->leaf_pa;
    return true;
  }
  return c.WalkerFor(va).WalkTranslated(mem_, table, level, rec->start_perms, r.va, acc, agent_,
                                        space, rec, t, w);
}

// Inlined into its callers (the general miss and ATS): WalkArm64's checks
// before a walk, the walk caches, the walk.
[[gnu::always_inline]] inline bool SmmuV3::WalkCore(const CfgEntry& c, const TransReq& r,
                                                    uint64_t ttag, sim::Cycles* latency,
                                                    WalkRecorder* rec,
                                                    arch::FastTranslation* t,
                                                    arch::WalkResult* w) {
  // 3.4.1: outside both TTB ranges, or EPDx = 1: a translation fault with no
  // walk (and no walk-cache lookup).
  const int half = arch::Arm64Half(r.va);
  if (half < 0 || (half == 0 ? c.epd0 : c.epd1)) [[unlikely]] {
    *w = WalkWithoutReads(mem_, Stage1Of(c), r.va, AccessOf(r),
                          WalkOptionsOf(c, agent_, r.va.value()));
    return false;
  }
  FindStart<Probed::kNone>(c, ttag, half != 0, latency, rec);
  return WalkFromStart(c, r, /*try_plain=*/true, rec, t, w);
}

[[gnu::always_inline]] inline void SmmuV3::FillTlb(const CfgEntry& c, uint64_t va,
                                                   const arch::FastTranslation& t, uint64_t ttag,
                                                   CacheSet tset, TlbProbe probe) {
  const auto write = [&](TlbEntry& e) {
    // The 4 KiB piece of the leaf that holds va.
    e.pa = t.Pa(va) & ~0xfffull;
    e.ok = kOkBitsOf[c.ok_controls | t.perms];
    e.leaf_level = t.level;
    e.global = c.walkers[0].Global(t.leaf);
    e.asid = c.asid;
  };
  const bool evicted = probe == TlbProbe::kAbsent ? tlb_.FillAfterMiss(tset, ttag, write)
                                                  : tlb_.Fill(tset, ttag, write);
  tlb_stats_.insertions.Inc();
  if (evicted) tlb_stats_.evictions.Inc();
}

[[gnu::always_inline]] inline void SmmuV3::AfterWalk(
    const CfgEntry& c, const TransReq& r, bool ok, const arch::FastTranslation& t, uint32_t reads,
    uint32_t ad_updates, const WalkRecorder& rec, unsigned first, unsigned last, uint64_t ttag,
    CacheSet tset, TlbProbe probe, sim::Cycles* latency, PhysAddr* last_entry_pa) {
  const uint64_t va = r.va.value();
  walk_reads_.Inc(reads);
  *latency += reads * mem_read_cycles_ + ad_updates * mem_write_cycles_;
  if (last == 0) return;  // nothing read (no fills, no TLB entry)
  *last_entry_pa = PhysAddr(rec.entry_pa[last - 1]);
  // Every entry read above the last was a table descriptor: cache, at its
  // level, the table it leads to (the table the next level was read from).
  // Those levels were all probed (and missed) before the walk, so their
  // tags are known. One copy per level: constant offsets.
  // The permissions accumulated down to each filled level: the start's,
  // narrowed by the table entries from the start down to it, exactly as
  // the walker narrows them (and reports them to an observer).
  uint64_t tables_and = ~0ull;
  uint64_t tables_or = 0;
  const auto fill = [&]<unsigned kLevel>() __attribute__((always_inline)) {
    if (kLevel > first || kLevel <= last) return;
    tables_and &= rec.entry[kLevel - 1];
    tables_or |= rec.entry[kLevel - 1];
    const uint32_t perms = c.WalkerFor(va).NarrowIndex(rec.start_perms, tables_and, tables_or);
    SetAssocCache<WalkEntry>& wc = walk_[kLevel - 2];
    const uint64_t tag = rec.walk_tag[kLevel - 2];
    // Probed and missed before the walk, and no walk-cache fill since.
    const bool evicted = wc.FillAfterMiss(rec.walk_set[kLevel - 2], tag, [&](WalkEntry& e) {
      e.table = rec.entry[kLevel - 1] & c.walkers[0].format().TableAddressMask();
      e.perms = perms;
      e.asid = c.asid;
    });
    walk_stats_[kLevel - 2].insertions.Inc();
    if (evicted) walk_stats_[kLevel - 2].evictions.Inc();
  };
  if (first > last) {
    fill.template operator()<4>();
    fill.template operator()<3>();
    fill.template operator()<2>();
  }
  if (ok) [[likely]] {
    FillTlb(c, va, t, ttag, tset, probe);
  }
}

namespace {

// A translated request's result: `t` translates it, and the TLB entry just
// filled holds kOkBitsOf[c.ok_controls | t.perms]. (The CD's PAN and WXN
// cannot change whether a request that translated may write: `writable`
// reads the table without them.)
[[gnu::always_inline]] inline TransResult Translated(const TransReq& r,
                                                     const arch::FastTranslation& t,
                                                     sim::Cycles latency) {
  return TransResult{
      .pa = PhysAddr(t.Pa(r.va.value())),
      .latency = latency,
      .status = TransStatus::kTranslated,
      .writable = (kOkBitsOf[t.perms] & AccessBit(true, false, r.priv)) != 0};
}

}  // namespace

[[gnu::always_inline]] inline TransResult SmmuV3::AfterWalkResult(
    const CfgEntry& c, const TransReq& r, bool ok, const arch::FastTranslation& t,
    const arch::WalkResult& w, const WalkRecorder& rec, uint64_t ttag, CacheSet tset,
    TlbProbe probe, sim::Cycles latency, pci::DmaCompletion* done) {
  PhysAddr last_entry;
  AfterWalk(c, r, ok, t, ok ? t.reads : w.reads, ok ? t.ad_updates : w.ad_updates, rec,
            rec.start_level, rec.last_level, ttag, tset, probe, &latency, &last_entry);
  translate_cycles_.Inc(latency);
  if (!ok) [[unlikely]] {
    return Fault(&c, r, TransResult{.latency = latency}, FaultEvent(w.fault), last_entry, done);
  }
  return Translated(r, t, latency);
}

TransResult SmmuV3::Walk(const CfgEntry& c, const TransReq& r,
                         sim::Cycles latency, pci::DmaCompletion* done) {
  const uint64_t va = r.va.value();
  const uint64_t tag = TlbTag(c.asid, va);
  const CacheSet set = tlb_.SetFor(TlbHash(tag));
  // (A non-canonical VA never translates, so its tag is never filled.)
  TlbProbe probe = TlbProbe::kAbsent;
  if (Canonical48(va)) {
    const uint8_t need = AccessBit(r.write, r.exec, r.priv);
    latency += cache_lookup_cycles_;
    const TlbEntry* e = tlb_.Find(set, tag);
    if (e != nullptr) probe = TlbProbe::kUnknown;  // cached, with too few rights
    if (e != nullptr && (e->ok & need) != 0) {
      tlb_stats_.hits.Inc();
      translate_cycles_.Inc(latency);
      return TransResult{.pa = PhysAddr(e->pa | (va & 0xfff)),
                         .latency = latency,
                         .status = TransStatus::kTranslated,
                         .writable = (e->ok & AccessBit(true, false, r.priv)) != 0};
    }
    tlb_stats_.misses.Inc();
  }
  return WalkMiss(c, r, tag, set, probe, latency, done);
}

TransResult SmmuV3::WalkMiss(const CfgEntry& c, const TransReq& r, uint64_t ttag, CacheSet tset,
                             TlbProbe probe, sim::Cycles latency, pci::DmaCompletion* done) {
  WalkRecorder rec;
  arch::FastTranslation t;
  arch::WalkResult w;
  const bool ok = WalkCore(c, r, ttag, &latency, &rec, &t, &w);
  return AfterWalkResult(c, r, ok, t, w, rec, ttag, tset, probe, latency, done);
}

// The common miss (a DMA stream within 2 MiB): the L2 walk cache hits and
// the walk from the last-level table it names is one plain read
// (PreparedWalker::TryWalk), finished here in a small frame. The rest is
// out of line, with what was probed handed on (no lookup is made or
// counted twice).
TransResult SmmuV3::TranslateTlbMiss(const CfgEntry& c, const TransReq& r, uint64_t ttag,
                                     CacheSet tset) {
  // What LookupConfig() (a hit on `c`) and Walk() (a TLB miss) count.
  cfg_stats_.hits.Inc();
  tlb_stats_.misses.Inc();
  const uint64_t va = r.va.value();
  // The VA is canonical (the inline check): bit 63 picks the half. The
  // TTB1 half (never walked by SVA: EPD1 = 1) and EPD0 = 1 (3.4.1: a fault
  // with no walk-cache lookup) take the general miss, with the same
  // lookups and counts; below, the VA is in the TTB0 half, so TTB0's
  // walker is the one used.
  if ((va >> 63) != 0 || c.epd0) [[unlikely]] {
    return WalkMiss(c, r, ttag, tset, TlbProbe::kAbsent, 2 * cache_lookup_cycles_, nullptr);
  }
  SetAssocCache<WalkEntry>& wc = walk_[0];
  const uint64_t l2_tag = WalkTagOf(ttag, 2);
  const CacheSet l2_set = wc.SetFor(WalkHash(l2_tag));
  const WalkEntry* l2 = wc.Find(l2_set, l2_tag);
  if (l2 == nullptr) [[unlikely]] return MissBelowL2(c, r, ttag, tset, l2_tag, l2_set);
  walk_stats_[0].hits.Inc();
  arch::FastTranslation t;
  uint64_t entry;
  if (!c.walkers[0].TryWalk(mem_, l2->table, 1, l2->perms, r.va, AccessOf(r), SpaceOf(c, va),
                            &entry, &t)) [[unlikely]] {
    WalkRecorder rec;
    rec.start_table = l2->table;
    rec.start_level = 1;
    rec.start_perms = l2->perms;
    return MissFromStart(c, r, ttag, tset, &rec, 3 * cache_lookup_cycles_);
  }
  walk_reads_.Inc(1);
  // Configuration, TLB and L2 walk-cache lookups, one read (no update).
  const sim::Cycles latency = 3 * cache_lookup_cycles_ + mem_read_cycles_;
  FillTlb(c, va, t, ttag, tset, TlbProbe::kAbsent);
  translate_cycles_.Inc(latency);
  return Translated(r, t, latency);
}

TransResult SmmuV3::MissBelowL2(const CfgEntry& c, const TransReq& r, uint64_t ttag,
                                CacheSet tset, uint64_t l2_tag, CacheSet l2_set) {
  walk_stats_[0].misses.Inc();
  WalkRecorder rec;
  rec.walk_tag[0] = l2_tag;
  rec.walk_set[0] = l2_set;
  sim::Cycles latency = 3 * cache_lookup_cycles_;  // configuration, TLB, L2 walk cache
  const uint64_t va = r.va.value();
  // TranslateTlbMiss sends only TTB0-half VAs here: what is inlined below
  // (the walker choice, the walk-cache tags) can count on it.
  if ((va >> 63) != 0) __builtin_unreachable();
  FindStart<Probed::kL2Miss>(c, ttag, /*upper=*/false, &latency, &rec);
  // The walk from the start when it is plain reads (PreparedWalker::TryWalk;
  // a start_level of 0, the base's fault, is declined), its fills and the
  // TLB's; else MissFromStart. One copy for the full walk (level 4, every
  // level a constant) and one for the rest.
  // Levels [1, start_level] are written by a walk that returns true, and
  // only those are read (AfterWalk); GCC cannot follow the levels and warns.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
  const auto finish = [&](uint8_t start_level) __attribute__((always_inline)) {
    arch::FastTranslation t;
    if (!c.WalkerFor(va).TryWalk(mem_, rec.start_table, start_level, rec.start_perms, r.va,
                                 AccessOf(r), SpaceOf(c, va), rec.entry, &t)) [[unlikely]] {
      return MissFromStart(c, r, ttag, tset, &rec, latency);
    }
    rec.entry_pa[0] = t.leaf_pa;
    PhysAddr last_entry;
    AfterWalk(c, r, /*ok=*/true, t, t.reads, /*ad_updates=*/0, rec, start_level,
              /*last=*/1, ttag, tset, TlbProbe::kAbsent, &latency, &last_entry);
    translate_cycles_.Inc(latency);
    return Translated(r, t, latency);
  };
  if (rec.start_level == 4) [[likely]] return finish(4);
  return finish(rec.start_level);
#pragma GCC diagnostic pop
}

TransResult SmmuV3::MissFromStart(const CfgEntry& c, const TransReq& r, uint64_t ttag,
                                  CacheSet tset, WalkRecorder* rec, sim::Cycles latency) {
  arch::FastTranslation t;
  arch::WalkResult w;
  const bool ok = WalkFromStart(c, r, /*try_plain=*/false, rec, &t, &w);
  return AfterWalkResult(c, r, ok, t, w, *rec, ttag, tset, TlbProbe::kAbsent, latency, nullptr);
}

[[gnu::noinline]] TransResult SmmuV3::Fault(const CfgEntry* c, const TransReq& r, TransResult res,
                          EventType type, PhysAddr fetch_addr,
                          pci::DmaCompletion* done) {
  res.fault = type;
  res.status = TransStatus::kAborted;
  Event e;
  e.type = type;
  e.sid = r.sid;
  e.ssv = r.ssv;
  e.ssid = r.ssid;
  e.pnu = r.priv;              // (after the STE's overrides, 7.3)
  e.ind = IsInstruction(r.write, r.exec);  // 7.3: InD == 0 when RnW == 0
  e.rnw = !r.write;
  e.cls = type == EventType::kFWalkEabt ? EventClass::kTtd : EventClass::kIn;
  e.input_addr = AsGiven(r).va;  // 7.3: with the tag TBI ignored
  e.fetch_addr = fetch_addr;
  const bool related = IsTranslationRelated(type);
  // 3.12.2: only translation-related faults stall, when the CD (or a
  // forced STALL_MODEL) says so and the event can be reported.
  bool stall = related && c != nullptr && c->stall && Cr0(cr0::kEvtqen) &&
               config_.stall_model != StallModel::kTerminateOnly &&
               stalls_.size() < kStallMax;
  if (stall) {
    const uint64_t sid_key = uint64_t{r.sid.value()} << 16;
    int tries = 0;
    while (stalls_.contains(sid_key | next_stag_) && tries++ < 0x10000) ++next_stag_;
    if (tries > 0xffff) stall = false;
  }
  if (stall) {
    const uint16_t stag = next_stag_++;
    const uint64_t key = (uint64_t{r.sid.value()} << 16) | stag;
    answered_stags_.erase(key);
    Stall s;
    s.req = r;
    if (done != nullptr) s.done = std::move(*done);
    stalls_.emplace(key, std::move(s));
    stalls_total_->Inc();
    e.stall = true;
    e.stag = stag;
    res.status = TransStatus::kStalled;
    res.stag = stag;
    RecordEvent(e);  // 7.4: never lost
    return res;
  }
  // 5.4 CD.R: terminated translation-related faults are recorded only with
  // R == 1.
  if (related && c != nullptr && !c->record) return res;
  RecordEvent(e);
  return res;
}

pci::DmaResult SmmuV3::Translate(const pci::DmaRequest& req,
                                 pci::DmaCompletion on_complete) {
  const TransResult t = TranslateSlow(PcieRequest(req, req.addr), &on_complete);
  pci::DmaResult d;
  d.status = t.status == TransStatus::kTranslated ? pci::DmaStatus::kTranslated
             : t.status == TransStatus::kStalled  ? pci::DmaStatus::kStalled
                                                  : pci::DmaStatus::kAborted;
  d.pa = t.pa;
  d.writable = t.writable;
  return d;
}

pci::AtsCompletion SmmuV3::AtsTranslate(const pci::DmaRequest& req) {
  // 3.9.1.2, responses to ATS Translation Requests: UR where ATS is
  // disabled (SMMUEN = 0, STE.Config = 0b000, bypass, effective EATS =
  // 0b00), CA on any configuration error, Success with R = W = 0 on a
  // translation, access flag or address size fault, Success with the
  // rights the tables give on a permission fault. No stall (5.5: CD.S has
  // no effect on them) and no fault event.
  using Code = pci::AtsCompletion::Code;
  pci::AtsCompletion out;  // kUnsupported: UR
  if (!config_.ats) return out;  // (no ATS in IDR0: nothing answers)
  // 13.7.1: the Translation Request as the completion rules read it
  // (without a PASID, Data and Unprivileged); `r` becomes the request as
  // the configuration translates it.
  const TransReq tr = PcieRequest(req, req.addr.AlignDown(kPageSize4K));
  TransReq r = tr;
  const auto bad_treq = [&] {
    // 7.3.6 F_BAD_ATS_TREQ: the requested rights, before any override.
    Event e;
    e.type = EventType::kFBadAtsTreq;
    e.sid = tr.sid;
    e.ssv = tr.ssv;
    e.ssid = tr.ssid;
    e.input_addr = tr.va;
    e.rnw = !tr.write;
    RecordEvent(e);
    return out;
  };
  if (!enabled_) return bad_treq();
  TransResult res;
  // 3.9.1.2: translation requests record no configuration events (CR2.
  // REC_CFG_ATS is not implemented: IDR0.ATSRECERR = 0).
  const CfgEntry* c = LookupConfig(r, &res, /*record=*/false);
  if (c == nullptr) {
    // 5.2 STE.V = 0, C_BAD_*, F_STE_FETCH, F_CD_FETCH, F_STREAM_DISABLED:
    // Completer Abort.
    out.code = Code::kCompleterAbort;
    return out;
  }
  if (c->kind == CfgEntry::kAbort) return out;  // 5.2 Config 0b000: UR, no event
  // 7.3.6: ATS not enabled for the stream (Config 0b100 bypass has an
  // effective EATS of 0b00).
  if (c->eats == Ste::kEATSAbort) return bad_treq();
  if (c->kind == CfgEntry::kBypass) {
    // 3.9.1.2: stage 1 skipped by S1DSS in a stage-1-only STE: Success,
    // identity, R = W = 1. (Only requests without a PASID bypass, and
    // their completions' Exe and Priv are reserved, 0: 13.7.1.)
    out.code = Code::kSuccess;
    out.pa = PhysAddr(r.va.value());
    out.read = out.write = true;
    out.priv = tr.priv;
    return out;
  }
  // 13.1.4: the STE's attribute overrides apply to translation requests;
  // 3.9.1: the tag is ignored as for any transaction of the CD (and the
  // endpoint's ATC may hold the page under any tag).
  r = AsTranslated(*c, r);
  WalkRecorder rec;
  arch::FastTranslation t;
  arch::WalkResult w;
  const uint64_t ttag = TlbTag(c->asid, r.va.value());
  const bool ok = WalkCore(*c, r, ttag, &res.latency, &rec, &t, &w);
  PhysAddr last;
  AfterWalk(*c, r, ok, t, ok ? t.reads : w.reads, ok ? t.ad_updates : w.ad_updates, rec,
            rec.start_level, rec.last_level, ttag, tlb_.SetFor(TlbHash(ttag)), TlbProbe::kUnknown,
            &res.latency, &last);
  translate_cycles_.Inc(res.latency);
  out.priv = tr.priv;  // 13.7.1: as the request gave it, whatever PRIVCFG says
  if (ok) return AtsGrant(*c, tr, r, t.perms, t.page, t.page_shift());
  if (w.fault == arch::FaultKind::kBusError || w.fault == arch::FaultKind::kUpdateFailed) {
    out.code = Code::kCompleterAbort;  // F_WALK_EABT: a configuration error
    return out;
  }
  if (w.fault == arch::FaultKind::kPermission) {
    // 3.9.1.2 F_PERMISSION: Success with the rights available (13.7.1).
    // The page's rights come from a privileged read walk without PAN or
    // WXN, which no permission check can fail, so that AtsGrant sees them
    // for either level (an execute-only page grants R and Exe under
    // INSTCFG = Instruction). It reads what the faulting walk read, fills
    // nothing and is not charged: hardware has the rights from the one
    // walk.
    arch::Arm64Stage1Config s1 = Stage1Of(*c);
    s1.pan = s1.wxn = false;
    const arch::WalkResult rw = arch::WalkArm64(mem_, s1, r.va, arch::AccessType{.user = false},
                                                WalkOptionsOf(*c, agent_, r.va.value()));
    if (rw.ok()) {
      const uint64_t page = rw.t.pa.value() & ~((1ull << rw.t.page_shift) - 1);
      return AtsGrant(*c, tr, r, arch::PermsIndex(rw.t.perms), page, rw.t.page_shift);
    }
  }
  // 3.9.1.2: translation, access flag and address size faults: Success
  // with R = W = 0 (the endpoint may then issue a PRI page request).
  out.code = Code::kNotPresent;
  return out;
}

pci::AtsCompletion SmmuV3::AtsGrant(const CfgEntry& c, const TransReq& tr, const TransReq& eff,
                                    uint32_t perms_index, uint64_t page, uint8_t page_shift) const {
  // 13.7.1, the completion's rights: `tr` is the Translation Request,
  // `eff` the request after STE.PRIVCFG/INSTCFG. The page's rights are
  // taken at the effective privilege: readable (ttd_R), writable and
  // executable (ttd_X) by it. W is granted only where requested (NW = 0;
  // 13.7 permits either for NW = 1). CD.PAN and CD.WXN narrow the rights
  // as they narrow a transaction's: a privileged request is granted no
  // data access to a page EL0 may access, and a page writable at the
  // level is not executable at it. (13.7.1 grants what the page allows
  // "by privlevel" without naming PAN; Translated transactions skip stage
  // 1, so granting more would let a device bypass PAN through its ATC.)
  pci::AtsCompletion out;
  const arch::Perms perms = arch::PermsOfIndex(perms_index);
  out.code = pci::AtsCompletion::Code::kSuccess;
  out.page_shift = page_shift;
  out.pa = PhysAddr(page);
  const bool level_ok = eff.priv || perms.user;  // AP grants the level access
  const bool pan = c.pan && eff.priv && perms.user;
  const bool ttd_r = level_ok && !pan;
  const bool ttd_w = ttd_r && perms.write;
  const bool ttd_x =
      (eff.priv ? perms.exec_priv : perms.exec_user) && !(c.wxn && perms.write && level_ok);
  bool r = ttd_r;
  bool x = ttd_r && ttd_x;  // INSTCFG incoming: Exe implies R; an XO page grants nothing
  if (c.instcfg == Ste::kInstInstruction) {
    r = x = ttd_x;  // every read is a fetch: R and Exe are the same
  } else if (c.instcfg == Ste::kInstData) {
    x = ttd_r;  // as if X = R
  }
  out.read = r;
  out.write = tr.write && ttd_w;
  out.exec = tr.exec && x;
  out.priv = tr.priv;
  return out;
}

bool SmmuV3::CheckTranslated(StreamId sid, PhysAddr addr, bool write) {
  // 7.3.8: with CR0.ATSCHK == 1, a Translated transaction is forbidden when
  // the SMMU is disabled, or the STE disallows ATS or bypasses.
  if (!Cr0(cr0::kAtschk)) return true;
  TransReq r{.sid = sid};
  TransResult res;
  const CfgEntry* c = enabled_ ? LookupConfig(r, &res, /*record=*/false) : nullptr;
  const bool ok = c != nullptr && c->kind == CfgEntry::kTranslate &&
                  c->eats != Ste::kEATSAbort;
  if (!ok) {
    Event e;
    e.type = EventType::kFTranslForbidden;
    e.sid = sid;
    e.input_addr = VirtAddr(addr.value());
    e.rnw = !write;
    RecordEvent(e);
  }
  return ok;
}

}  // namespace svaemu::hw::smmuv3
