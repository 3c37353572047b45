// VT-d scalable-mode translation structures in memory, and fault reasons.
//
// Specification (Intel VT-d Architecture Specification, rev. 4.x):
//   9.2  Scalable-mode root entry (128 bits): LP, LCTP, UP, UCTP.
//   9.4  Scalable-mode context entry (256 bits): P, FPD, DTE, PASIDE, PRE,
//        PDTS, PASIDDIRPTR, RID_PASID, RID_PRIV.
//   9.5  Scalable-mode PASID directory entry (64 bits): P, FPD, SMPTBLPTR.
//   9.6  Scalable-mode PASID table entry (512 bits): P, FPD, AW, PGTT,
//        SLPTPTR, DID, PWSNP, PGSNP, SRE, ERE, FSPM (FLPM), WPE, EAFE,
//        FSPTPTR (FLPTPTR).
//   7.1.3 / Appendix "Non-recoverable fault reason encodings" (scalable
//        mode: 0x30 and up).
// Table walk (3.4.3): root table indexed by bus, lower/upper context table
// by devfn[6:0]; PASID directory indexed by PASID[19:6], PASID table by
// PASID[5:0].
//
// Each structure is a plain struct of decoded fields with Encode() (fields
// -> raw qwords) and Decode() (raw -> fields), and a ReservedBits() check.
//
// Thread-safety: value types.
#ifndef SVAEMU_HW_VTD_TABLES_H_
#define SVAEMU_HW_VTD_TABLES_H_

#include <array>
#include <cstdint>

#include "svaemu/base/bits.h"
#include "svaemu/base/strong_types.h"

namespace svaemu::hw::vtd {

// Non-recoverable fault reasons, scalable mode (spec appendix, "Fault
// Reasons", and 7.1.3). Names follow the spec's condition codes.
enum class FaultReason : uint8_t {
  kNone = 0x00,
  kSmInvalidRootTable = 0x30,    // RTA.1: TTM reserved or not supported
  kTtmLegacyPasid = 0x31,        // RTA.2: TTM = 00 and a request with PASID
  kTtmLegacyPageRequest = 0x32,  // RTA.3: TTM = 00 and a page request
  kRootAccessError = 0x38,       // SCT? SRTA.1: root entry read error
  kRootNotPresent = 0x39,        // root entry LP/UP clear
  kRootReserved = 0x3a,          // root entry reserved bit set
  kContextAccessError = 0x40,    // SCT.1
  kContextNotPresent = 0x41,     // SCT.2
  kContextReserved = 0x42,       // SCT.3
  kContextInvalid = 0x43,        // SCT.4
  kContextDteClear = 0x44,       // SCT.5: translation request, DTE=0
  kContextPasidDisabled = 0x45,  // SCT.6: request with PASID, PASIDE=0
  kPasidTooLarge = 0x46,         // SCT.7: PASID beyond PDTS
  kContextPreClear = 0x47,       // SCT.8: page request, PRE=0
  kRidPasidError = 0x48,         // SCT.9: RID_PASID beyond PDTS (no PASID)
  kPasidDirAccessError = 0x50,   // SPD.1
  kPasidDirNotPresent = 0x51,    // SPD.2
  kPasidDirReserved = 0x52,      // SPD.3
  kPasidAccessError = 0x58,      // SPT.1
  kPasidNotPresent = 0x59,       // SPT.2
  kPasidReserved = 0x5a,         // SPT.3
  kPasidInvalid = 0x5b,          // SPT.4: PGTT reserved or unsupported
  kPasidEreClear = 0x5c,         // SPT.5: execute request, ERE=0
  kPasidSreClear = 0x5d,         // SPT.6: supervisor request, SRE=0
  kFsAccessError = 0x70,         // SFS.1: first-stage entry read error
  kFsNotPresent = 0x71,          // SFS.2
  kFsReserved = 0x72,            // SFS.3
  kFsRootAccessError = 0x73,     // SFS.4: top-level entry (via FSPTPTR) read error
  kNonCanonical = 0x80,          // SGN.1
  kUserToSupervisor = 0x81,      // SGN.2: U/S=0 with user request
  kExecuteDenied = 0x82,         // SGN.3: XD=1 with execute request
  kBeyondMgaw = 0x83,            // SGN.4
  kWriteDenied = 0x85,           // SGN.6
  kReadDenied = 0x86,            // SGN.7
  kInterruptRange = 0x87,        // SGN.8: output address in 0xFEEx_xxxx
  kFsAdUpdateFailed = 0x91,      // SFS.10: first-stage A/D write failed
};

// 7.1.1: a fault is "qualified" (FPD suppresses its recording) unless it
// is an access error on an entry read before any FPD could be seen: the
// PASID-directory (SPD.1) and PASID-table (SPT.1) access errors, and the
// root/context/RTADDR conditions that precede the context entry.
bool QualifiedFault(FaultReason r);

const char* FaultReasonName(FaultReason r);

// 9.2 Scalable-mode root entry.
struct SmRootEntry {
  bool lp = false;   // bit 0
  PhysAddr lctp;     // [63:12]
  bool up = false;   // bit 64
  PhysAddr uctp;     // [127:76]

  std::array<uint64_t, 2> Encode() const;
  static SmRootEntry Decode(const std::array<uint64_t, 2>& raw);
  // Reserved [11:1] of the lower (devfn 0-127) or upper half: only the
  // half a request uses is checked.
  static bool ReservedBits(const std::array<uint64_t, 2>& raw, bool upper);
};

// 9.4 Scalable-mode context entry.
struct SmContextEntry {
  bool p = false;        // bit 0
  bool fpd = false;      // bit 1
  bool dte = false;      // bit 2: device-TLB (ATS) enable
  bool paside = false;   // bit 3: PASID enable
  bool pre = false;      // bit 4: page request enable
  uint8_t pdts = 0;      // [11:9]: directory has 2^(PDTS+7) entries
  PhysAddr pasid_dir;    // [63:12] PASIDDIRPTR
  uint32_t rid_pasid = 0;  // [83:64]
  bool rid_priv = false;   // bit 84

  std::array<uint64_t, 4> Encode() const;
  static SmContextEntry Decode(const std::array<uint64_t, 4>& raw);
  // Reserved: [8:5], [127:85], [255:128].
  static bool ReservedBits(const std::array<uint64_t, 4>& raw);
  uint32_t dir_entries() const { return 1u << (pdts + 7); }
};

// 9.5 Scalable-mode PASID directory entry.
struct PasidDirEntry {
  bool p = false;     // bit 0
  bool fpd = false;   // bit 1
  PhysAddr table;     // [63:12] SMPTBLPTR

  uint64_t Encode() const;
  static PasidDirEntry Decode(uint64_t raw);
  static bool ReservedBits(uint64_t raw);  // [11:2]
};

// 9.6 PGTT encodings.
enum class Pgtt : uint8_t {
  kFirstStage = 1,
  kSecondStage = 2,
  kNested = 3,
  kPassThrough = 4,
};

// 9.6 Scalable-mode PASID table entry.
struct PasidEntry {
  bool p = false;          // bit 0
  bool fpd = false;        // bit 1
  uint8_t aw = 0;          // [4:2]
  bool slee = false;       // bit 5: second-stage execute enable (3.x; not modelled)
  uint8_t pgtt = 0;        // [8:6]
  PhysAddr slptptr;        // [63:12] (second stage: not modelled)
  uint16_t did = 0;        // [79:64]
  bool pwsnp = false;      // bit 87
  bool pgsnp = false;      // bit 88
  bool sre = false;        // bit 128: supervisor request enable
  bool ere = false;        // bit 129: execute request enable
  uint8_t fspm = 0;        // [131:130]: 0 = 4-level, 1 = 5-level
  bool wpe = false;        // bit 132: write protect enable
  bool eafe = false;       // bit 135: extended access flag enable
  PhysAddr fsptptr;        // [191:140] FLPTPTR

  std::array<uint64_t, 8> Encode() const;
  static PasidEntry Decode(const std::array<uint64_t, 8>& raw);
  // Reserved: [11:10], [86:80], [139:136], [511:192].
  static bool ReservedBits(const std::array<uint64_t, 8>& raw);
};

// Table geometry (3.4.3).
inline constexpr uint64_t kRootEntrySize = 16;
inline constexpr uint64_t kSmContextEntrySize = 32;
inline constexpr uint64_t kPasidDirEntrySize = 8;
inline constexpr uint64_t kPasidEntrySize = 64;

constexpr uint8_t SidBus(uint16_t sid) { return sid >> 8; }
constexpr uint8_t SidDevfn(uint16_t sid) { return sid & 0xff; }

}  // namespace svaemu::hw::vtd

#endif  // SVAEMU_HW_VTD_TABLES_H_
