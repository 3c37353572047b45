// SMMUv3 configuration structures in memory: the Stream table (linear and
// 2-level), the Stream Table Entry, the Context Descriptor table (linear and
// 2-level) and the Context Descriptor (IHI 0070 chapter 5).
//
// Each structure is a Words<N> with its fields listed beside the section
// that defines them; encoders and decoders are the Get/Set of those fields,
// so a round trip is exact on every bit. Validation (which values make an
// entry ILLEGAL and raise C_BAD_STE / C_BAD_CD) lives in ValidateSte and
// ValidateCd, citing 5.2 and 5.4.
//
// Thread-safety: value types.
#ifndef SVAEMU_HW_SMMUV3_TABLES_H_
#define SVAEMU_HW_SMMUV3_TABLES_H_

#include <cstdint>

#include "svaemu/base/strong_types.h"
#include "svaemu/hw/smmuv3/fields.h"

namespace svaemu::hw::smmuv3 {

struct SmmuV3Config;

// 5.1 Level 1 Stream Table Descriptor (8 bytes).
struct L1Std : Words<1> {
  static constexpr Field kSpan{0, 4, 0};     // L2 holds 2^(Span-1) STEs; 0 invalid
  static constexpr Field kL2Ptr{0, 51, 6};   // address bits [51:6]
  PhysAddr l2ptr() const { return PhysAddr(Get(kL2Ptr) << 6); }
};
// 6.3.25 STRTAB_BASE_CFG.SPLIT: 6, 8 or 10 (4, 16, 64 KiB level-2
// tables); other values are reserved and behave as 6.
constexpr uint64_t EffectiveSplit(uint64_t split) { return split == 8 || split == 10 ? split : 6; }

// 5.2 Stream Table Entry (64 bytes).
struct Ste : Words<8> {
  // Dword 0.
  static constexpr Field kV{0, 0, 0};
  static constexpr Field kConfig{0, 3, 1};
  static constexpr Field kS1Fmt{0, 5, 4};
  static constexpr Field kS1ContextPtr{0, 51, 6};
  static constexpr Field kS1CDMax{0, 63, 59};
  // Dword 1.
  static constexpr Field kS1DSS{1, 1, 0};
  static constexpr Field kS1CIR{1, 3, 2};
  static constexpr Field kS1COR{1, 5, 4};
  static constexpr Field kS1CSH{1, 7, 6};
  static constexpr Field kPPAR{1, 18, 18};
  static constexpr Field kS1STALLD{1, 27, 27};
  static constexpr Field kEATS{1, 29, 28};
  static constexpr Field kSTRW{1, 31, 30};
  static constexpr Field kSHCFG{1, 45, 44};
  static constexpr Field kPRIVCFG{1, 49, 48};  // [113:112], with IDR1.ATTR_PERMS_OVR
  static constexpr Field kINSTCFG{1, 51, 50};  // [115:114], with IDR1.ATTR_PERMS_OVR
  // Dword 2 (stage 2: not modelled, must be zero for the configs we accept).
  static constexpr Field kS2VMID{2, 15, 0};

  // STE.Config (5.2).
  static constexpr uint64_t kConfigAbort = 0b000;
  static constexpr uint64_t kConfigBypass = 0b100;
  static constexpr uint64_t kConfigS1Trans = 0b101;
  static constexpr uint64_t kConfigS2Trans = 0b110;
  static constexpr uint64_t kConfigNested = 0b111;
  // STE.S1Fmt.
  static constexpr uint64_t kS1FmtLinear = 0b00;
  static constexpr uint64_t kS1Fmt2Lvl4K = 0b01;
  static constexpr uint64_t kS1Fmt2Lvl64K = 0b10;
  // STE.S1DSS.
  static constexpr uint64_t kS1DSSTerminate = 0b00;
  static constexpr uint64_t kS1DSSBypass = 0b01;
  static constexpr uint64_t kS1DSSSsid0 = 0b10;
  // STE.EATS.
  static constexpr uint64_t kEATSAbort = 0b00;
  static constexpr uint64_t kEATSTrans = 0b01;
  // STE.PRIVCFG and STE.INSTCFG (0b01 is reserved and behaves as 0b00).
  static constexpr uint64_t kCfgIncoming = 0b00;
  static constexpr uint64_t kPrivUnprivileged = 0b10;
  static constexpr uint64_t kPrivPrivileged = 0b11;
  static constexpr uint64_t kInstData = 0b10;
  static constexpr uint64_t kInstInstruction = 0b11;
  // STE.STRW.
  static constexpr uint64_t kSTRWNsEl1 = 0b00;
  static constexpr uint64_t kSTRWEl2 = 0b10;

  PhysAddr s1_context_ptr() const { return PhysAddr(Get(kS1ContextPtr) << 6); }
};

// 5.3 Level 1 Context Descriptor (8 bytes).
struct L1Cd : Words<1> {
  static constexpr Field kV{0, 0, 0};
  static constexpr Field kL2Ptr{0, 51, 12};
  PhysAddr l2ptr() const { return PhysAddr(Get(kL2Ptr) << 12); }
};
// 5.2 STE.S1Fmt: 2-level CD tables split the SubstreamID after bit 6
// (0b01: 4 KiB leaf tables of 64 CDs) or bit 10 (0b10: 64 KiB leaf tables
// of 1024 CDs, what Linux uses).
constexpr unsigned CdL2Split(uint64_t s1fmt) { return s1fmt == 0b01 ? 6 : 10; }

// 5.4 Context Descriptor (64 bytes).
struct Cd : Words<8> {
  // Dword 0.
  static constexpr Field kT0SZ{0, 5, 0};
  static constexpr Field kTG0{0, 7, 6};
  static constexpr Field kIR0{0, 9, 8};
  static constexpr Field kOR0{0, 11, 10};
  static constexpr Field kSH0{0, 13, 12};
  static constexpr Field kEPD0{0, 14, 14};
  static constexpr Field kENDI{0, 15, 15};
  static constexpr Field kT1SZ{0, 21, 16};
  static constexpr Field kTG1{0, 23, 22};
  static constexpr Field kIR1{0, 25, 24};
  static constexpr Field kOR1{0, 27, 26};
  static constexpr Field kSH1{0, 29, 28};
  static constexpr Field kEPD1{0, 30, 30};
  static constexpr Field kV{0, 31, 31};
  static constexpr Field kIPS{0, 34, 32};
  static constexpr Field kAFFD{0, 35, 35};
  static constexpr Field kWXN{0, 36, 36};
  static constexpr Field kUWXN{0, 37, 37};
  static constexpr Field kTBI{0, 39, 38};
  static constexpr Field kPAN{0, 40, 40};
  static constexpr Field kAA64{0, 41, 41};
  static constexpr Field kHD{0, 42, 42};
  static constexpr Field kHA{0, 43, 43};
  static constexpr Field kS{0, 44, 44};
  static constexpr Field kR{0, 45, 45};
  static constexpr Field kA{0, 46, 46};
  static constexpr Field kASET{0, 47, 47};
  static constexpr Field kASID{0, 63, 48};
  // Dword 1, 2: table bases, and HAD0/HAD1 (bits 65, 129: hierarchical
  // attributes disabled for that half, with IDR3.HAD).
  static constexpr Field kHAD0{1, 1, 1};
  static constexpr Field kTTB0{1, 51, 4};
  static constexpr Field kHAD1{2, 1, 1};
  static constexpr Field kTTB1{2, 51, 4};
  // Dword 3: MAIR (MAIR0 and MAIR1 of the spec, as one 64-bit value).
  static constexpr Field kMAIR{3, 63, 0};
  // Dword 4: AMAIR.
  static constexpr Field kAMAIR{4, 63, 0};

  // CD.TGx (5.4: TG0 encodes 0b00 4KB, 0b01 64KB, 0b10 16KB).
  static constexpr uint64_t kTG0_4K = 0b00;
  static constexpr uint64_t kTG0_64K = 0b01;
  static constexpr uint64_t kTG0_16K = 0b10;
  // CD.TG1 (0b10 4KB, 0b01 16KB, 0b11 64KB), as TCR_EL1.TG1.
  static constexpr uint64_t kTG1_4K = 0b10;

  PhysAddr ttb0() const { return PhysAddr(Get(kTTB0) << 4); }
  PhysAddr ttb1() const { return PhysAddr(Get(kTTB1) << 4); }
};

// IPS/OAS encoding (5.4 CD.IPS, 6.3.6 IDR5.OAS): bits of output address.
constexpr unsigned AddressSizeBits(uint64_t enc) {
  constexpr unsigned kBits[] = {32, 36, 40, 42, 44, 48, 52, 48};
  return kBits[enc & 7];
}
constexpr uint64_t AddressSizeEncoding(unsigned bits) {
  switch (bits) {
    case 32: return 0;
    case 36: return 1;
    case 40: return 2;
    case 42: return 3;
    case 44: return 4;
    case 52: return 6;
    default: return 5;
  }
}

// Why an entry is ILLEGAL; kNone when it is usable. Reserved encodings that
// the spec says "behave as" another value (STE.Config 0b001-0b011, S1Fmt
// 0b11, S1DSS 0b11, EATS 0b11 without DPT) are not ILLEGAL: the model
// applies the value they behave as (5.2).
enum class Illegal : uint8_t {
  kNone,
  kStage2NotSupported,      // STE.Config 0b110/0b111 without IDR0.S2P
  kS1CDMaxTooLarge,         // STE.S1CDMax > IDR1.SSIDSIZE
  kS1FmtNoCd2l,             // STE.S1Fmt 2-level without IDR0.CD2L
  kStrwReserved,            // STE.STRW 0b01/0b11, or EL2 without E2H support
  kEatsSplit,               // STE.EATS 0b10 with STE.Config != 0b111
  kS1StalldWithStallModel,  // STE.S1STALLD == 1 with STALL_MODEL != 0b00
  kContextPtrRange,         // S1ContextPtr beyond the OAS
  kCdInvalid,               // CD.V == 0
  kCdAa32,                  // CD.AA64 == 0 with IDR0.TTF AArch64-only
  kCdT0szRange,             // CD.T0SZ outside [16, 39] with EPD0 == 0
  kCdT1szRange,             // CD.T1SZ outside [16, 39] with EPD1 == 0
  kCdGranule,               // CD.TG0/TG1 a granule IDR5 does not list
  kCdEndianness,            // CD.ENDI == 1 with IDR0.TTENDIAN little-endian only
  kCdHttu,                  // CD.HA/HD set beyond IDR0.HTTU
  kCdStall,                 // CD.S against STALL_MODEL or STE.S1STALLD (5.5)
  kCdAbortTermination,      // CD.A == 0 with IDR0.TERM_MODEL == 1 (5.5)
  kCdAsid16,                // CD.ASID[15:8] != 0 without IDR0.ASID16
  kCdTtbRange,              // TTB0/TTB1 beyond the effective IPS
  kCdNotModelled,           // legal, but outside the model (T0SZ != 16 ...)
};
const char* IllegalName(Illegal i);

// 5.2 "Validity of STE" (5.2.2 pseudocode): the checks that make an STE
// ILLEGAL (C_BAD_STE). STE.V is checked by the caller.
Illegal ValidateSte(const Ste& ste, const SmmuV3Config& cfg);
// 5.4.2 "Validity of CD" and 5.5 (C_BAD_CD); `s1stalld` is the STE's
// S1STALLD, which with STALL_MODEL 0b00 forbids CD.S.
Illegal ValidateCd(const Cd& cd, const SmmuV3Config& cfg, bool s1stalld);

// The value an STE field takes after the spec's "behaves as" rules (5.2):
// Config 0b0xx is abort (0b000); S1Fmt 0b11 is linear; S1DSS 0b11 is
// terminate; EATS is 0b00 without IDR0.ATS, for Config[1:0] == 0b00 and
// for 0b11 without IDR3.DPT.
uint64_t EffectiveConfig(const Ste& ste);
uint64_t EffectiveS1Fmt(const Ste& ste);
uint64_t EffectiveS1Dss(const Ste& ste);
uint64_t EffectiveEats(const Ste& ste, const SmmuV3Config& cfg);

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_HW_SMMUV3_TABLES_H_
