#include "svaemu/hw/smmuv3/tables.h"

#include <algorithm>
#include <bit>

#include "svaemu/hw/smmuv3/smmuv3.h"

namespace svaemu::hw::smmuv3 {

static_assert(std::endian::native == std::endian::little,
              "Words<N> byte images assume a little-endian host");

const char* IllegalName(Illegal i) {
  switch (i) {
    case Illegal::kNone:
      return "none";
    case Illegal::kStage2NotSupported: return "stage2_not_supported";
    case Illegal::kS1CDMaxTooLarge: return "s1cdmax_too_large";
    case Illegal::kS1FmtNoCd2l:
      return "s1fmt_2lvl_without_cd2l";
    case Illegal::kStrwReserved: return "strw_reserved";
    case Illegal::kEatsSplit:
      return "eats_split_without_nested";
    case Illegal::kS1StalldWithStallModel:
      return "s1stalld_with_stall_model";
    case Illegal::kContextPtrRange: return "context_ptr_out_of_range";
    case Illegal::kCdInvalid: return "cd_invalid";
    case Illegal::kCdAa32: return "cd_aa32";
    case Illegal::kCdT0szRange: return "cd_t0sz_range";
    case Illegal::kCdT1szRange: return "cd_t1sz_range";
    case Illegal::kCdGranule: return "cd_granule";
    case Illegal::kCdEndianness:
      return "cd_endianness";
    case Illegal::kCdHttu: return "cd_httu";
    case Illegal::kCdStall: return "cd_stall";
    case Illegal::kCdAbortTermination:
      return "cd_abort_termination";
    case Illegal::kCdAsid16:
      return "cd_asid16";
    case Illegal::kCdTtbRange: return "cd_ttb_range";
    case Illegal::kCdNotModelled: return "cd_not_modelled";
  }
  return "?";
}

// 5.2 STE.Config: "0b0xx Reserved (behaves as 0b000)".
uint64_t EffectiveConfig(const Ste& ste) {
  const uint64_t config = ste.Get(Ste::kConfig);
  return (config & 0b100) != 0 ? config : Ste::kConfigAbort;
}
// 5.2 STE.S1Fmt: "0b11 Reserved (behaves as 0b00)".
uint64_t EffectiveS1Fmt(const Ste& ste) {
  const uint64_t fmt = ste.Get(Ste::kS1Fmt);
  return fmt == 0b11 ? Ste::kS1FmtLinear : fmt;
}
// 5.2 STE.S1DSS: "0b11 Reserved (behaves as 0b00)".
uint64_t EffectiveS1Dss(const Ste& ste) {
  const uint64_t dss = ste.Get(Ste::kS1DSS);
  return dss == 0b11 ? Ste::kS1DSSTerminate : dss;
}
// 5.2 STE.EATS: IGNORED when IDR0.ATS == 0 or STE.Config[1:0] == 0b00;
// 0b11 is reserved and behaves as 0b00 without IDR3.DPT (not modelled).
uint64_t EffectiveEats(const Ste& ste, const SmmuV3Config& cfg) {
  const uint64_t eats = ste.Get(Ste::kEATS);
  if (!cfg.ats || (EffectiveConfig(ste) & 0b11) == 0 || eats == 0b11) return Ste::kEATSAbort;
  return eats;
}

Illegal ValidateSte(const Ste& ste, const SmmuV3Config& cfg) {
  // 5.2 STE.Config: stage 2 needs IDR0.S2P (0 here); 0b0xx and 0b100 use
  // nothing else of the STE.
  const uint64_t config = EffectiveConfig(ste);
  if (config == Ste::kConfigS2Trans || config == Ste::kConfigNested)
    return Illegal::kStage2NotSupported;
  if (config != Ste::kConfigS1Trans) return Illegal::kNone;
  // 5.2 STE.EATS: 0b10 (split-stage ATS) is ILLEGAL unless Config == 0b111.
  if (EffectiveEats(ste, cfg) == 0b10) return Illegal::kEatsSplit;
  // 5.2 STE.S1CDMax: larger than IDR1.SSIDSIZE is ILLEGAL.
  const uint64_t cdmax = ste.Get(Ste::kS1CDMax);
  if (cdmax > cfg.ssid_bits) return Illegal::kS1CDMaxTooLarge;
  // 5.2 STE.S1Fmt (only used when S1CDMax > 0): 2-level formats need
  // IDR0.CD2L (5.2.2; 0b11 behaves as 0b00).
  if (cdmax != 0 && EffectiveS1Fmt(ste) != Ste::kS1FmtLinear && !cfg.cd2l)
    return Illegal::kS1FmtNoCd2l;
  // 5.2 STE.STRW: 0b01 and 0b11 reserved; 0b10 (EL2) needs E2H support,
  // which is not modelled.
  if (ste.Get(Ste::kSTRW) != Ste::kSTRWNsEl1) return Illegal::kStrwReserved;
  // 5.2 STE.S1STALLD: "if stage 1 is enabled and STALL_MODEL is not 0b00,
  // it is ILLEGAL to set this field to 1".
  if (ste.Flag(Ste::kS1STALLD) && cfg.stall_model != StallModel::kStallAndTerminate)
    return Illegal::kS1StalldWithStallModel;
  // 3.4.3: a context pointer beyond the OAS is out of range.
  if (ste.s1_context_ptr().value() >> cfg.oas_bits) return Illegal::kContextPtrRange;
  return Illegal::kNone;
}

Illegal ValidateCd(const Cd& cd, const SmmuV3Config& cfg, bool s1stalld) {
  // 5.4.2: V == 0 makes the CD invalid (C_BAD_CD).
  if (!cd.Flag(Cd::kV)) return Illegal::kCdInvalid;
  // 5.4 CD.AA64: VMSAv8-32 LPAE needs IDR0.TTF to include AArch32.
  if (!cd.Flag(Cd::kAA64)) return Illegal::kCdAa32;
  const bool epd0 = cd.Flag(Cd::kEPD0);
  const bool epd1 = cd.Flag(Cd::kEPD1);
  // 5.4 CD.T0SZ/T1SZ: with IDR3.STT == 0 the valid range is [16, 39].
  const uint64_t t0sz = cd.Get(Cd::kT0SZ);
  const uint64_t t1sz = cd.Get(Cd::kT1SZ);
  if (!epd0 && (t0sz < 16 || t0sz > 39)) return Illegal::kCdT0szRange;
  if (!epd1 && (t1sz < 16 || t1sz > 39)) return Illegal::kCdT1szRange;
  // 5.4 CD.TG0/TG1: a granule not listed in IDR5 (only 4 KiB here).
  if (!epd0 && cd.Get(Cd::kTG0) != Cd::kTG0_4K) return Illegal::kCdGranule;
  if (!epd1 && cd.Get(Cd::kTG1) != Cd::kTG1_4K) return Illegal::kCdGranule;
  // 5.4 CD.ENDI: with IDR0.TTENDIAN == 0b10 (little-endian tables only) it
  // is ILLEGAL to set ENDI, unless both EPDs are 1 (then it is IGNORED).
  if (cd.Flag(Cd::kENDI) && !(epd0 && epd1)) return Illegal::kCdEndianness;
  // 5.4 CD.HA/HD: RES0 beyond IDR0.HTTU; we treat a set bit there as
  // ILLEGAL so that a driver bug is visible.
  if (cd.Flag(Cd::kHA) && cfg.httu < 1) return Illegal::kCdHttu;
  if (cd.Flag(Cd::kHD) && cfg.httu < 2) return Illegal::kCdHttu;
  // 5.5: CD.S == 1 is ILLEGAL with STALL_MODEL 0b01, or with 0b00 and
  // STE.S1STALLD == 1; CD.S == 0 is ILLEGAL with STALL_MODEL 0b10.
  const bool s = cd.Flag(Cd::kS);
  switch (cfg.stall_model) {
    case StallModel::kStallAndTerminate:
      if (s && s1stalld) return Illegal::kCdStall;
      break;
    case StallModel::kTerminateOnly:
      if (s) return Illegal::kCdStall;
      break;
    case StallModel::kStallForced:
      if (!s) return Illegal::kCdStall;
      break;
  }
  // 5.5: with IDR0.TERM_MODEL == 1 (the model's: terminations always
  // abort), CD.A == 0 is ILLEGAL.
  if (!cd.Flag(Cd::kA)) return Illegal::kCdAbortTermination;
  // 5.4 CD.ASID: with 8-bit ASIDs, ASID[15:8] != 0 is ILLEGAL.
  if (!cfg.asid16 && (cd.Get(Cd::kASID) >> 8) != 0) return Illegal::kCdAsid16;
  // 5.4 CD.TTB0/TTB1 and 3.4: a table base outside the effective IPS,
  // MIN(CD.IPS, IDR5.OAS), is ILLEGAL (C_BAD_CD, not an Address size
  // fault); a disabled half's base is not checked.
  const unsigned ips = std::min<unsigned>(AddressSizeBits(cd.Get(Cd::kIPS)), cfg.oas_bits);
  if (!epd0 && (cd.ttb0().value() >> ips) != 0) return Illegal::kCdTtbRange;
  if (!epd1 && (cd.ttb1().value() >> ips) != 0) return Illegal::kCdTtbRange;
  // Legal but outside the model: regions other than 48 bits.
  if ((!epd0 && t0sz != 16) || (!epd1 && t1sz != 16)) return Illegal::kCdNotModelled;
  return Illegal::kNone;
}

}  // namespace svaemu::hw::smmuv3
