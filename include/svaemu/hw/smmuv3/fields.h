// Bit fields of SMMUv3 registers and in-memory structures, written as the
// specification writes them: a 64-bit word index and [hi:lo].
//
// Spec: Arm System Memory Management Unit Architecture Specification,
// SMMU architecture version 3 (IHI 0070). Each structure header cites the
// section that defines its layout.
#ifndef SVAEMU_HW_SMMUV3_FIELDS_H_
#define SVAEMU_HW_SMMUV3_FIELDS_H_

#include <cstdint>
#include <cstring>
#include <span>

#include "svaemu/base/bits.h"

namespace svaemu::hw::smmuv3 {

// A field of a register (dw = 0) or of the dw-th 64-bit word of a
// structure, bits [hi:lo] of that word.
struct Field {
  uint8_t dw = 0;
  uint8_t hi = 0;
  uint8_t lo = 0;
  constexpr uint64_t Get(uint64_t word) const { return Bits(word, hi, lo); }
  constexpr uint64_t Set(uint64_t word, uint64_t v) const {
    return SetBits(word, hi, lo, v);
  }
  constexpr uint64_t Mask() const { return BitMask(hi, lo); }
  // Largest value the field holds.
  constexpr uint64_t Max() const { return BitMask(hi - lo, 0); }
};

// N little-endian 64-bit words: the common shape of STE (8), CD (8),
// commands (2), events (4) and PRI entries (2).
template <int N>
struct Words {
  static constexpr int kWords = N;
  static constexpr int kBytes = 8 * N;
  uint64_t dw[N] = {};

  constexpr uint64_t Get(Field f) const { return f.Get(dw[f.dw]); }
  constexpr void Set(Field f, uint64_t v) { dw[f.dw] = f.Set(dw[f.dw], v); }
  constexpr bool Flag(Field f) const { return Get(f) != 0; }

  // Byte image, little-endian (the host is little-endian; checked in
  // fields.cc).
  void EncodeTo(std::span<uint8_t, kBytes> out) const {
    std::memcpy(out.data(), dw, kBytes);
  }
  static Words DecodeFrom(std::span<const uint8_t, kBytes> in) {
    Words w;
    std::memcpy(w.dw, in.data(), kBytes);
    return w;
  }
  friend constexpr bool operator==(const Words&, const Words&) = default;
};

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_HW_SMMUV3_FIELDS_H_
