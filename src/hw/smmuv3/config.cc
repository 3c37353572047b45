// SmmuV3 translation slow path, up to the walk: the configuration of a
// request (stream table, STE, CD table, CD) fetched and validated (5.1-5.4)
// through the configuration cache, with the C_BAD_* and F_*_FETCH events.
#include <algorithm>
#include <utility>

#include "svaemu/arch/arm64.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"
#include "walk_config.h"

namespace svaemu::hw::smmuv3 {

namespace {

template <int N>
bool ReadWords(mem::PhysMem& mem, PhysAddr pa, const mem::Access& a,
               Words<N>* out) {
  for (int i = 0; i < N; ++i) {
    if (!mem.Read64(pa + 8ull * i, a, &out->dw[i])) return false;
  }
  return true;
}

}  // namespace

TransResult SmmuV3::TranslateSlow(const TransReq& r, pci::DmaCompletion* done) {
  // A retried stall holds the request as translated: start again from the
  // address as given (the CD's TBI may have changed since).
  if (r.tbi_tag) [[unlikely]]
    return TranslateSlow(AsGiven(r), done);
  TransResult res;
  if (!enabled_) {
    // 3.3 / 6.3.14: with SMMUEN == 0, GBPA decides bypass or abort.
    if (gbpa::kAbort.Get(Reg(kGbpa))) return res;
    res.status = TransStatus::kTranslated;
    res.pa = PhysAddr(r.va.value());
    res.writable = true;
    return res;
  }
  const CfgEntry* c = LookupConfig(r, &res);
  if (c == nullptr) {
    translate_cycles_.Inc(res.latency);
    return res;
  }
  if (c->kind == CfgEntry::kAbort) {
    // 7.3.7: STE.Config == 0b000 terminates without an event.
    translate_cycles_.Inc(res.latency);
    return res;
  }
  if (c->kind == CfgEntry::kBypass) {
    res.status = TransStatus::kTranslated;
    res.pa = PhysAddr(r.va.value());
    res.writable = true;
    translate_cycles_.Inc(res.latency);
    return res;
  }
  return Walk(*c, AsTranslated(*c, r), res.latency, done);
}

const CfgEntry* SmmuV3::LookupConfig(const TransReq& r, TransResult* res,
                                     bool record) {
  const uint64_t tag = CfgTag(r.sid.value(), r.ssv, r.ssid);
  res->latency += cache_lookup_cycles_;
  if (CfgEntry* e = cfg_.Find(cfg_.SetFor(CfgHash(tag)), tag)) {
    cfg_stats_.hits.Inc();
    // (Without the fast path the inline check never matches; an entry with
    // attribute overrides is left to the general path, which applies them.)
    if (config_.fast_path && !e->OverridesAttrs()) last_cfg_ = e;
    return e;
  }
  cfg_stats_.misses.Inc();
  return FetchConfig(r, res, record);
}

const CfgEntry* SmmuV3::ConfigError(const TransReq& r, TransResult* res,
                                    EventType type, PhysAddr fetch,
                                    bool record) {
  res->fault = type;
  res->status = TransStatus::kAborted;
  if (!record) return nullptr;
  Event e;
  e.type = type;
  e.sid = r.sid;
  e.ssv = r.ssv || type == EventType::kCBadSubstreamid;
  e.ssid = r.ssid;
  e.fetch_addr = fetch;
  e.input_addr = r.va;
  e.rnw = !r.write;
  e.pnu = r.priv;
  e.ind = IsInstruction(r.write, r.exec);
  e.cls = EventClass::kCd;
  RecordEvent(e);
  return nullptr;
}

const CfgEntry* SmmuV3::FetchConfig(const TransReq& r, TransResult* res,
                                    bool record) {
  const uint32_t sid = r.sid.value();
  mem::Access a;
  a.agent = agent_;
  a.purpose = Purpose::kTableFetch;
  const uint64_t base_cfg = Reg(kStrtabBaseCfg);
  const PhysAddr base(strtab_base::kAddr.Get(Reg(kStrtabBase)) << 6);
  const uint64_t log2size = strtab_base_cfg::kLog2size.Get(base_cfg);
  // 5.1/6.3.25: a StreamID beyond the table (or SIDSIZE) is C_BAD_STREAMID,
  // recorded only with CR2.RECINVSID (6.3.12).
  const bool rec_inv = cr2::kRecinvsid.Get(Reg(kCr2)) != 0;
  if (sid >= (1ull << std::min<uint64_t>(log2size, config_.sid_bits))) {
    return ConfigError(r, res, EventType::kCBadStreamid, {}, record && rec_inv);
  }
  PhysAddr ste_pa;
  const uint64_t fmt = strtab_base_cfg::kFmt.Get(base_cfg);
  if (fmt == 0b01 && config_.two_level_strtab) {
    // 5.1: 2-level: L1 index SID[n:SPLIT], L2 index SID[SPLIT-1:0].
    const uint64_t split = EffectiveSplit(strtab_base_cfg::kSplit.Get(base_cfg));
    const PhysAddr l1_pa = base + 8ull * (sid >> split);
    L1Std l1;
    res->latency += sim_.cost().mem_read;
    if (!ReadWords(mem_, l1_pa, a, &l1)) {
      return ConfigError(r, res, EventType::kFSteFetch, l1_pa, record);
    }
    const uint64_t span = l1.Get(L1Std::kSpan);
    const uint64_t l2_index = sid & ((1ull << split) - 1);
    // 5.1, 7.3.3: Span 0 (invalid), 12-31 (reserved, behave as 0), above
    // SPLIT + 1, or an index beyond 2^(Span-1): C_BAD_STREAMID, recorded
    // only with CR2.RECINVSID.
    if (span == 0 || span > 11 || span > split + 1 || l2_index >= (1ull << (span - 1))) {
      return ConfigError(r, res, EventType::kCBadStreamid, {}, record && rec_inv);
    }
    ste_pa = l1.l2ptr() + 64 * l2_index;
  } else {
    ste_pa = base + 64ull * sid;
  }
  Ste ste;
  res->latency += sim_.cost().mem_read;
  if (!ReadWords(mem_, ste_pa, a, &ste)) {
    return ConfigError(r, res, EventType::kFSteFetch, ste_pa, record);
  }
  // 5.2: V == 0 or an ILLEGAL field: C_BAD_STE.
  if (!ste.Flag(Ste::kV) || ValidateSte(ste, config_) != Illegal::kNone) {
    return ConfigError(r, res, EventType::kCBadSte, {}, record);
  }
  CfgEntry e;
  e.tag = CfgTag(sid, r.ssv, r.ssid);
  e.sid = sid;
  e.eats = static_cast<uint8_t>(EffectiveEats(ste, config_));
  e.ppar = ste.Flag(Ste::kPPAR);
  if (config_.attr_perms_ovr) {
    // 5.2: 0b01 is reserved and behaves as 0b00 (use the incoming attribute).
    const auto effective = [](uint64_t v) { return static_cast<uint8_t>(v == 0b01 ? 0 : v); };
    e.privcfg = effective(ste.Get(Ste::kPRIVCFG));
    e.instcfg = effective(ste.Get(Ste::kINSTCFG));
  }
  const uint64_t config = EffectiveConfig(ste);
  if (config == Ste::kConfigAbort) {
    e.kind = CfgEntry::kAbort;
  } else if (config == Ste::kConfigBypass) {
    // 7.3.9: a SubstreamID with stage 1 disabled is C_BAD_SUBSTREAMID.
    if (r.ssv) return ConfigError(r, res, EventType::kCBadSubstreamid, {}, record);
    e.kind = CfgEntry::kBypass;
  } else {
    const uint64_t cdmax = ste.Get(Ste::kS1CDMax);
    const uint64_t dss = EffectiveS1Dss(ste);
    uint32_t cd_index = 0;
    e.kind = CfgEntry::kTranslate;
    if (r.ssv) {
      // 7.3.9: substreams disabled, or SubstreamID >= 2^S1CDMax.
      if (cdmax == 0 || r.ssid >= (1ull << cdmax) || config_.ssid_bits == 0) {
        return ConfigError(r, res, EventType::kCBadSubstreamid, {}, record);
      }
      // 7.3.7: SubstreamID 0 is reserved with S1DSS == 0b10.
      if (dss == Ste::kS1DSSSsid0 && r.ssid == 0) {
        return ConfigError(r, res, EventType::kFStreamDisabled, {}, record);
      }
      cd_index = r.ssid;
    } else if (cdmax != 0) {
      // 5.2 STE.S1DSS: what happens to traffic without a SubstreamID.
      if (dss == Ste::kS1DSSTerminate) {
        return ConfigError(r, res, EventType::kFStreamDisabled, {}, record);
      }
      if (dss == Ste::kS1DSSBypass) e.kind = CfgEntry::kBypass;
    }
    if (e.kind == CfgEntry::kTranslate) {
      e.with_cd = true;
      e.cd_index = cd_index;
      PhysAddr cd_pa;
      const uint64_t s1fmt = EffectiveS1Fmt(ste);
      if (cdmax == 0 || s1fmt == Ste::kS1FmtLinear) {
        cd_pa = ste.s1_context_ptr() + 64ull * cd_index;
      } else {
        // 5.3: L1CD index SSID[n:split], L2 index SSID[split-1:0].
        const unsigned split = CdL2Split(s1fmt);
        const PhysAddr l1_pa = ste.s1_context_ptr() + 8ull * (cd_index >> split);
        L1Cd l1;
        res->latency += sim_.cost().mem_read;
        if (!ReadWords(mem_, l1_pa, a, &l1)) {
          return ConfigError(r, res, EventType::kFCdFetch, l1_pa, record);
        }
        // 7.3.9: an L1CD with V == 0 (or L2Ptr out of range).
        if (!l1.Flag(L1Cd::kV) || (l1.l2ptr().value() >> config_.oas_bits) != 0) {
          TransReq rr = r;
          rr.ssid = cd_index;
          return ConfigError(rr, res, EventType::kCBadSubstreamid, {}, record);
        }
        cd_pa = l1.l2ptr() + 64ull * (cd_index & ((1u << split) - 1));
      }
      Cd cd;
      res->latency += sim_.cost().mem_read;
      if (!ReadWords(mem_, cd_pa, a, &cd)) {
        return ConfigError(r, res, EventType::kFCdFetch, cd_pa, record);
      }
      const Illegal ill = ValidateCd(cd, config_, ste.Flag(Ste::kS1STALLD));
      if (ill != Illegal::kNone) {
        if (ill == Illegal::kCdNotModelled) cd_not_modelled_->Inc();
        return ConfigError(r, res, EventType::kCBadCd, {}, record);
      }
      e.asid = static_cast<uint16_t>(cd.Get(Cd::kASID));
      e.epd0 = cd.Flag(Cd::kEPD0);
      e.epd1 = cd.Flag(Cd::kEPD1);
      e.ha = cd.Flag(Cd::kHA);
      e.hd = cd.Flag(Cd::kHD);
      e.had0 = cd.Flag(Cd::kHAD0);
      e.had1 = cd.Flag(Cd::kHAD1);
      e.affd = cd.Flag(Cd::kAFFD);  // IGNORED with HA (5.4)
      // 5.4 CD.TBI0/TBI1 (bits 38, 39), CD.WXN (36), CD.PAN (40). UWXN is
      // IGNORED for VMSAv8-64 tables.
      e.tbi0 = (cd.Get(Cd::kTBI) & 1) != 0;
      e.tbi1 = (cd.Get(Cd::kTBI) & 2) != 0;
      e.wxn = cd.Flag(Cd::kWXN);
      e.pan = cd.Flag(Cd::kPAN);
      e.ok_controls =
          static_cast<uint8_t>((e.pan ? CfgEntry::kOkPan : 0) | (e.wxn ? CfgEntry::kOkWxn : 0));
      // 5.5: a legal CD's S is 1 with STALL_MODEL 0b10 and 0 with 0b01.
      e.stall = cd.Flag(Cd::kS);
      e.record = cd.Flag(Cd::kR);
      // 5.4 CD.IPS: an IPS above IDR5.OAS behaves as OAS.
      const unsigned ips = AddressSizeBits(cd.Get(Cd::kIPS));
      e.oa_bits = static_cast<uint8_t>(std::min<unsigned>(ips, config_.oas_bits));
      e.ttb0 = cd.ttb0();
      e.ttb1 = cd.ttb1();
      // Checker contract: remember which address space each root belonged
      // to when the CD was fetched; every walk from this entry uses it.
      e.space0 = mem_.Meta(e.ttb0).space;
      e.space1 = mem_.Meta(e.ttb1).space;
      for (int half = 0; half < 2; ++half) {
        e.walkers[half] = arch::MakeArm64Walker(Stage1Of(e), WalkOptionsOf(e, agent_, 0), half);
      }
    }
  }
  CfgEntry* slot = nullptr;
  const bool evicted = cfg_.Fill(cfg_.SetFor(CfgHash(e.tag)), e.tag, [&](CfgEntry& d) {
    d = e;  // (the tag again after, as every fill stores it)
    slot = &d;
  });
  cfg_stats_.insertions.Inc();
  if (evicted) cfg_stats_.evictions.Inc();
  if (config_.fast_path && !slot->OverridesAttrs()) last_cfg_ = slot;
  return slot;
}

}  // namespace svaemu::hw::smmuv3
