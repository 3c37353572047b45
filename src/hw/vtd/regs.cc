#include "svaemu/hw/vtd/regs.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "svaemu/base/check.h"

namespace svaemu::hw::vtd {

absl::StatusOr<RegisterBank> RegisterBank::Build(std::span<const RegSpec> specs) {
  RegisterBank b;
  uint32_t end = 0;
  for (const RegSpec& s : specs) {
    if (s.width != 4 && s.width != 8) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: width %d", s.name, s.width));
    }
    if (s.offset % s.width != 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: offset 0x%x misaligned", s.name, s.offset));
    }
    if ((s.rw_mask & s.w1c_mask) != 0) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: rw and w1c masks overlap", s.name));
    }
    end = std::max(end, s.offset + s.width);
  }
  b.by_dword_.assign(end / 4, -1);
  for (size_t i = 0; i < specs.size(); ++i) {
    const RegSpec& s = specs[i];
    for (uint32_t d = s.offset / 4; d < (s.offset + s.width) / 4; ++d) {
      if (b.by_dword_[d] != -1) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s at 0x%x overlaps %s", s.name, s.offset, specs[b.by_dword_[d]].name));
      }
      b.by_dword_[d] = static_cast<int16_t>(i);
    }
  }
  b.specs_.assign(specs.begin(), specs.end());
  b.Reset();
  return b;
}

void RegisterBank::Reset() {
  values_.resize(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) values_[i] = specs_[i].reset;
}

int RegisterBank::Find(uint32_t offset, unsigned size) const {
  if ((size != 4 && size != 8) || offset % size != 0) return -1;
  const uint32_t d = offset / 4;
  if (d >= by_dword_.size()) return -1;
  const int i = by_dword_[d];
  if (i < 0) return -1;
  // An 8-byte access must cover exactly one 8-byte register.
  if (size == 8 && (specs_[i].width != 8 || specs_[i].offset != offset)) return -1;
  return i;
}

uint64_t RegisterBank::Get(uint32_t offset) const {
  const int i = Find(offset, 4);
  SVAEMU_CHECK_MSG(i >= 0, "no such register");
  return values_[i];
}

void RegisterBank::Set(uint32_t offset, uint64_t value) {
  const int i = Find(offset, 4);
  SVAEMU_CHECK_MSG(i >= 0, "no such register");
  const uint64_t mask = specs_[i].width == 8 ? ~0ull : 0xffffffffull;
  values_[i] = value & mask;
}

uint64_t RegisterBank::GuestRead(uint32_t offset, unsigned size) const {
  const int i = Find(offset, size);
  if (i < 0) return 0;
  const uint64_t v = values_[i];
  if (size == 8) return v;
  const unsigned shift = (offset - specs_[i].offset) * 8;
  return (v >> shift) & 0xffffffffull;
}

int RegisterBank::GuestWrite(uint32_t offset, uint64_t value, unsigned size,
                             uint64_t* old) {
  const int i = Find(offset, size);
  if (i < 0) return -1;
  const RegSpec& s = specs_[i];
  uint64_t lane = ~0ull;
  uint64_t v = value;
  if (size == 4) {
    const unsigned shift = (offset - s.offset) * 8;
    lane = 0xffffffffull << shift;
    v = (value & 0xffffffffull) << shift;
  }
  if (s.width == 4) lane &= 0xffffffffull;
  const uint64_t before = values_[i];
  if (old != nullptr) *old = before;
  uint64_t after = (before & ~(s.rw_mask & lane)) | (v & s.rw_mask & lane);
  after &= ~(v & s.w1c_mask & lane);
  values_[i] = after;
  return i;
}

}  // namespace svaemu::hw::vtd
