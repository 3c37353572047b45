#include "svaemu/hw/smmuv3/tables.h"

#include <bit>

#include "svaemu/hw/smmuv3/smmuv3.h"

namespace svaemu::hw::smmuv3 {

static_assert(std::endian::native == std::endian::little,
              "Words<N> byte images assume a little-endian host");

const char* IllegalName(Illegal i) {
  switch (i) {
    case Illegal::kNone: return "none";
    case Illegal::kReservedConfig: return "reserved_config";
    case Illegal::kStage2NotSupported: return "stage2_not_supported";
    case Illegal::kS1CDMaxTooLarge: return "s1cdmax_too_large";
    case Illegal::kS1FmtReserved: return "s1fmt_reserved";
    case Illegal::kS1DSSReserved: return "s1dss_reserved";
    case Illegal::kStrwReserved: return "strw_reserved";
    case Illegal::kEatsNoAts: return "eats_without_ats";
    case Illegal::kS1StalldForced: return "s1stalld_with_stall_forced";
    case Illegal::kContextPtrRange: return "context_ptr_out_of_range";
    case Illegal::kCdInvalid: return "cd_invalid";
    case Illegal::kCdAa32: return "cd_aa32";
    case Illegal::kCdT0szRange: return "cd_t0sz_range";
    case Illegal::kCdT1szRange: return "cd_t1sz_range";
    case Illegal::kCdGranule: return "cd_granule";
    case Illegal::kCdHttu: return "cd_httu";
    case Illegal::kCdStall: return "cd_stall";
    case Illegal::kCdTtbRange: return "cd_ttb_range";
    case Illegal::kCdNotModelled: return "cd_not_modelled";
  }
  return "?";
}

Illegal ValidateSte(const Ste& ste, const SmmuV3Config& cfg) {
  // 5.2 STE.Config: 0b001-0b011 reserved; stage 2 needs IDR0.S2P (0 here).
  const uint64_t config = ste.Get(Ste::kConfig);
  if (config != Ste::kConfigAbort && (config & 0b100) == 0)
    return Illegal::kReservedConfig;
  if (config == Ste::kConfigS2Trans || config == Ste::kConfigNested)
    return Illegal::kStage2NotSupported;
  // 5.2 STE.EATS: non-zero is ILLEGAL when IDR0.ATS == 0 (checked for every
  // enabled configuration).
  if (config != Ste::kConfigAbort && ste.Get(Ste::kEATS) != 0 && !cfg.ats)
    return Illegal::kEatsNoAts;
  if (config != Ste::kConfigS1Trans) return Illegal::kNone;
  // 5.2 STE.S1CDMax: larger than IDR1.SSIDSIZE is ILLEGAL.
  const uint64_t cdmax = ste.Get(Ste::kS1CDMax);
  if (cdmax > cfg.ssid_bits) return Illegal::kS1CDMaxTooLarge;
  // 5.2 STE.S1Fmt (only used when S1CDMax > 0): 0b11 reserved; 2-level
  // formats need IDR0.CD2L.
  if (cdmax != 0) {
    const uint64_t fmt = ste.Get(Ste::kS1Fmt);
    if (fmt == 0b11 || (fmt != Ste::kS1FmtLinear && !cfg.cd2l))
      return Illegal::kS1FmtReserved;
    // 5.2 STE.S1DSS: 0b11 reserved.
    if (ste.Get(Ste::kS1DSS) == 0b11) return Illegal::kS1DSSReserved;
  }
  // 5.2 STE.STRW: 0b01 and 0b11 reserved; 0b10 (EL2) needs E2H support,
  // which is not modelled.
  if (ste.Get(Ste::kSTRW) != Ste::kSTRWNsEl1) return Illegal::kStrwReserved;
  // 5.2 STE.S1STALLD: ILLEGAL when IDR0.STALL_MODEL == 0b10 (stall forced).
  if (ste.Flag(Ste::kS1STALLD) && cfg.stall_model == StallModel::kStallForced)
    return Illegal::kS1StalldForced;
  // 3.4.3: a context pointer beyond the OAS is out of range.
  if (ste.s1_context_ptr().value() >> cfg.oas_bits) return Illegal::kContextPtrRange;
  return Illegal::kNone;
}

Illegal ValidateCd(const Cd& cd, const SmmuV3Config& cfg, bool stall_allowed) {
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
  // 5.4 CD.HA/HD: RES0 beyond IDR0.HTTU; we treat a set bit there as
  // ILLEGAL so that a driver bug is visible.
  if (cd.Flag(Cd::kHA) && cfg.httu < 1) return Illegal::kCdHttu;
  if (cd.Flag(Cd::kHD) && cfg.httu < 2) return Illegal::kCdHttu;
  // 5.4 CD.S: ILLEGAL when STE.S1STALLD == 1 or STALL_MODEL == 0b01.
  if (cd.Flag(Cd::kS) && !stall_allowed) return Illegal::kCdStall;
  // 3.4.3: table bases beyond the OAS.
  if (!epd0 && (cd.ttb0().value() >> cfg.oas_bits) != 0) return Illegal::kCdTtbRange;
  if (!epd1 && (cd.ttb1().value() >> cfg.oas_bits) != 0) return Illegal::kCdTtbRange;
  // Legal but outside the model: regions other than 48 bits.
  if ((!epd0 && t0sz != 16) || (!epd1 && t1sz != 16)) return Illegal::kCdNotModelled;
  return Illegal::kNone;
}

}  // namespace svaemu::hw::smmuv3
