// The storage of a set-associative cache, shared by the IOMMU models'
// caches (hw/smmuv3/caches.h, hw/vtd/cache.h): one allocation of sets,
// each its metadata (a Meta: sequence word, replacement state) followed by
// its ways, so that a probe, the fill after it and the sequence bumps all
// work from one pointer (CacheSet), which a miss path keeps from the probe
// for the fill.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_HW_SET_ARRAY_H_
#define SVAEMU_HW_SET_ARRAY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace svaemu::hw {

// One set of a SetArray (SetArray::At): where its metadata and ways are.
// Valid until the array's next Init().
struct CacheSet {
  std::byte* p;
};

template <typename Meta, typename Way>
class SetArray {
  static_assert(std::is_trivially_copyable_v<Meta> && std::is_trivially_destructible_v<Meta>);
  static_assert(std::is_trivially_copyable_v<Way> && std::is_trivially_destructible_v<Way>);
  // (operator new's alignment, 16, is enough for both.)
  static_assert(alignof(Meta) <= 16 && alignof(Way) <= 16);
  static_assert(sizeof(Meta) % alignof(Way) == 0 && sizeof(Way) % alignof(Meta) == 0);

 public:
  SetArray() = default;
  SetArray(const SetArray&) = delete;
  SetArray& operator=(const SetArray&) = delete;

  // `sets` sets of `ways` ways: set s's metadata is make_meta(s), every way
  // a copy of `way`.
  template <typename MakeMeta>
  void Init(uint32_t sets, uint32_t ways, MakeMeta make_meta, const Way& way) {
    stride_ = sizeof(Meta) + size_t{ways} * sizeof(Way);
    store_ = std::make_unique<std::byte[]>(stride_ * sets);
    for (uint32_t s = 0; s < sets; ++s) {
      std::byte* const p = store_.get() + s * stride_;
      new (p) Meta(make_meta(s));
      for (uint32_t w = 0; w < ways; ++w) new (p + sizeof(Meta) + w * sizeof(Way)) Way(way);
    }
  }
  // The set numbered `set` (< the sets of Init()). (A handle reaches the
  // ways: const only in that the geometry does not change.)
  [[gnu::always_inline]] CacheSet At(uint32_t set) const {
    return CacheSet{store_.get() + set * stride_};
  }
  [[gnu::always_inline]] static Meta& MetaOf(CacheSet s) {
    return *std::launder(reinterpret_cast<Meta*>(s.p));
  }
  [[gnu::always_inline]] static Way* Ways(CacheSet s) {
    return std::launder(reinterpret_cast<Way*>(s.p + sizeof(Meta)));
  }

 private:
  size_t stride_ = 0;  // bytes per set: its Meta, then its ways
  std::unique_ptr<std::byte[]> store_;
};

}  // namespace svaemu::hw

#endif  // SVAEMU_HW_SET_ARRAY_H_
