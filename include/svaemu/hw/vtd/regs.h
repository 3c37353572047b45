// VT-d remapping-hardware registers: offsets, fields, and a register bank
// declared as data.
//
// Specification: Intel Virtualization Technology for Directed I/O,
// Architecture Specification (rev. 4.x), chapter 11 "Translation Hardware
// Register Programming" (register map in 11.4, Table "Address Mapping for
// Remapping Hardware Registers"). Field names are the spec's.
//
// RegisterBank is built, gem5 RegisterBank style, from a table of RegSpec
// rows (offset, width, reset value, read-write mask, write-1-to-clear mask).
// Build() refuses a table whose rows overlap or are misaligned, so an offset
// that drifts is caught at construction. Guest accesses of 4 bytes to half
// of an 8-byte register are decoded (the spec allows 32-bit software to
// access 64-bit registers as two dwords, 11.2); an access that decodes to no
// register reads zero and is ignored (reserved register space).
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_HW_VTD_REGS_H_
#define SVAEMU_HW_VTD_REGS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace svaemu::hw::vtd {

// 11.4: register offsets.
inline constexpr uint32_t kVerReg = 0x000;
inline constexpr uint32_t kCapReg = 0x008;
inline constexpr uint32_t kEcapReg = 0x010;
inline constexpr uint32_t kGcmdReg = 0x018;
inline constexpr uint32_t kGstsReg = 0x01c;
inline constexpr uint32_t kRtaddrReg = 0x020;
inline constexpr uint32_t kCcmdReg = 0x028;
inline constexpr uint32_t kFstsReg = 0x034;
inline constexpr uint32_t kFectlReg = 0x038;
inline constexpr uint32_t kFedataReg = 0x03c;
inline constexpr uint32_t kFeaddrReg = 0x040;
inline constexpr uint32_t kFeuaddrReg = 0x044;
inline constexpr uint32_t kIqhReg = 0x080;
inline constexpr uint32_t kIqtReg = 0x088;
inline constexpr uint32_t kIqaReg = 0x090;
inline constexpr uint32_t kIcsReg = 0x09c;
inline constexpr uint32_t kIectlReg = 0x0a0;
inline constexpr uint32_t kIedataReg = 0x0a4;
inline constexpr uint32_t kIeaddrReg = 0x0a8;
inline constexpr uint32_t kIeuaddrReg = 0x0ac;
inline constexpr uint32_t kIqercdReg = 0x0b0;
inline constexpr uint32_t kPqhReg = 0x0c0;
inline constexpr uint32_t kPqtReg = 0x0c8;
inline constexpr uint32_t kPqaReg = 0x0d0;
inline constexpr uint32_t kPrsReg = 0x0dc;
inline constexpr uint32_t kPectlReg = 0x0e0;
inline constexpr uint32_t kPedataReg = 0x0e4;
inline constexpr uint32_t kPeaddrReg = 0x0e8;
inline constexpr uint32_t kPeuaddrReg = 0x0ec;
// Implementation-placed registers (their offsets are reported in CAP.FRO and
// ECAP.IRO, in 16-byte units).
inline constexpr uint32_t kIvaReg = 0x500;     // IRO * 16
inline constexpr uint32_t kIotlbReg = 0x508;   // IVA + 8
inline constexpr uint32_t kFrcdBase = 0x400;   // FRO * 16, 16 bytes each
inline constexpr uint32_t kMmioSize = 0x1000;

// 11.4.2 CAP_REG fields.
struct Cap {
  static constexpr unsigned kNdLo = 0, kNdHi = 2;        // domains 2^(4+2ND)
  static constexpr unsigned kRwbf = 4;
  static constexpr unsigned kCm = 7;                     // caching mode
  static constexpr unsigned kSagawLo = 8, kSagawHi = 12;
  static constexpr unsigned kMgawLo = 16, kMgawHi = 21;  // MGAW - 1
  static constexpr unsigned kFroLo = 24, kFroHi = 33;
  static constexpr unsigned kPsi = 39;
  static constexpr unsigned kNfrLo = 40, kNfrHi = 47;    // NFR - 1
  static constexpr unsigned kMamvLo = 48, kMamvHi = 53;
  static constexpr unsigned kFl1gp = 56;
  static constexpr unsigned kFl5lp = 60;
  static constexpr unsigned kEsrtps = 63;
};

// 11.4.3 ECAP_REG fields.
struct Ecap {
  static constexpr unsigned kC = 0;
  static constexpr unsigned kQi = 1;
  static constexpr unsigned kDt = 2;
  static constexpr unsigned kPt = 6;
  static constexpr unsigned kIroLo = 8, kIroHi = 17;
  static constexpr unsigned kMhmvLo = 20, kMhmvHi = 23;
  static constexpr unsigned kPrs = 29;
  static constexpr unsigned kErs = 30;
  static constexpr unsigned kSrs = 31;
  static constexpr unsigned kNwfs = 33;
  static constexpr unsigned kEafs = 34;
  static constexpr unsigned kPssLo = 35, kPssHi = 39;  // PASID bits - 1
  static constexpr unsigned kPasid = 40;
  static constexpr unsigned kDit = 41;
  static constexpr unsigned kPds = 42;
  static constexpr unsigned kSmts = 43;
  static constexpr unsigned kFlts = 47;
  static constexpr unsigned kSmpwcs = 48;  // scalable-mode page-walk coherency
  static constexpr unsigned kRps = 49;     // context-entry RID_PASID honoured
  static constexpr unsigned kAdms = 52;    // abort-DMA mode (not supported: 0)
  static constexpr unsigned kRprivs = 53;  // context-entry RID_PRIV honoured
};

// 11.4.4 GCMD_REG / 11.4.5 GSTS_REG (same bit positions).
struct Gcmd {
  static constexpr unsigned kTe = 31;    // translation enable / TES
  static constexpr unsigned kSrtp = 30;  // set root table pointer / RTPS
  static constexpr unsigned kWbf = 27;   // write buffer flush / WBFS
  static constexpr unsigned kQie = 26;   // queued invalidation enable / QIES
};

// 11.4.6 RTADDR_REG: RTA [63:12], TTM [11:10].
struct Rtaddr {
  static constexpr unsigned kTtmLo = 10, kTtmHi = 11;
  static constexpr uint64_t kTtmLegacy = 0, kTtmScalable = 1, kTtmAbortDma = 3;
};

// 11.4.7 CCMD_REG.
struct Ccmd {
  static constexpr unsigned kIcc = 63;
  static constexpr unsigned kCirgLo = 61, kCirgHi = 62;
  static constexpr unsigned kCaigLo = 59, kCaigHi = 60;
  static constexpr unsigned kFmLo = 32, kFmHi = 33;
  static constexpr unsigned kSidLo = 16, kSidHi = 31;
  static constexpr unsigned kDidLo = 0, kDidHi = 15;
};

// 11.4.8.1 IOTLB_REG and 11.4.8.2 IVA_REG.
struct IotlbReg {
  static constexpr unsigned kIvt = 63;
  static constexpr unsigned kIirgLo = 60, kIirgHi = 61;
  static constexpr unsigned kIaigLo = 57, kIaigHi = 58;
  static constexpr unsigned kDidLo = 32, kDidHi = 47;
  static constexpr unsigned kIvaIh = 6;
  static constexpr unsigned kIvaAmLo = 0, kIvaAmHi = 5;
};

// 11.4.9.1 FSTS_REG.
struct Fsts {
  static constexpr unsigned kPfo = 0;
  static constexpr unsigned kPpf = 1;
  static constexpr unsigned kIqe = 4;
  static constexpr unsigned kIce = 5;
  static constexpr unsigned kIte = 6;
  static constexpr unsigned kFriLo = 8, kFriHi = 15;
  static constexpr uint32_t kW1cMask = (1u << kPfo) | (1u << kIqe) |
                                       (1u << kIce) | (1u << kIte);
  // The status fields of 11.4.9.2 FECTL.IP: a condition raises a fault
  // event only if none of them was already set.
  static constexpr uint32_t kStatusMask = kW1cMask | (1u << kPpf);
};

// 11.4.9.2 FECTL_REG, 11.4.9.7 IECTL_REG, 11.4.11.5 PECTL_REG.
struct EventCtl {
  static constexpr unsigned kIm = 31;  // interrupt mask
  static constexpr unsigned kIp = 30;  // interrupt pending (read-only)
};

// 11.4.9.4 IQA_REG: IQA [63:12], DW [11], QS [2:0].
struct Iqa {
  static constexpr unsigned kDw = 11;
  static constexpr unsigned kQsLo = 0, kQsHi = 2;
};

// 11.4.9.6 ICS_REG.
inline constexpr unsigned kIcsIwc = 0;

// 11.4.9.9 IQERCD_REG: ICESID [63:48], ITESID [47:32], IQEI [3:0].
struct Iqercd {
  static constexpr unsigned kIcesidLo = 48, kIcesidHi = 63;
  static constexpr unsigned kItesidLo = 32, kItesidHi = 47;
  static constexpr unsigned kIqeiLo = 0, kIqeiHi = 3;
  // IQEI values.
  static constexpr uint64_t kInfoNotAvailable = 0;
  static constexpr uint64_t kInvalidTail = 1;  // IQT beyond the queue
  static constexpr uint64_t kFetchError = 2;
  static constexpr uint64_t kInvalidType = 3;
  static constexpr uint64_t kReservedField = 4;
  static constexpr uint64_t kInvalidWidth = 5;    // DW = 0 in scalable mode
  static constexpr uint64_t kTailMisaligned = 6;  // DW = 1 and IQT[4] = 1
};

// 11.4.11.3 PQA_REG: PQA [63:12], PQS [2:0]; 11.4.11.4 PRS_REG: PPR
// (pending page request) bit 0, PRO (overflow) bit 1, both RW1CS.
struct Prs {
  static constexpr unsigned kPpr = 0;
  static constexpr unsigned kPro = 1;
};

// 11.4.14 fault recording register (128 bits, as two qwords).
struct Frcd {
  // Low qword.
  static constexpr unsigned kFiLo = 12;
  // High qword (bit numbers within it; the spec numbers them 64 higher).
  static constexpr unsigned kSidLo = 0, kSidHi = 15;
  static constexpr unsigned kPriv = 29;
  static constexpr unsigned kExe = 30;
  static constexpr unsigned kPp = 31;
  static constexpr unsigned kFrLo = 32, kFrHi = 39;
  static constexpr unsigned kPvLo = 40, kPvHi = 59;
  static constexpr unsigned kAtLo = 60, kAtHi = 61;
  static constexpr unsigned kT = 62;  // 0: write request, 1: read request
  static constexpr unsigned kF = 63;  // fault (W1C)
};

// One row of the register table.
struct RegSpec {
  const char* name;
  uint32_t offset;
  uint8_t width;       // 4 or 8
  uint64_t reset = 0;
  uint64_t rw_mask = 0;   // bits a guest write stores
  uint64_t w1c_mask = 0;  // bits a guest write of 1 clears
};

// The register file. Hardware side: Get/Set bypass masks. Guest side:
// GuestWrite applies rw/w1c masks and reports which register changed.
class RegisterBank {
 public:
  // InvalidArgument if rows overlap, are misaligned, or have a width other
  // than 4 or 8, or if masks overlap.
  static absl::StatusOr<RegisterBank> Build(std::span<const RegSpec> specs);

  // Index of the register containing [offset, offset + size), or -1.
  int Find(uint32_t offset, unsigned size) const;
  const RegSpec& spec(int index) const { return specs_[index]; }
  size_t size() const { return specs_.size(); }

  uint64_t Get(uint32_t offset) const;
  void Set(uint32_t offset, uint64_t value);

  // Guest read of `size` bytes at `offset` (0 for unknown space).
  uint64_t GuestRead(uint32_t offset, unsigned size) const;
  // Guest write; returns the index of the register written, or -1.
  // *old receives the register's value before the write.
  int GuestWrite(uint32_t offset, uint64_t value, unsigned size,
                 uint64_t* old);
  void Reset();

 private:
  std::vector<RegSpec> specs_;
  std::vector<uint64_t> values_;
  std::vector<int16_t> by_dword_;  // register index per 4-byte slot, or -1
};

}  // namespace svaemu::hw::vtd

#endif  // SVAEMU_HW_VTD_REGS_H_
