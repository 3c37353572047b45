// VT-d invalidation-queue descriptors and page request descriptors.
//
// Specification (Intel VT-d Architecture Specification, rev. 4.x):
//   6.5.2    queued invalidation; descriptor type in [3:0] and [11:9].
//   6.5.2.1  context-cache invalidate (type 0x1)
//   6.5.2.2  PASID-cache invalidate (0x7)
//   6.5.2.3  IOTLB invalidate (0x2)
//   6.5.2.4  PASID-based IOTLB invalidate (0x6)
//   6.5.2.5  device-TLB invalidate (0x3)
//   6.5.2.6  PASID-based device-TLB invalidate (0x8)
//   6.5.2.8  invalidation wait (0x5): IF, SW, FN, PD, status data/address
//   7.7.1    page group response (0x9)
//   7.5.1    page request descriptor (written by hardware to the PRQ)
// With IQA.DW=1 every descriptor is 256 bits; the upper 128 bits of the
// types above are reserved (zero).
//
// Each descriptor is a plain struct with Encode()/Decode(); Decode reports
// reserved bits that are set (the model answers with IQE).
//
// Thread-safety: value types.
#ifndef SVAEMU_HW_VTD_DESCRIPTORS_H_
#define SVAEMU_HW_VTD_DESCRIPTORS_H_

#include <array>
#include <cstdint>

namespace svaemu::hw::vtd {

using RawDesc = std::array<uint64_t, 4>;  // qw0..qw3 (qw2/qw3 zero for 128b)

enum class DescType : uint8_t {
  kContextCache = 0x1,
  kIotlb = 0x2,
  kDevTlb = 0x3,
  kIec = 0x4,  // interrupt entry cache: not modelled (IR absent)
  kWait = 0x5,
  kPiotlb = 0x6,
  kPasidCache = 0x7,
  kPdevTlb = 0x8,
  kPageGroupResponse = 0x9,
};

// Type from [3:0] and [11:9] (type[6:4]).
constexpr uint8_t DescTypeOf(uint64_t qw0) {
  return static_cast<uint8_t>((qw0 & 0xf) | (((qw0 >> 9) & 0x7) << 4));
}

// 6.5.2.1: G [5:4] (1 global, 2 domain, 3 device), DID [31:16],
// SID [47:32], FM [49:48].
struct ContextCacheDesc {
  uint8_t g = 1;
  uint16_t did = 0;
  uint16_t sid = 0;
  uint8_t fm = 0;
  RawDesc Encode() const;
  static bool Decode(const RawDesc& raw, ContextCacheDesc* out);  // false: rsvd
};

// 6.5.2.2: G [5:4] (0 domain-selective, 1 PASID-selective, 3 global),
// DID [31:16], PASID [51:32].
struct PasidCacheDesc {
  uint8_t g = 1;
  uint16_t did = 0;
  uint32_t pasid = 0;
  RawDesc Encode() const;
  static bool Decode(const RawDesc& raw, PasidCacheDesc* out);
};

// 6.5.2.3: G [5:4] (1 global, 2 domain, 3 page), DW 6, DR 7, DID [31:16];
// qw1: AM [5:0], IH 6, ADDR [63:12].
struct IotlbDesc {
  uint8_t g = 1;
  bool dr = false, dw = false;
  uint16_t did = 0;
  uint8_t am = 0;
  bool ih = false;
  uint64_t addr = 0;
  RawDesc Encode() const;
  static bool Decode(const RawDesc& raw, IotlbDesc* out);
};

// 6.5.2.4: G [5:4] (2 non-globals within PASID, 3 page-selective within
// PASID), DID [31:16], PASID [51:32]; qw1: AM [5:0], IH 6, ADDR [63:12].
struct PiotlbDesc {
  static constexpr uint8_t kNonGlobalPasid = 2;
  static constexpr uint8_t kPageSelective = 3;
  uint8_t g = kPageSelective;
  uint16_t did = 0;
  uint32_t pasid = 0;
  uint8_t am = 0;
  bool ih = false;
  uint64_t addr = 0;
  RawDesc Encode() const;
  static bool Decode(const RawDesc& raw, PiotlbDesc* out);
};

// 6.5.2.5: PFSID [15:12] and [63:52], MIP [20:16], SID [47:32];
// qw1: S 0, ADDR [63:12].
struct DevTlbDesc {
  uint16_t pfsid = 0;
  uint8_t mip = 0;
  uint16_t sid = 0;
  bool s = false;  // size: ADDR encodes the range (PCIe ATS encoding)
  uint64_t addr = 0;
  RawDesc Encode() const;
  static bool Decode(const RawDesc& raw, DevTlbDesc* out);
  // The invalidated range [base, base + size) (PCIe r6 10.3.1 S encoding).
  void Range(uint64_t* base, uint64_t* size) const;
};

// 6.5.2.6: MIP [8:4], PFSID [15:12] and [63:52], SID [31:16],
// PASID [51:32]; qw1: G 0, S 11, ADDR [63:12].
struct PdevTlbDesc {
  uint16_t pfsid = 0;
  uint8_t mip = 0;
  uint16_t sid = 0;
  uint32_t pasid = 0;
  bool g = false;
  bool s = false;
  uint64_t addr = 0;
  RawDesc Encode() const;
  static bool Decode(const RawDesc& raw, PdevTlbDesc* out);
  void Range(uint64_t* base, uint64_t* size) const;
};

// 6.5.2.8: IF 4, SW 5, FN 6, PD 7, status data [63:32];
// qw1: status address [63:2].
struct WaitDesc {
  bool iflag = false;
  bool sw = false;
  bool fn = false;
  bool pd = false;
  uint32_t status_data = 0;
  uint64_t status_addr = 0;  // 4-byte aligned
  RawDesc Encode() const;
  static bool Decode(const RawDesc& raw, WaitDesc* out);
};

// 7.7.1 page group response: PP 4, PDP 5, response code [15:12],
// RID [31:16], PASID [51:32]; qw1: LPIG 2, PRG index [11:3],
// private data qw2/qw3... (here: qw1 bits [63:32] unused; the private
// data of PDP=1 is carried in qw2/qw3).
struct PageGroupResponseDesc {
  static constexpr uint8_t kSuccess = 0;
  static constexpr uint8_t kInvalidRequest = 1;
  static constexpr uint8_t kResponseFailure = 0xf;
  bool pasid_present = false;
  bool pdp = false;
  uint8_t code = kSuccess;
  uint16_t rid = 0;
  uint32_t pasid = 0;
  bool lpig = false;
  uint16_t prgi = 0;
  uint64_t priv_data[2] = {0, 0};
  RawDesc Encode() const;
  static bool Decode(const RawDesc& raw, PageGroupResponseDesc* out);
};

// 7.5.1 page request descriptor (256 bits; type 1 in [7:0]):
// qw0: PP 8, PDP? (bit 9), RID [31:16], PASID [51:32], ER 52, PM 53;
// qw1: RD 0, WR 1, LPIG 2, PRGI [11:3], ADDR [63:12];
// qw2/qw3: private data.
struct PageRequestDesc {
  static constexpr uint8_t kType = 1;
  bool pasid_present = false;
  bool pdp = false;
  uint16_t rid = 0;
  uint32_t pasid = 0;
  bool exe = false;
  bool priv = false;
  bool rd = false;
  bool wr = false;
  bool lpig = false;
  uint16_t prgi = 0;
  uint64_t addr = 0;
  uint64_t priv_data[2] = {0, 0};
  RawDesc Encode() const;
  static PageRequestDesc Decode(const RawDesc& raw);
};

inline constexpr uint64_t kPageRequestDescSize = 32;

}  // namespace svaemu::hw::vtd

#endif  // SVAEMU_HW_VTD_DESCRIPTORS_H_
