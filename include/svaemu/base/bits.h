// Bit-field helpers for encoders and decoders of architectural structures.
//
// Field positions are written as in the specifications: [hi:lo], inclusive.
#ifndef SVAEMU_BASE_BITS_H_
#define SVAEMU_BASE_BITS_H_

#include <cstdint>

namespace svaemu {

// Mask of bits [hi:lo].
constexpr uint64_t BitMask(unsigned hi, unsigned lo) {
  return ((hi - lo + 1) >= 64 ? ~0ull : ((1ull << (hi - lo + 1)) - 1)) << lo;
}

// Value of bits [hi:lo] of v, shifted down.
constexpr uint64_t Bits(uint64_t v, unsigned hi, unsigned lo) {
  return (v & BitMask(hi, lo)) >> lo;
}

constexpr bool Bit(uint64_t v, unsigned n) { return (v >> n) & 1; }

// v with bits [hi:lo] replaced by field (which must fit).
constexpr uint64_t SetBits(uint64_t v, unsigned hi, unsigned lo,
                           uint64_t field) {
  return (v & ~BitMask(hi, lo)) | ((field << lo) & BitMask(hi, lo));
}

constexpr uint64_t SetBit(uint64_t v, unsigned n, bool on) {
  return on ? (v | (1ull << n)) : (v & ~(1ull << n));
}

// Sign-extends v from bit `bit` (the top bit of the field).
constexpr uint64_t SignExtend(uint64_t v, unsigned bit) {
  const unsigned shift = 63 - bit;
  return static_cast<uint64_t>(static_cast<int64_t>(v << shift) >> shift);
}

inline constexpr uint64_t kPageSize4K = 4096;
inline constexpr unsigned kPageShift4K = 12;
inline constexpr uint64_t kPageSize2M = 2ull << 20;
inline constexpr uint64_t kPageSize1G = 1ull << 30;

}  // namespace svaemu

#endif  // SVAEMU_BASE_BITS_H_
