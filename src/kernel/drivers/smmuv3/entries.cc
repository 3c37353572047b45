// SmmuV3Driver: STE and CD construction and their ordered update
// (arm_smmu_write_entry() and the "used bits" it reasons with).
#include <bit>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "svaemu/kernel/drivers/smmuv3/driver.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel::drivers::smmuv3 {

using namespace ::svaemu::hw::smmuv3;  // NOLINT: spec names throughout

namespace {
mem::Access CpuAccess() { return mem::Access::Cpu(Purpose::kData); }

template <typename Entry>
void Keep(Entry* used, const Entry& src, Field f) {
  used->Set(f, f.Max());
  (void)src;
}
}  // namespace

// arm_smmu_get_ste_used(): the bits the SMMU reads in this STE's state
// (5.2: with V == 0 nothing but V; Config decides which fields matter).
Ste SmmuV3Driver::SteUsed(const Ste& ste) {
  Ste u;
  u.Set(Ste::kV, 1);
  if (!ste.Flag(Ste::kV)) return u;
  u.Set(Ste::kConfig, Ste::kConfig.Max());
  const uint64_t config = ste.Get(Ste::kConfig);
  if (config == Ste::kConfigAbort) return u;
  u.Set(Ste::kEATS, Ste::kEATS.Max());
  u.Set(Ste::kSHCFG, Ste::kSHCFG.Max());
  u.Set(Ste::kSTRW, Ste::kSTRW.Max());
  if (config == Ste::kConfigS1Trans) {
    for (Field f : {Ste::kS1Fmt, Ste::kS1ContextPtr, Ste::kS1CDMax, Ste::kS1DSS,
                    Ste::kS1CIR, Ste::kS1COR, Ste::kS1CSH, Ste::kS1STALLD,
                    Ste::kPPAR}) {
      Keep(&u, ste, f);
    }
  }
  return u;
}

// arm_smmu_get_cd_used(): 5.4 — with V == 0 only V; TTB0 is not read with
// EPD0 = 1 (nor TTB1 with EPD1 = 1), which makes the quiesce of an SVA CD
// a single-word ("hitless") update.
Cd SmmuV3Driver::CdUsed(const Cd& cd) {
  Cd u;
  u.Set(Cd::kV, 1);
  if (!cd.Flag(Cd::kV)) return u;
  u.dw[0] = ~0ull;
  if (!cd.Flag(Cd::kEPD0)) u.Set(Cd::kTTB0, Cd::kTTB0.Max());
  if (!cd.Flag(Cd::kEPD1)) u.Set(Cd::kTTB1, Cd::kTTB1.Max());
  u.Set(Cd::kMAIR, Cd::kMAIR.Max());
  return u;
}

template <typename Entry>
Entry SmmuV3Driver::ReadEntry(PhysAddr pa) const {
  Entry e;
  for (int i = 0; i < Entry::kWords; ++i) {
    e.dw[i] = alloc_.mem().Read64(pa + 8ull * i, CpuAccess());
  }
  return e;
}

namespace {
template <typename Entry>
Entry Used(const Entry& e) {
  if constexpr (std::is_same_v<Entry, Ste>) {
    return SmmuV3Driver::SteUsed(e);
  } else {
    return SmmuV3Driver::CdUsed(e);
  }
}
template <typename Entry>
bool IsValid(const Entry& e) {
  if constexpr (std::is_same_v<Entry, Ste>) {
    return e.Flag(Ste::kV);
  } else {
    return e.Flag(Cd::kV);
  }
}
// The hardware reading `m` behaves as it would reading `x`.
template <typename Entry>
bool Behaves(const Entry& m, const Entry& x) {
  const Entry um = Used(m), ux = Used(x);
  for (int i = 0; i < Entry::kWords; ++i) {
    if (um.dw[i] != ux.dw[i] || (m.dw[i] & um.dw[i]) != (x.dw[i] & ux.dw[i]))
      return false;
  }
  return true;
}
}  // namespace

template <typename Entry>
absl::Status SmmuV3Driver::WriteEntry(PhysAddr pa, const Entry& target,
                                      const std::function<absl::Status()>& sync,
                                      const char* what) {
  const Entry cur = ReadEntry<Entry>(pa);
  Entry mem_img = cur;
  auto write_word = [&](int i, uint64_t v) {
    if (mem_img.dw[i] == v) return;
    alloc_.mem().Write64(pa + 8ull * i, v, CpuAccess());
    mem_img.dw[i] = v;
    write_log_.push_back(
        WriteStep{what, std::vector<uint64_t>(mem_img.dw, mem_img.dw + Entry::kWords)});
    // arm-smmu-v3-test.c: every intermediate state is invalid (V == 0:
    // abort, never a mix) or behaves as the old or the new entry.
    if (config_.check_write_invariant && IsValid(mem_img) &&
        !Behaves(mem_img, cur) && !Behaves(mem_img, target)) {
      ++invariant_failures_;
      log_->error("{} write left an illegal intermediate state", what);
    }
  };
  const Entry used_cur = Used(cur);
  const Entry used_tgt = Used(target);
  // Bits the hardware ignores now can take their target value at once.
  Entry unused_update;
  int critical = 0, critical_word = -1;
  for (int i = 0; i < Entry::kWords; ++i) {
    unused_update.dw[i] = (cur.dw[i] & used_cur.dw[i]) | (target.dw[i] & ~used_cur.dw[i]);
    if ((unused_update.dw[i] & used_tgt.dw[i]) != (target.dw[i] & used_tgt.dw[i])) {
      ++critical;
      critical_word = i;
    }
  }
  absl::Status s;
  if (critical <= 1) {
    // Hitless: unused bits first, then the one word the hardware sees
    // change, then the rest (now unused) — a sync after each step.
    for (int i = 0; i < Entry::kWords; ++i) write_word(i, unused_update.dw[i]);
    if (!(s = sync()).ok()) return s;
    if (critical == 1) {
      write_word(critical_word, target.dw[critical_word]);
      if (!(s = sync()).ok()) return s;
    }
    bool more = false;
    for (int i = 0; i < Entry::kWords; ++i) {
      more |= mem_img.dw[i] != target.dw[i];
      write_word(i, target.dw[i]);
    }
    return more ? sync() : absl::OkStatus();
  }
  // Breaking: V = 0 first, then every other word, then word 0 — a sync
  // after each step.
  const uint64_t v_bit = std::is_same_v<Entry, Ste> ? Ste::kV.Mask() : Cd::kV.Mask();
  write_word(0, cur.dw[0] & ~v_bit);
  if (!(s = sync()).ok()) return s;
  for (int i = 1; i < Entry::kWords; ++i) write_word(i, target.dw[i]);
  if (!(s = sync()).ok()) return s;
  write_word(0, target.dw[0]);
  return sync();
}

absl::Status SmmuV3Driver::AttachMaster(const MasterConfig& mc) {
  const uint32_t sid = mc.sid.value();
  if (masters_.contains(sid)) {
    return absl::AlreadyExistsError(absl::StrCat("master SID ", sid, " already attached"));
  }
  if (sid_bits_ < 32 && (uint64_t{sid} >> sid_bits_) != 0) {
    return absl::OutOfRangeError(absl::StrCat("SID ", sid, " beyond the stream table"));
  }
  Master m;
  m.cfg = mc;
  // arm_smmu_init_l2_strtab(): 5.1 L1STD with Span = SPLIT + 1.
  if (two_level_) {
    const uint32_t l1 = sid >> config_.strtab_split;
    if (!strtab_l2_.contains(l1)) {
      auto t = AllocTable(64ull << config_.strtab_split, mem::FrameUse::kIommuTable,
                          "arm_smmu_init_l2_strtab");
      if (!t.ok()) return t.status();
      strtab_l2_[l1] = *t;
      L1Std d;
      d.Set(L1Std::kSpan, config_.strtab_split + 1u);
      d.Set(L1Std::kL2Ptr, t->value() >> 6);
      alloc_.mem().Write64(strtab_ + 8ull * l1, d.dw[0], CpuAccess());
    }
    m.ste = strtab_l2_[l1] + 64ull * (sid & ((1u << config_.strtab_split) - 1));
  } else {
    m.ste = strtab_ + 64ull * sid;
  }
  // arm_smmu_alloc_cd_tables(): 2-level with 64 KiB leaves when CD2L and
  // more than 2^10 CDs (5.3), else linear.
  const uint8_t bits = std::min(mc.ssid_bits, ssid_bits_);
  m.cd_2lvl = idr0::kCd2l.Get(idr0_) && bits > 10;
  const uint64_t bytes = m.cd_2lvl ? (8ull << (bits - 10)) : (64ull << bits);
  auto t = AllocTable(bytes, mem::FrameUse::kIommuTable, "arm_smmu_alloc_cd_tables");
  if (!t.ok()) return t.status();
  m.cd_table = *t;
  // Stalls: 5.2 S1STALLD / 6.3.1 STALL_MODEL (arm_smmu_master_can_stall).
  const StallModel sm = stall_model();
  m.stall_enabled = sm == StallModel::kStallForced ||
                    (sm == StallModel::kStallAndTerminate && mc.stall);
  const Ste ste = MakeCdTableSte(m, mc.s1dss);
  const PhysAddr ste_pa = m.ste;
  masters_.emplace(sid, std::move(m));
  return WriteEntry(ste_pa, ste, [this, sid] {
    return Submit({MakeCfgiSte(StreamId(sid), /*leaf=*/true)});
  }, "ste");
}

// arm_smmu_make_cdtable_ste().
Ste SmmuV3Driver::MakeCdTableSte(const Master& m, uint64_t s1dss) const {
  const uint8_t bits = std::min(m.cfg.ssid_bits, ssid_bits_);
  const StallModel sm = stall_model();
  Ste ste;
  ste.Set(Ste::kV, 1);
  ste.Set(Ste::kConfig, Ste::kConfigS1Trans);
  ste.Set(Ste::kS1Fmt, m.cd_2lvl ? Ste::kS1Fmt2Lvl64K : Ste::kS1FmtLinear);
  ste.Set(Ste::kS1ContextPtr, m.cd_table.value() >> 6);
  ste.Set(Ste::kS1CDMax, bits);
  ste.Set(Ste::kS1DSS, s1dss);
  ste.Set(Ste::kS1CIR, 1);  // write-back, read/write allocate
  ste.Set(Ste::kS1COR, 1);
  ste.Set(Ste::kS1CSH, 3);  // inner shareable
  ste.Set(Ste::kS1STALLD, sm == StallModel::kStallAndTerminate && !m.cfg.stall);
  ste.Set(Ste::kEATS, m.cfg.ats && idr0::kAts.Get(idr0_) ? Ste::kEATSTrans : Ste::kEATSAbort);
  ste.Set(Ste::kPPAR, m.cfg.pri ? 1 : 0);
  ste.Set(Ste::kSTRW, Ste::kSTRWNsEl1);
  return ste;
}

absl::Status SmmuV3Driver::InstallSte(StreamId sid, SteKind kind, uint64_t s1dss) {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  Master& m = it->second;
  Ste ste;
  switch (kind) {
    case SteKind::kAbort:
      // arm_smmu_make_abort_ste(): 7.3.7, aborted without an event.
      ste.Set(Ste::kV, 1);
      ste.Set(Ste::kConfig, Ste::kConfigAbort);
      break;
    case SteKind::kBypass:
      // arm_smmu_make_bypass_ste(): SHCFG = incoming.
      ste.Set(Ste::kV, 1);
      ste.Set(Ste::kConfig, Ste::kConfigBypass);
      ste.Set(Ste::kSHCFG, 1);
      break;
    case SteKind::kCdTable:
      ste = MakeCdTableSte(m, s1dss);
      break;
  }
  m.ste_kind = kind;
  const uint32_t id = sid.value();
  return WriteEntry(m.ste, ste, [this, id] {
    return Submit({MakeCfgiSte(StreamId(id), /*leaf=*/true)});
  }, "ste");
}

SteKind SmmuV3Driver::ste_kind(StreamId sid) const {
  auto it = masters_.find(sid.value());
  return it == masters_.end() ? SteKind::kAbort : it->second.ste_kind;
}

bool SmmuV3Driver::SsidsInUse(StreamId sid) const {
  auto it = attached_.lower_bound({sid.value(), 0});
  return it != attached_.end() && it->first.first == sid.value();
}

bool SmmuV3Driver::StallEnabled(StreamId sid) const {
  auto it = masters_.find(sid.value());
  return it != masters_.end() && it->second.stall_enabled;
}

absl::StatusOr<PhysAddr> SmmuV3Driver::CdAddress(Master& m, uint32_t ssid,
                                                 bool alloc) {
  const uint8_t bits = std::min(m.cfg.ssid_bits, ssid_bits_);
  if (bits < 32 && (uint64_t{ssid} >> bits) != 0) {
    return absl::OutOfRangeError(absl::StrCat("SSID ", ssid, " beyond S1CDMax"));
  }
  if (!m.cd_2lvl) return m.cd_table + 64ull * ssid;
  const uint32_t l1 = ssid >> 10;
  auto it = m.cd_l2.find(l1);
  if (it == m.cd_l2.end()) {
    if (!alloc) return absl::NotFoundError("no CD leaf table for this SSID");
    // arm_smmu_alloc_cd_ptr(): a 64 KiB leaf, then the L1CD (5.3). An
    // invalid L1CD is never cached, so no invalidation is needed.
    auto t = AllocTable(64ull << 10, mem::FrameUse::kIommuTable, "arm_smmu_alloc_cd_ptr");
    if (!t.ok()) return t.status();
    L1Cd d;
    d.Set(L1Cd::kV, 1);
    d.Set(L1Cd::kL2Ptr, t->value() >> 12);
    alloc_.mem().Write64(m.cd_table + 8ull * l1, d.dw[0], CpuAccess());
    it = m.cd_l2.emplace(l1, *t).first;
  }
  return it->second + 64ull * (ssid & 1023);
}

Cd SmmuV3Driver::MakeSvaCd(const Master& m, PhysAddr pgd, Asid asid) const {
  // arm_smmu_make_s1_cd() for an mm (arm_smmu_make_sva_cd): 5.4.
  Cd cd;
  cd.Set(Cd::kT0SZ, 16);  // 48-bit VA
  cd.Set(Cd::kTG0, Cd::kTG0_4K);
  cd.Set(Cd::kIR0, 1);
  cd.Set(Cd::kOR0, 1);
  cd.Set(Cd::kSH0, 3);
  cd.Set(Cd::kEPD1, 1);  // never walk the kernel half (TTB1)
  cd.Set(Cd::kV, 1);
  cd.Set(Cd::kIPS, AddressSizeEncoding(oas_bits_));
  cd.Set(Cd::kAA64, 1);
  const uint64_t httu = idr0::kHttu.Get(idr0_);
  cd.Set(Cd::kHA, httu >= 1);
  cd.Set(Cd::kHD, httu >= 2);
  // 5.5: CD.S is 1 exactly when the master stalls (ILLEGAL otherwise with
  // STALL_MODEL 0b10 or, with S1STALLD, 0b00), as arm_smmu_make_s1_cd().
  cd.Set(Cd::kS, m.stall_enabled);
  cd.Set(Cd::kR, 1);
  cd.Set(Cd::kA, 1);
  cd.Set(Cd::kASET, 1);  // shared ASID: broadcast TLBI would apply
  cd.Set(Cd::kASID, asid.value());
  cd.Set(Cd::kTTB0, pgd.value() >> 4);
  cd.Set(Cd::kMAIR, 0x000000ff440c0400ull);  // carried, not interpreted
  return cd;
}

absl::Status SmmuV3Driver::WriteCd(StreamId sid, uint32_t ssid, const Cd& cd) {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  auto pa = CdAddress(it->second, ssid, /*alloc=*/true);
  if (!pa.ok()) return pa.status();
  return WriteEntry(*pa, cd, [this, sid, ssid] {
    return Submit({MakeCfgiCd(sid, ssid, /*leaf=*/true)});
  }, "cd");
}

absl::Status SmmuV3Driver::WriteSvaCd(StreamId sid, uint32_t ssid, PhysAddr pgd,
                                      Asid asid) {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  return WriteCd(sid, ssid, MakeSvaCd(it->second, pgd, asid));
}

absl::Status SmmuV3Driver::WritePagingCd(StreamId sid, uint32_t ssid, PhysAddr ttb0,
                                         Asid asid) {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  // arm_smmu_make_s1_cd(): the SVA CD's translation regime, with a private
  // ASID (ASET = 0), no hardware A/D updates (HA = HD = 0: no dirty
  // tracking asked for) and no stalls unless STALL_MODEL forces them (5.5:
  // CD.S == 0 is then ILLEGAL).
  Cd cd = MakeSvaCd(it->second, ttb0, asid);
  cd.Set(Cd::kASET, 0);
  cd.Set(Cd::kHA, 0);
  cd.Set(Cd::kHD, 0);
  cd.Set(Cd::kS, stall_model() == StallModel::kStallForced);
  return WriteCd(sid, ssid, cd);
}

absl::Status SmmuV3Driver::QuiesceCd(StreamId sid, uint32_t ssid) {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  auto pa = CdAddress(it->second, ssid, /*alloc=*/false);
  if (!pa.ok()) return pa.status();
  Cd cd = ReadEntry<Cd>(*pa);
  if (!cd.Flag(Cd::kV)) return absl::FailedPreconditionError("CD not valid");
  // arm_smmu_mm_release(): keep the CD valid (faults, not C_BAD_CD) but
  // stop walks: EPD0 = 1.
  cd.Set(Cd::kEPD0, 1);
  absl::Status s = WriteEntry(*pa, cd, [this, sid, ssid] {
    return Submit({MakeCfgiCd(sid, ssid, /*leaf=*/true)});
  }, "cd");
  if (!s.ok()) return s;
  return TlbiAsid(Asid(static_cast<uint16_t>(cd.Get(Cd::kASID))));
}

absl::Status SmmuV3Driver::ClearCd(StreamId sid, uint32_t ssid) {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  auto pa = CdAddress(it->second, ssid, /*alloc=*/false);
  if (!pa.ok()) return pa.status();
  return WriteEntry(*pa, Cd{}, [this, sid, ssid] {
    return Submit({MakeCfgiCd(sid, ssid, /*leaf=*/true)});
  }, "cd");
}

absl::StatusOr<Cd> SmmuV3Driver::ReadCd(StreamId sid, uint32_t ssid) const {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  Master& m = const_cast<Master&>(it->second);
  auto pa = const_cast<SmmuV3Driver*>(this)->CdAddress(m, ssid, false);
  if (!pa.ok()) return pa.status();
  return ReadEntry<Cd>(*pa);
}

absl::StatusOr<PhysAddr> SmmuV3Driver::SteAddress(StreamId sid) const {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  return it->second.ste;
}

absl::StatusOr<PhysAddr> SmmuV3Driver::CdAddressOf(StreamId sid, uint32_t ssid) const {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  return const_cast<SmmuV3Driver*>(this)->CdAddress(
      const_cast<Master&>(it->second), ssid, /*alloc=*/false);
}

absl::StatusOr<Ste> SmmuV3Driver::ReadSte(StreamId sid) const {
  auto it = masters_.find(sid.value());
  if (it == masters_.end()) return absl::NotFoundError("no such master");
  return ReadEntry<Ste>(it->second.ste);
}

}  // namespace svaemu::kernel::drivers::smmuv3
