// Strong types for addresses and identifiers.
//
// No bare integer crosses an interface where it names a physical address, a
// virtual address or an identifier: PhysAddr, VirtAddr, Pasid, StreamId,
// DomainId, Asid and SpaceId are distinct types that convert to their
// representation only through value(). Addresses support the offset
// arithmetic that page-table code needs; identifiers support only comparison
// and hashing.
//
// Example:
//   PhysAddr table = frame.base();
//   PhysAddr entry = table + index * 8;
//   uint64_t raw = entry.value();
//
// Thread-safety: value types, thread-compatible.
#ifndef SVAEMU_BASE_STRONG_TYPES_H_
#define SVAEMU_BASE_STRONG_TYPES_H_

#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>

namespace svaemu {

// An identifier: comparable and hashable, no arithmetic.
template <typename Tag, typename Rep>
class StrongId {
 public:
  using rep_type = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  friend constexpr auto operator<=>(StrongId, StrongId) = default;
  template <typename H>
  friend H AbslHashValue(H h, StrongId id) {
    return H::combine(std::move(h), id.v_);
  }
  friend std::ostream& operator<<(std::ostream& os, StrongId id) {
    return os << Tag::kName << "(" << +id.v_ << ")";
  }

 private:
  Rep v_{};
};

// A 64-bit address: offset arithmetic and alignment helpers.
template <typename Tag>
class Address {
 public:
  constexpr Address() = default;
  constexpr explicit Address(uint64_t v) : v_(v) {}
  constexpr uint64_t value() const { return v_; }
  friend constexpr auto operator<=>(Address, Address) = default;

  constexpr Address operator+(uint64_t off) const { return Address(v_ + off); }
  constexpr Address operator-(uint64_t off) const { return Address(v_ - off); }
  constexpr Address& operator+=(uint64_t off) {
    v_ += off;
    return *this;
  }
  // Distance between two addresses of the same kind.
  constexpr uint64_t operator-(Address o) const { return v_ - o.v_; }

  // `align` must be a power of two.
  constexpr Address AlignDown(uint64_t align) const {
    return Address(v_ & ~(align - 1));
  }
  constexpr Address AlignUp(uint64_t align) const {
    return Address((v_ + align - 1) & ~(align - 1));
  }
  constexpr bool IsAligned(uint64_t align) const {
    return (v_ & (align - 1)) == 0;
  }
  constexpr uint64_t OffsetIn(uint64_t align) const {
    return v_ & (align - 1);
  }

  template <typename H>
  friend H AbslHashValue(H h, Address a) {
    return H::combine(std::move(h), a.v_);
  }
  friend std::ostream& operator<<(std::ostream& os, Address a) {
    return os << Tag::kName << "(0x" << std::hex << a.v_ << std::dec << ")";
  }

 private:
  uint64_t v_ = 0;
};

struct PhysAddrTag { static constexpr const char* kName = "PA"; };
struct VirtAddrTag { static constexpr const char* kName = "VA"; };
struct PasidTag { static constexpr const char* kName = "PASID"; };
struct StreamIdTag { static constexpr const char* kName = "SID"; };
struct DomainIdTag { static constexpr const char* kName = "DID"; };
struct AsidTag { static constexpr const char* kName = "ASID"; };
struct SpaceIdTag { static constexpr const char* kName = "Space"; };

using PhysAddr = Address<PhysAddrTag>;
using VirtAddr = Address<VirtAddrTag>;
using Pasid = StrongId<PasidTag, uint32_t>;
using StreamId = StrongId<StreamIdTag, uint32_t>;
using DomainId = StrongId<DomainIdTag, uint32_t>;
using Asid = StrongId<AsidTag, uint16_t>;
// Names an address space for the frame shadow: which page-table tree a
// page-table frame belongs to. SpaceId(0) is "none".
using SpaceId = StrongId<SpaceIdTag, uint32_t>;

inline constexpr SpaceId kNoSpace{0};

std::string Hex(uint64_t v);

}  // namespace svaemu

#endif  // SVAEMU_BASE_STRONG_TYPES_H_
