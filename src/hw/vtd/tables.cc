#include "svaemu/hw/vtd/tables.h"

namespace svaemu::hw::vtd {

const char* FaultReasonName(FaultReason r) {
  switch (r) {
    case FaultReason::kNone: return "none";
    case FaultReason::kSmInvalidRootTable: return "invalid root table / TTM";
    case FaultReason::kTtmLegacyPasid:
      return "TTM 00 for request with PASID";
    case FaultReason::kTtmLegacyPageRequest:
      return "TTM 00 for page request";
    case FaultReason::kRootAccessError: return "root entry access error";
    case FaultReason::kRootNotPresent: return "root entry not present";
    case FaultReason::kRootReserved: return "root entry reserved bit";
    case FaultReason::kContextAccessError: return "context entry access error";
    case FaultReason::kContextNotPresent: return "context entry not present";
    case FaultReason::kContextReserved: return "context entry reserved bit";
    case FaultReason::kContextInvalid: return "context entry invalid";
    case FaultReason::kContextDteClear: return "context entry DTE clear";
    case FaultReason::kContextPasidDisabled: return "context entry PASIDE clear";
    case FaultReason::kPasidTooLarge: return "PASID beyond PDTS";
    case FaultReason::kContextPreClear: return "context entry PRE clear";
    case FaultReason::kRidPasidError:
      return "context entry RID_PASID error";
    case FaultReason::kPasidDirAccessError: return "PASID directory access error";
    case FaultReason::kPasidDirNotPresent: return "PASID directory entry not present";
    case FaultReason::kPasidDirReserved: return "PASID directory reserved bit";
    case FaultReason::kPasidAccessError: return "PASID entry access error";
    case FaultReason::kPasidNotPresent: return "PASID entry not present";
    case FaultReason::kPasidReserved: return "PASID entry reserved bit";
    case FaultReason::kPasidInvalid: return "PASID entry invalid (PGTT)";
    case FaultReason::kPasidEreClear: return "PASID entry ERE clear";
    case FaultReason::kPasidSreClear: return "PASID entry SRE clear";
    case FaultReason::kFsAccessError: return "first-stage entry access error";
    case FaultReason::kFsNotPresent: return "first-stage entry not present";
    case FaultReason::kFsReserved: return "first-stage entry reserved bit";
    case FaultReason::kNonCanonical: return "non-canonical address";
    case FaultReason::kUserToSupervisor: return "user request to supervisor page";
    case FaultReason::kExecuteDenied: return "execute denied";
    case FaultReason::kBeyondMgaw: return "address beyond MGAW";
    case FaultReason::kWriteDenied: return "write denied";
    case FaultReason::kReadDenied: return "read denied";
    case FaultReason::kFsRootAccessError:
      return "first-stage top-level entry access error";
    case FaultReason::kInterruptRange:
      return "output address in the interrupt range";
    case FaultReason::kFsAdUpdateFailed:
      return "first-stage A/D update failed";
  }
  return "unknown";
}

// 9.2: LP bit 0, LCTP [63:12]; UP bit 64, UCTP [127:76].
std::array<uint64_t, 2> SmRootEntry::Encode() const {
  return {(lctp.value() & BitMask(63, 12)) | uint64_t{lp},
          (uctp.value() & BitMask(63, 12)) | uint64_t{up}};
}
SmRootEntry SmRootEntry::Decode(const std::array<uint64_t, 2>& raw) {
  SmRootEntry e;
  e.lp = Bit(raw[0], 0);
  e.lctp = PhysAddr(raw[0] & BitMask(63, 12));
  e.up = Bit(raw[1], 0);
  e.uctp = PhysAddr(raw[1] & BitMask(63, 12));
  return e;
}
bool SmRootEntry::ReservedBits(const std::array<uint64_t, 2>& raw, bool upper) {
  return (raw[upper ? 1 : 0] & BitMask(11, 1)) != 0;
}

bool QualifiedFault(FaultReason r) {
  switch (r) {
    case FaultReason::kSmInvalidRootTable:
    case FaultReason::kTtmLegacyPasid:
    case FaultReason::kTtmLegacyPageRequest:
    case FaultReason::kRootAccessError:
    case FaultReason::kRootNotPresent:
    case FaultReason::kRootReserved:
    case FaultReason::kContextAccessError:
    case FaultReason::kPasidDirAccessError:
    case FaultReason::kPasidAccessError:
      return false;
    default:
      return true;
  }
}

// 9.4: P 0, FPD 1, DTE 2, PASIDE 3, PRE 4, PDTS [11:9], PASIDDIRPTR
// [63:12]; RID_PASID [83:64], RID_PRIV 84.
std::array<uint64_t, 4> SmContextEntry::Encode() const {
  uint64_t lo = pasid_dir.value() & BitMask(63, 12);
  lo = SetBit(lo, 0, p);
  lo = SetBit(lo, 1, fpd);
  lo = SetBit(lo, 2, dte);
  lo = SetBit(lo, 3, paside);
  lo = SetBit(lo, 4, pre);
  lo = SetBits(lo, 11, 9, pdts);
  uint64_t hi = SetBits(0, 19, 0, rid_pasid);
  hi = SetBit(hi, 20, rid_priv);
  return {lo, hi, 0, 0};
}
SmContextEntry SmContextEntry::Decode(const std::array<uint64_t, 4>& raw) {
  SmContextEntry e;
  e.p = Bit(raw[0], 0);
  e.fpd = Bit(raw[0], 1);
  e.dte = Bit(raw[0], 2);
  e.paside = Bit(raw[0], 3);
  e.pre = Bit(raw[0], 4);
  e.pdts = static_cast<uint8_t>(Bits(raw[0], 11, 9));
  e.pasid_dir = PhysAddr(raw[0] & BitMask(63, 12));
  e.rid_pasid = static_cast<uint32_t>(Bits(raw[1], 19, 0));
  e.rid_priv = Bit(raw[1], 20);
  return e;
}
bool SmContextEntry::ReservedBits(const std::array<uint64_t, 4>& raw) {
  return (raw[0] & BitMask(8, 5)) != 0 || (raw[1] & BitMask(63, 21)) != 0 ||
         raw[2] != 0 || raw[3] != 0;
}

// 9.5: P 0, FPD 1, SMPTBLPTR [63:12].
uint64_t PasidDirEntry::Encode() const {
  return (table.value() & BitMask(63, 12)) | uint64_t{p} | (uint64_t{fpd} << 1);
}
PasidDirEntry PasidDirEntry::Decode(uint64_t raw) {
  return PasidDirEntry{.p = Bit(raw, 0), .fpd = Bit(raw, 1),
                       .table = PhysAddr(raw & BitMask(63, 12))};
}
bool PasidDirEntry::ReservedBits(uint64_t raw) { return (raw & BitMask(11, 2)) != 0; }

// 9.6: qw0: P 0, FPD 1, AW [4:2], PGTT [8:6], SLPTPTR [63:12];
// qw1: DID [15:0], PWSNP 23, PGSNP 24; qw2: SRE 0, ERE 1, FLPM [3:2],
// WPE 4, EAFE 7, FLPTPTR [63:12].
std::array<uint64_t, 8> PasidEntry::Encode() const {
  std::array<uint64_t, 8> raw{};
  uint64_t q0 = slptptr.value() & BitMask(63, 12);
  q0 = SetBit(q0, 0, p);
  q0 = SetBit(q0, 1, fpd);
  q0 = SetBits(q0, 4, 2, aw);
  q0 = SetBit(q0, 5, slee);
  q0 = SetBits(q0, 8, 6, pgtt);
  uint64_t q1 = SetBits(0, 15, 0, did);
  q1 = SetBit(q1, 23, pwsnp);
  q1 = SetBit(q1, 24, pgsnp);
  uint64_t q2 = fsptptr.value() & BitMask(63, 12);
  q2 = SetBit(q2, 0, sre);
  q2 = SetBit(q2, 1, ere);
  q2 = SetBits(q2, 3, 2, fspm);
  q2 = SetBit(q2, 4, wpe);
  q2 = SetBit(q2, 7, eafe);
  raw[0] = q0;
  raw[1] = q1;
  raw[2] = q2;
  return raw;
}
PasidEntry PasidEntry::Decode(const std::array<uint64_t, 8>& raw) {
  PasidEntry e;
  e.p = Bit(raw[0], 0);
  e.fpd = Bit(raw[0], 1);
  e.aw = static_cast<uint8_t>(Bits(raw[0], 4, 2));
  e.slee = Bit(raw[0], 5);
  e.pgtt = static_cast<uint8_t>(Bits(raw[0], 8, 6));
  e.slptptr = PhysAddr(raw[0] & BitMask(63, 12));
  e.did = static_cast<uint16_t>(Bits(raw[1], 15, 0));
  e.pwsnp = Bit(raw[1], 23);
  e.pgsnp = Bit(raw[1], 24);
  e.sre = Bit(raw[2], 0);
  e.ere = Bit(raw[2], 1);
  e.fspm = static_cast<uint8_t>(Bits(raw[2], 3, 2));
  e.wpe = Bit(raw[2], 4);
  e.eafe = Bit(raw[2], 7);
  e.fsptptr = PhysAddr(raw[2] & BitMask(63, 12));
  return e;
}
bool PasidEntry::ReservedBits(const std::array<uint64_t, 8>& raw) {
  // Fields of features this model reports absent (NXE, SMEP in [6:5] of
  // qw2, the memory-type fields of qw1) are ignored, as the spec lets
  // hardware ignore fields it does not implement when their enables are 0.
  if ((raw[0] & BitMask(11, 10)) != 0) return true;
  if ((raw[1] & BitMask(22, 16)) != 0) return true;
  if ((raw[2] & BitMask(11, 8)) != 0) return true;
  for (int i = 3; i < 8; ++i) {
    if (raw[i] != 0) return true;
  }
  return false;
}

}  // namespace svaemu::hw::vtd
