// PageTableBuilder: CPU-side construction and surgery of one page-table tree.
//
// The kernel model uses a builder per tree root (an mm's PGD, the kernel's
// init_mm tables, an IOMMU-private tree) to map, unmap, split and promote
// mappings and to detach page-table pages for freeing. The builder writes
// entries as the CPU does (agent CPU, purpose kPageTableUpdate, so the
// walk checker stays quiet) and tags every table it allocates in the frame
// shadow with {space, level, va_base = the first VA the table translates,
// table_flags}, so a later stale hardware walk through a freed or reused
// table is caught.
//
// Encodings are the format's (x86_64.h: X86Entry, arm64.h: Arm64Desc):
// x86 intermediate entries are P|R/W|U/S|A and the leaf carries the
// permissions (as Linux does); arm64 table descriptors carry no APTable or
// XNTable restrictions. For arm64, the builder indexes with VA[47:12]
// whatever VA[63:48] is: the caller picks the TTBR0 or TTBR1 tree. VAs
// passed in must be canonical for the format (x86: sign-extended from bit
// 47/56; arm64: VA[63:48] all zeros or all ones), else InvalidArgument.
//
// The builder never frees a frame: tables it detaches (Promote, FreeTables)
// are returned to the caller, deepest first, which frees them under its own
// policy (immediately, or deferred behind an IOMMU invalidation). This is
// what Linux's pmd_free_pte_page()/pud_free_pmd_page() and free_pgtables()
// hand back.
//
// Errors: InvalidArgument (misaligned, bad level/page size, non-canonical),
// NotFound (no entry on the path), AlreadyExists (a present leaf is in the
// way), FailedPrecondition (the entry is not what the operation needs),
// ResourceExhausted (from the frame allocator; mappings made before the
// failure stay).
//
// Example:
//   absl::StatusOr<PageTableBuilder> pt = PageTableBuilder::Create(
//       alloc, PtFormat::kX86_4Level, SpaceId(1), "pgd_alloc");
//   absl::Status s = pt->Map(VirtAddr(0x400000), data, 4 * kPageSize4K,
//                            kPageSize4K, MapAttrs{.write = false});
//
// Thread-safety: thread-compatible. Not synchronised with hardware walkers
// beyond the atomicity of each 64-bit entry write.
#ifndef SVAEMU_ARCH_PT_BUILDER_H_
#define SVAEMU_ARCH_PT_BUILDER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/arch/walk.h"
#include "svaemu/base/strong_types.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"

namespace svaemu::arch {

enum class PtFormat : uint8_t { kX86_4Level, kX86_5Level, kArm64_4K48 };

const char* PtFormatName(PtFormat f);
// Top level of a tree of the format (5 for kX86_5Level, else 4).
constexpr uint8_t PtFormatTopLevel(PtFormat f) {
  return f == PtFormat::kX86_5Level ? 5 : 4;
}

class PageTableBuilder {
 public:
  // Allocates a zeroed root tagged {space, top level, va_base 0,
  // kFrameRoot | table_flags} at `site` (a string literal).
  static absl::StatusOr<PageTableBuilder> Create(mem::FrameAllocator& alloc,
                                                 PtFormat format,
                                                 SpaceId space,
                                                 const char* site,
                                                 uint8_t table_flags = 0);
  // Adopts an existing root (not retagged).
  PageTableBuilder(mem::FrameAllocator& alloc, PtFormat format, SpaceId space,
                   PhysAddr existing_root, uint8_t table_flags = 0);

  PhysAddr root() const { return root_; }
  PtFormat format() const { return format_; }
  uint8_t top_level() const { return PtFormatTopLevel(format_); }
  SpaceId space() const { return space_; }
  uint8_t table_flags() const { return table_flags_; }
  // Flags (e.g. kFrameShared) given to every table allocated from now on.
  void set_table_flags(uint8_t flags) { table_flags_ = flags; }

  // Maps [va, va + size) to [pa, pa + size) with pages of `page_size`
  // (4 KiB, 2 MiB or 1 GiB); va, pa and size aligned to it. Intermediate
  // tables are allocated at site "pt_alloc". If any present leaf lies in
  // the range: AlreadyExists and nothing changes; if an (empty) table sits
  // where a huge leaf would go: FailedPrecondition (use Promote).
  absl::Status Map(VirtAddr va, PhysAddr pa, uint64_t size, uint64_t page_size,
                   const MapAttrs& attrs);

  // Clears every leaf in [va, va + size) (4 KiB aligned). A huge leaf only
  // partly inside is split first. Absent entries are skipped. Tables are
  // not freed.
  absl::Status Unmap(VirtAddr va, uint64_t size);

  // Replaces the huge leaf at `level` (2 or 3) covering `va` by a table at
  // level - 1 of leaves with the same attributes and output addresses.
  // NotFound: no present entry there; FailedPrecondition: it is a table.
  absl::Status Split(VirtAddr va, uint8_t level);

  // Makes `va` (aligned to the level's page size) one huge leaf at `level`
  // (2 = 2 MiB, 3 = 1 GiB) mapping `pa`, allocating tables above it if
  // needed. A leaf already there is replaced. A table there is replaced and
  // it and every table below it are returned, deepest first, in
  // *freed_tables (appended; required non-null), not freed.
  absl::Status Promote(VirtAddr va, uint8_t level, PhysAddr pa,
                       const MapAttrs& attrs,
                       std::vector<PhysAddr>* freed_tables);

  // free_pgtables(): detaches the tables of this builder's space (shadow
  // space == space(), not the root) that the range no longer needs:
  //  - every table whose whole coverage lies inside [start, end), present
  //    leaves in it or not (the caller unmaps first);
  //  - a table partly inside that holds no present entry once the part
  //    inside is handled, unless it is flagged kFrameShared (other roots
  //    may point at it). Tables that still hold present entries outside
  //    the range are kept.
  // The entry pointing to a detached table is cleared and the table is
  // appended to *freed_tables, deepest first. Tables of another space (the
  // x86 shared kernel half) and untracked frames are neither descended into
  // nor detached. start and end are canonical and in the same half; end is
  // exclusive (end == start: nothing to do).
  absl::Status FreeTables(VirtAddr start, VirtAddr end,
                          std::vector<PhysAddr>* freed_tables);

  // Software lookup (purpose kPageTableUpdate: no A/D update, no checker
  // report): the leaf mapping `va`, if present.
  std::optional<Translation> Lookup(VirtAddr va) const;

  // Address of the entry at `level` for `va`. NotFound if an entry above is
  // absent or a leaf; InvalidArgument for a level outside [1, top_level()].
  absl::StatusOr<PhysAddr> EntryAddress(VirtAddr va, uint8_t level) const;
  // Raw read/write of that entry (CPU, kPageTableUpdate).
  absl::StatusOr<uint64_t> ReadEntry(VirtAddr va, uint8_t level) const;
  absl::Status WriteEntry(VirtAddr va, uint8_t level, uint64_t value);

 private:
  bool arm() const { return format_ == PtFormat::kArm64_4K48; }
  bool Canonical(VirtAddr va) const;
  absl::Status CheckRange(VirtAddr va, uint64_t size, uint64_t align) const;

  uint64_t Read(PhysAddr pa) const;
  void Write(PhysAddr pa, uint64_t v);
  bool IsLeaf(uint64_t e, uint8_t level) const;
  bool IsTable(uint64_t e, uint8_t level) const;
  PhysAddr NextTable(uint64_t e) const;
  uint64_t TableEntry(PhysAddr table) const;
  uint64_t LeafEntry(uint8_t level, PhysAddr pa, const MapAttrs& m) const;
  uint64_t Releveled(uint64_t e, uint8_t from, uint8_t to, PhysAddr pa) const;

  // Entry address at `level` for `va`. With `allocate`, absent tables on
  // the way are allocated; a leaf above `level` is FailedPrecondition
  // (allocate) or NotFound.
  // (Allocation goes through the allocator pointer: const is about the
  // builder's own state.)
  absl::StatusOr<PhysAddr> WalkTo(VirtAddr va, uint8_t level,
                                  bool allocate) const;
  absl::StatusOr<PhysAddr> AllocTable(VirtAddr va, uint8_t level) const;
  // OK if nothing is mapped where a leaf at `level` for `va` would go.
  absl::Status CheckFree(VirtAddr va, uint8_t level) const;
  bool HasPresentLeaf(PhysAddr table, uint8_t level) const;
  bool TableEmpty(PhysAddr table) const;
  void CollectTables(PhysAddr table, uint8_t level,
                     std::vector<PhysAddr>* out) const;
  void FreeRange(PhysAddr table, uint8_t level, uint64_t table_off,
                 uint64_t first, uint64_t last,
                 std::vector<PhysAddr>* freed);

  mem::FrameAllocator* alloc_;
  mem::PhysMem* mem_;
  PtFormat format_;
  SpaceId space_;
  PhysAddr root_;
  uint8_t table_flags_;
};

}  // namespace svaemu::arch

#endif  // SVAEMU_ARCH_PT_BUILDER_H_
