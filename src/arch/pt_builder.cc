#include "svaemu/arch/pt_builder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/base/bits.h"

namespace svaemu::arch {

namespace {

constexpr const char* kPtAllocSite = "pt_alloc";

mem::Access UpdateAccess(VirtAddr va = VirtAddr(0), uint8_t level = 0) {
  mem::Access a = mem::Access::Cpu(Purpose::kPageTableUpdate);
  a.va = va;
  a.level = level;
  return a;
}

bool Present(uint64_t e) { return (e & 1) != 0; }

absl::Status BadLevel(uint8_t level, const char* what) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": level ", level, " is not a huge-leaf level (2 or 3)"));
}

}  // namespace

const char* PtFormatName(PtFormat f) {
  switch (f) {
    case PtFormat::kX86_4Level: return "x86_64 4-level";
    case PtFormat::kX86_5Level: return "x86_64 5-level";
    case PtFormat::kArm64_4K48: return "arm64 4K/48-bit";
  }
  return "?";
}

absl::StatusOr<PageTableBuilder> PageTableBuilder::Create(
    mem::FrameAllocator& alloc, PtFormat format, SpaceId space,
    const char* site, uint8_t table_flags) {
  absl::StatusOr<PhysAddr> root = alloc.AllocatePageTable(
      mem::PageTableTag{.space = space,
                        .level = PtFormatTopLevel(format),
                        .va_base = VirtAddr(0),
                        .flags = static_cast<uint8_t>(mem::kFrameRoot |
                                                      table_flags)},
      site);
  if (!root.ok()) return root.status();
  return PageTableBuilder(alloc, format, space, *root, table_flags);
}

PageTableBuilder::PageTableBuilder(mem::FrameAllocator& alloc,
                                   PtFormat format, SpaceId space,
                                   PhysAddr existing_root,
                                   uint8_t table_flags)
    : alloc_(&alloc),
      mem_(&alloc.mem()),
      format_(format),
      space_(space),
      root_(existing_root),
      table_flags_(table_flags) {}

// --- format dispatch -------------------------------------------------------

uint64_t PageTableBuilder::Read(PhysAddr pa) const {
  return mem_->Read64(pa, UpdateAccess());
}

void PageTableBuilder::Write(PhysAddr pa, uint64_t v) {
  mem_->Write64(pa, v, UpdateAccess());
}

bool PageTableBuilder::IsLeaf(uint64_t e, uint8_t level) const {
  if (!Present(e)) return false;
  return arm() ? Arm64Desc{e}.IsLeaf(level) : X86Entry{e}.IsLeaf(level);
}

bool PageTableBuilder::IsTable(uint64_t e, uint8_t level) const {
  if (!Present(e) || level <= 1) return false;
  return arm() ? Arm64Desc{e}.IsTable(level) : !X86Entry{e}.IsLeaf(level);
}

PhysAddr PageTableBuilder::NextTable(uint64_t e) const {
  return arm() ? Arm64Desc{e}.table_address() : X86Entry{e}.address();
}

uint64_t PageTableBuilder::TableEntry(PhysAddr table) const {
  return arm() ? Arm64Desc::Table(table).raw : X86Entry::Table(table).raw;
}

uint64_t PageTableBuilder::LeafEntry(uint8_t level, PhysAddr pa,
                                     const MapAttrs& m) const {
  return arm() ? Arm64Desc::Leaf(level, pa, m).raw
               : X86Entry::Leaf(level, pa, m).raw;
}

uint64_t PageTableBuilder::Releveled(uint64_t e, uint8_t from, uint8_t to,
                                     PhysAddr pa) const {
  return arm() ? Arm64Desc::Releveled(Arm64Desc{e}, from, to, pa).raw
               : X86Entry::Releveled(X86Entry{e}, from, to, pa).raw;
}

bool PageTableBuilder::Canonical(VirtAddr va) const {
  return arm() ? Arm64Half(va) >= 0
               : X86Canonical(va, top_level());
}

absl::Status PageTableBuilder::CheckRange(VirtAddr va, uint64_t size,
                                          uint64_t align) const {
  if (!va.IsAligned(align) || (size & (align - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("range ", Hex(va.value()), " + ", Hex(size),
                     " is not aligned to ", Hex(align)));
  }
  if (size == 0) return absl::OkStatus();
  const VirtAddr last = va + (size - 1);
  const unsigned top_shift = 12 + 9 * top_level();
  if (last < va || !Canonical(va) || !Canonical(last) ||
      (va.value() >> top_shift) != (last.value() >> top_shift)) {
    return absl::InvalidArgumentError(
        absl::StrCat("range ", Hex(va.value()), " + ", Hex(size),
                     " is not canonical for ", PtFormatName(format_),
                     " or crosses halves"));
  }
  return absl::OkStatus();
}

// --- descent helpers -------------------------------------------------------

absl::StatusOr<PhysAddr> PageTableBuilder::AllocTable(VirtAddr va,
                                                      uint8_t level) const {
  return alloc_->AllocatePageTable(
      mem::PageTableTag{.space = space_,
                        .level = level,
                        .va_base = va.AlignDown(TableCoverage(level)),
                        .flags = table_flags_},
      kPtAllocSite);
}

absl::StatusOr<PhysAddr> PageTableBuilder::WalkTo(VirtAddr va, uint8_t level,
                                                  bool allocate) const {
  PhysAddr table = root_;
  for (uint8_t l = top_level(); l > level; --l) {
    const PhysAddr ep = table + 8ull * TableIndex(va, l);
    const uint64_t e = Read(ep);
    if (!Present(e)) {
      if (!allocate) {
        return absl::NotFoundError(absl::StrCat(
            "no entry at level ", l, " for ", Hex(va.value())));
      }
      absl::StatusOr<PhysAddr> t = AllocTable(va, l - 1);
      if (!t.ok()) return t.status();
      mem_->Write64(ep, TableEntry(*t), UpdateAccess());
      table = *t;
      continue;
    }
    if (!IsTable(e, l)) {
      const std::string msg =
          absl::StrCat("entry at level ", l, " for ", Hex(va.value()),
                       " is a leaf (", Hex(e), "), not a table");
      return allocate ? absl::FailedPreconditionError(msg)
                      : absl::NotFoundError(msg);
    }
    table = NextTable(e);
  }
  return table + 8ull * TableIndex(va, level);
}

bool PageTableBuilder::HasPresentLeaf(PhysAddr table, uint8_t level) const {
  for (unsigned i = 0; i < 512; ++i) {
    const uint64_t e = Read(table + 8ull * i);
    if (!Present(e)) continue;
    if (!IsTable(e, level)) return true;
    if (HasPresentLeaf(NextTable(e), level - 1)) return true;
  }
  return false;
}

absl::Status PageTableBuilder::CheckFree(VirtAddr va, uint8_t level) const {
  PhysAddr table = root_;
  for (uint8_t l = top_level();; --l) {
    const uint64_t e = Read(table + 8ull * TableIndex(va, l));
    if (!Present(e)) return absl::OkStatus();
    if (IsLeaf(e, l)) {
      return absl::AlreadyExistsError(absl::StrCat(
          Hex(va.value()), " is already mapped by a level-", l, " leaf"));
    }
    if (!IsTable(e, l)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "malformed entry ", Hex(e), " at level ", l, " for ",
          Hex(va.value())));
    }
    if (l == level) {
      if (HasPresentLeaf(NextTable(e), l - 1)) {
        return absl::AlreadyExistsError(absl::StrCat(
            Hex(va.value()), " has mappings below level ", l));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "a table sits at level ", l, " for ", Hex(va.value()),
          "; Promote() replaces it"));
    }
    table = NextTable(e);
  }
}

bool PageTableBuilder::TableEmpty(PhysAddr table) const {
  for (unsigned i = 0; i < 512; ++i) {
    if (Present(Read(table + 8ull * i))) return false;
  }
  return true;
}

void PageTableBuilder::CollectTables(PhysAddr table, uint8_t level,
                                     std::vector<PhysAddr>* out) const {
  for (unsigned i = 0; i < 512 && level > 1; ++i) {
    const uint64_t e = Read(table + 8ull * i);
    if (IsTable(e, level)) CollectTables(NextTable(e), level - 1, out);
  }
  out->push_back(table);
}

// --- operations ------------------------------------------------------------

absl::Status PageTableBuilder::Map(VirtAddr va, PhysAddr pa, uint64_t size,
                                   uint64_t page_size, const MapAttrs& attrs) {
  const uint8_t level = LeafLevelOf(page_size);
  if (level == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page size ", Hex(page_size), " is not 4K, 2M or 1G"));
  }
  if (absl::Status s = CheckRange(va, size, page_size); !s.ok()) return s;
  if (!pa.IsAligned(page_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "physical address ", Hex(pa.value()), " is not aligned to ",
        Hex(page_size)));
  }
  // Nothing changes unless the whole range is free.
  for (uint64_t off = 0; off < size; off += page_size) {
    if (absl::Status s = CheckFree(va + off, level); !s.ok()) return s;
  }
  for (uint64_t off = 0; off < size; off += page_size) {
    absl::StatusOr<PhysAddr> ep = WalkTo(va + off, level, /*allocate=*/true);
    if (!ep.ok()) return ep.status();
    Write(*ep, LeafEntry(level, pa + off, attrs));
  }
  return absl::OkStatus();
}

absl::Status PageTableBuilder::Unmap(VirtAddr va, uint64_t size) {
  if (absl::Status s = CheckRange(va, size, kPageSize4K); !s.ok()) return s;
  VirtAddr cur = va;
  uint64_t remaining = size;
  while (remaining > 0) {
    PhysAddr table = root_;
    uint64_t advance = 0;
    for (uint8_t l = top_level(); advance == 0;) {
      const PhysAddr ep = table + 8ull * TableIndex(cur, l);
      const uint64_t e = Read(ep);
      const uint64_t cov = EntryCoverage(l);
      const uint64_t to_end = cov - cur.OffsetIn(cov);
      if (!Present(e)) {
        advance = std::min(to_end, remaining);
      } else if (IsTable(e, l)) {
        table = NextTable(e);
        --l;
      } else if (to_end == cov && remaining >= cov) {
        Write(ep, 0);  // a leaf (or junk) entirely inside the range
        advance = cov;
      } else if (IsLeaf(e, l) && l > 1) {
        if (absl::Status s = Split(cur, l); !s.ok()) return s;
        // Re-read the same entry: it is a table now.
      } else {
        return absl::FailedPreconditionError(absl::StrCat(
            "malformed entry ", Hex(e), " at level ", l, " for ",
            Hex(cur.value())));
      }
    }
    cur += advance;
    remaining -= advance;
  }
  return absl::OkStatus();
}

absl::Status PageTableBuilder::Split(VirtAddr va, uint8_t level) {
  if (level != 2 && level != 3) return BadLevel(level, "Split");
  if (!Canonical(va)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Hex(va.value()), " is not canonical"));
  }
  absl::StatusOr<PhysAddr> ep = WalkTo(va, level, /*allocate=*/false);
  if (!ep.ok()) return ep.status();
  const uint64_t e = Read(*ep);
  if (!Present(e)) {
    return absl::NotFoundError(absl::StrCat(
        "no level-", level, " entry for ", Hex(va.value())));
  }
  if (!IsLeaf(e, level)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "level-", level, " entry for ", Hex(va.value()), " is not a leaf"));
  }
  const VirtAddr base = va.AlignDown(EntryCoverage(level));
  absl::StatusOr<PhysAddr> t = AllocTable(base, level - 1);
  if (!t.ok()) return t.status();
  const PhysAddr out = arm() ? Arm64Desc{e}.output_address(level)
                             : X86Entry{e}.page_base(level);
  const uint64_t step = EntryCoverage(level - 1);
  for (unsigned i = 0; i < 512; ++i) {
    Write(*t + 8ull * i, Releveled(e, level, level - 1, out + i * step));
  }
  // The table is complete before it becomes reachable.
  Write(*ep, TableEntry(*t));
  return absl::OkStatus();
}

absl::Status PageTableBuilder::Promote(VirtAddr va, uint8_t level,
                                       PhysAddr pa, const MapAttrs& attrs,
                                       std::vector<PhysAddr>* freed_tables) {
  if (level != 2 && level != 3) return BadLevel(level, "Promote");
  if (freed_tables == nullptr) {
    return absl::InvalidArgumentError("Promote needs freed_tables");
  }
  const uint64_t cov = EntryCoverage(level);
  if (absl::Status s = CheckRange(va, cov, cov); !s.ok()) return s;
  if (!pa.IsAligned(cov)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "physical address ", Hex(pa.value()), " is not aligned to ",
        Hex(cov)));
  }
  absl::StatusOr<PhysAddr> ep = WalkTo(va, level, /*allocate=*/true);
  if (!ep.ok()) return ep.status();
  const uint64_t e = Read(*ep);
  std::vector<PhysAddr> detached;
  if (IsTable(e, level)) CollectTables(NextTable(e), level - 1, &detached);
  // pmd_set_huge() after pmd_free_pte_page(): the entry goes straight from
  // the table to the leaf; the detached tables are the caller's to free.
  Write(*ep, LeafEntry(level, pa, attrs));
  freed_tables->insert(freed_tables->end(), detached.begin(), detached.end());
  return absl::OkStatus();
}

void PageTableBuilder::FreeRange(PhysAddr table, uint8_t level,
                                 uint64_t table_off, uint64_t first,
                                 uint64_t last,
                                 std::vector<PhysAddr>* freed) {
  const uint64_t cov = EntryCoverage(level);
  const uint64_t lo = std::max(first, table_off);
  const uint64_t hi = std::min(last, table_off + (cov * 512 - 1));
  if (lo > hi) return;
  for (uint64_t i = (lo - table_off) / cov; i <= (hi - table_off) / cov; ++i) {
    const PhysAddr ep = table + 8ull * i;
    const uint64_t e = Read(ep);
    if (!IsTable(e, level)) continue;
    const PhysAddr child = NextTable(e);
    const mem::FrameMeta& meta = mem_->Meta(child);
    if (child == root_ || meta.use != mem::FrameUse::kPageTable ||
        meta.space != space_) {
      continue;  // not ours (shared kernel half, untracked): leave it
    }
    const uint64_t eb = table_off + i * cov;
    const bool inside = first <= eb && eb + (cov - 1) <= last;
    FreeRange(child, level - 1, eb, first, last, freed);
    // A table partly inside goes too once nothing in it is present (no
    // neighbour uses it), unless it is shared: other roots may point at it.
    if (inside ||
        ((meta.flags & mem::kFrameShared) == 0 && TableEmpty(child))) {
      Write(ep, 0);
      freed->push_back(child);
    }
  }
}

absl::Status PageTableBuilder::FreeTables(VirtAddr start, VirtAddr end,
                                          std::vector<PhysAddr>* freed_tables) {
  if (freed_tables == nullptr) {
    return absl::InvalidArgumentError("FreeTables needs freed_tables");
  }
  if (end < start) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FreeTables range ", Hex(start.value()), "..", Hex(end.value()),
        " is reversed"));
  }
  if (end == start) return absl::OkStatus();
  if (absl::Status s = CheckRange(start, end - start, 1); !s.ok()) return s;
  const unsigned top_shift = 12 + 9 * top_level();
  const uint64_t mask = BitMask(top_shift - 1, 0);
  FreeRange(root_, top_level(), 0, start.value() & mask,
            (end.value() - 1) & mask, freed_tables);
  return absl::OkStatus();
}

std::optional<Translation> PageTableBuilder::Lookup(VirtAddr va) const {
  if (!Canonical(va)) return std::nullopt;
  mem::Access a = UpdateAccess(va);
  a.space = space_;
  internal::PathEntry path[5];
  uint32_t reads = 0;
  NullObserver* none = nullptr;
  const WalkStart start{.table = root_, .level = top_level(),
                        .cumulative = Perms{}};
  internal::Descent d;
  bool global;
  if (arm()) {
    const Arm64Format fmt(Arm64Stage1Config{}, WalkOptions{});
    d = internal::Descend(*mem_, fmt, start, a, none, path, &reads);
    global = fmt.Global(d.entry);
  } else {
    const X86Format fmt(X86PagingMode{.levels = top_level()}, WalkOptions{});
    d = internal::Descend(*mem_, fmt, start, a, none, path, &reads);
    global = fmt.Global(d.entry);
  }
  if (d.fault != FaultKind::kNone) return std::nullopt;
  const unsigned shift = 12 + 9 * (d.level - 1);
  Translation t;
  t.pa = d.out + va.OffsetIn(1ull << shift);
  t.page_shift = static_cast<uint8_t>(shift);
  t.leaf_level = d.level;
  t.perms = d.perms;
  t.global = global;
  t.leaf_entry = d.entry;
  t.leaf_entry_pa = d.entry_pa;
  return t;
}

absl::StatusOr<PhysAddr> PageTableBuilder::EntryAddress(VirtAddr va,
                                                        uint8_t level) const {
  if (level < 1 || level > top_level()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "level ", level, " is outside 1..", top_level()));
  }
  if (!Canonical(va)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Hex(va.value()), " is not canonical"));
  }
  return WalkTo(va, level, /*allocate=*/false);
}

absl::StatusOr<uint64_t> PageTableBuilder::ReadEntry(VirtAddr va,
                                                     uint8_t level) const {
  absl::StatusOr<PhysAddr> ep = EntryAddress(va, level);
  if (!ep.ok()) return ep.status();
  return Read(*ep);
}

absl::Status PageTableBuilder::WriteEntry(VirtAddr va, uint8_t level,
                                          uint64_t value) {
  absl::StatusOr<PhysAddr> ep = EntryAddress(va, level);
  if (!ep.ok()) return ep.status();
  Write(*ep, value);
  return absl::OkStatus();
}

}  // namespace svaemu::arch
