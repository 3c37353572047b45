#include "svaemu/kernel/kernel_space.h"

#include "absl/strings/str_cat.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/base/bits.h"
#include "svaemu/kernel/pt_free.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {
namespace {

// Kernel data: writable, supervisor-only, not executable, global.
arch::MapAttrs KernelDataAttrs() {
  arch::MapAttrs a;
  a.write = true;
  a.user = false;
  a.exec = false;
  a.global = true;
  a.accessed = true;
  a.dirty = true;
  return a;
}

bool IsX86(arch::PtFormat f) { return f != arch::PtFormat::kArm64_4K48; }

}  // namespace

KernelLayout DefaultKernelLayout(arch::PtFormat format) {
  KernelLayout l;
  switch (format) {
    case arch::PtFormat::kX86_4Level:
      l.kernel_start = VirtAddr(0xffff800000000000ull);
      l.vmalloc_start = VirtAddr(0xffffc90000000000ull);
      break;
    case arch::PtFormat::kX86_5Level:
      l.kernel_start = VirtAddr(0xff00000000000000ull);
      l.vmalloc_start = VirtAddr(0xffa0000000000000ull);
      break;
    case arch::PtFormat::kArm64_4K48:
      l.kernel_start = VirtAddr(0xffff000000000000ull);
      l.vmalloc_start = VirtAddr(0xffff800080000000ull);
      break;
  }
  return l;
}

absl::StatusOr<std::unique_ptr<KernelSpace>> KernelSpace::Create(
    sim::Simulation& sim, mem::FrameAllocator& alloc, arch::PtFormat format,
    KernelPtFree& pt_free) {
  // Every kernel table, the root included, is a "kernel page-table page":
  // space init_mm, shared into every address space.
  absl::StatusOr<arch::PageTableBuilder> b = arch::PageTableBuilder::Create(
      alloc, format, kKernelSpaceId, "kernel_pgd", mem::kFrameShared);
  if (!b.ok()) return b.status();
  std::unique_ptr<KernelSpace> ks(new KernelSpace(
      sim, alloc, *std::move(b), pt_free, DefaultKernelLayout(format)));
  if (IsX86(format)) {
    absl::Status s = ks->PreallocateKernelHalf();
    if (!s.ok()) return s;
  }
  return ks;
}

KernelSpace::KernelSpace(sim::Simulation& sim, mem::FrameAllocator& alloc,
                         arch::PageTableBuilder builder, KernelPtFree& pt_free,
                         KernelLayout layout)
    : sim_(sim),
      alloc_(alloc),
      builder_(std::move(builder)),
      pt_free_(pt_free),
      layout_(layout),
      vmalloc_va_(layout.vmalloc_start, layout.vmalloc_size) {}

absl::Status KernelSpace::PreallocateKernelHalf() {
  // x86: give each kernel-half top-level entry (256-511) its next-level
  // table now, so the entries cloned into every pgd never change
  // (preallocate_vmalloc_pages() and the boot-time PGD population).
  // Entry format: SDM Vol. 3A 4.5, Tables 4-14/4-15 (PML5E/PML4E
  // referencing a table): P(0) R/W(1) A(5) plus the table address; U/S is
  // clear, as in Linux's _KERNPG_TABLE (which also sets the ignored D bit).
  const uint8_t top = builder_.top_level();
  const uint64_t span = arch::EntryCoverage(top);
  for (uint64_t index = 256; index < 512; ++index) {
    const VirtAddr va(SignExtend(index * span, 12 + 9 * top - 1));
    absl::StatusOr<PhysAddr> t = alloc_.AllocatePageTable(
        {.space = kKernelSpaceId,
         .level = static_cast<uint8_t>(top - 1),
         .va_base = va,
         .flags = mem::kFrameShared},
        "preallocate_kernel_pgd");
    if (!t.ok()) return t.status();
    using arch::X86Entry;
    const uint64_t entry = t->value() | (1ull << X86Entry::kP) |
                           (1ull << X86Entry::kRw) | (1ull << X86Entry::kA) |
                           (1ull << X86Entry::kD);
    alloc_.mem().Write64(builder_.root() + index * 8, entry,
                         mem::Access::Cpu(Purpose::kPageTableUpdate));
  }
  return absl::OkStatus();
}

void KernelSpace::CloneKernelHalf(PhysAddr pgd) {
  if (!IsX86(format())) return;
  const mem::Access a = mem::Access::Cpu(Purpose::kPageTableUpdate);
  for (uint64_t index = 256; index < 512; ++index) {
    alloc_.mem().Write64(pgd + index * 8,
                         alloc_.mem().Read64(root() + index * 8, a), a);
  }
}

absl::StatusOr<VirtAddr> KernelSpace::Vmalloc(uint64_t size) {
  if (size == 0) return absl::InvalidArgumentError("vmalloc of 0 bytes");
  size = (size + kPageSize4K - 1) & ~(kPageSize4K - 1);
  // One unmapped guard page follows each area, as in Linux.
  absl::StatusOr<VirtAddr> va =
      vmalloc_va_.Allocate(size + kPageSize4K, kPageSize4K);
  if (!va.ok()) return va.status();
  Area area{size, {}, true};
  for (uint64_t off = 0; off < size; off += kPageSize4K) {
    absl::StatusOr<PhysAddr> f = alloc_.Allocate(
        mem::FrameUse::kData, "vmalloc", kKernelSpaceId, /*zero=*/true);
    absl::Status s = f.status();
    if (s.ok()) s = builder_.Map(*va + off, *f, kPageSize4K, kPageSize4K,
                                 KernelDataAttrs());
    if (!s.ok()) {
      if (f.ok()) alloc_.Free(*f, "vmalloc_unwind");
      (void)builder_.Unmap(*va, off);
      for (PhysAddr p : area.frames) alloc_.Free(p, "vmalloc_unwind");
      (void)vmalloc_va_.Release(*va, size + kPageSize4K);
      return s;
    }
    area.frames.push_back(*f);
  }
  areas_.emplace(*va, std::move(area));
  sim_.Trace("kernel", "vmalloc", absl::StrCat(Hex(va->value()), "+", size));
  return va;
}

absl::Status KernelSpace::Vfree(VirtAddr va) {
  auto it = areas_.find(va);
  if (it == areas_.end() || !it->second.owns_frames) {
    return absl::NotFoundError(
        absl::StrCat("vfree: no vmalloc area at ", Hex(va.value())));
  }
  Area area = std::move(it->second);
  areas_.erase(it);
  // vunmap_range(), then the TLB flush, then the pages go back: the PTE
  // page stays.
  absl::Status s = builder_.Unmap(va, area.size);
  if (!s.ok()) return s;
  FlushTlbKernelRange(va, va + area.size);
  for (PhysAddr f : area.frames) alloc_.Free(f, "vfree");
  sim_.Trace("kernel", "vfree", Hex(va.value()));
  return vmalloc_va_.Release(va, area.size + kPageSize4K);
}

absl::StatusOr<VirtAddr> KernelSpace::VmapHuge(PhysAddr pa, uint64_t size,
                                               uint64_t page_size) {
  const uint8_t level = arch::LeafLevelOf(page_size);
  if (level == 0) {
    return absl::InvalidArgumentError("vmap page size must be 4K, 2M or 1G");
  }
  if (size == 0 || !pa.IsAligned(page_size) || size % page_size != 0) {
    return absl::InvalidArgumentError(
        "vmap range must be non-empty and aligned to its page size");
  }
  absl::StatusOr<VirtAddr> va =
      vmalloc_va_.Allocate(size + kPageSize4K, page_size);
  if (!va.ok()) return va.status();
  const arch::MapAttrs attrs = KernelDataAttrs();
  for (uint64_t off = 0; off < size; off += page_size) {
    const VirtAddr at = *va + off;
    if (level == 1) {
      absl::Status s = builder_.Map(at, pa + off, page_size, page_size, attrs);
      if (!s.ok()) return s;
      continue;
    }
    // vmap_try_huge_pmd()/pud(): a table left in the entry (by earlier 4 KiB
    // mappings of this range) is cleared, the TLB is flushed for the
    // address, and the table pages are freed: pmd_free_pte_page() /
    // pud_free_pmd_page().
    std::vector<PhysAddr> freed;
    absl::Status s = builder_.Promote(at, level, pa + off, attrs, &freed);
    if (!s.ok()) return s;
    if (!freed.empty()) {
      FlushTlbKernelRange(at, at + kPageSize4K);
      const char* site =
          level == 2 ? "pmd_free_pte_page" : "pud_free_pmd_page";
      for (PhysAddr t : freed) pt_free_.Free(t, site);
    }
  }
  areas_.emplace(*va, Area{size, {}, false});
  sim_.Trace("kernel", "vmap_huge",
             absl::StrCat(Hex(va->value()), "+", size, " ps=", page_size));
  return va;
}

absl::Status KernelSpace::Vunmap(VirtAddr va) {
  auto it = areas_.find(va);
  if (it == areas_.end() || it->second.owns_frames) {
    return absl::NotFoundError(
        absl::StrCat("vunmap: no vmap area at ", Hex(va.value())));
  }
  const uint64_t size = it->second.size;
  areas_.erase(it);
  absl::Status s = builder_.Unmap(va, size);
  if (!s.ok()) return s;
  FlushTlbKernelRange(va, va + size);
  return vmalloc_va_.Release(va, size + kPageSize4K);
}

void KernelSpace::FlushTlbKernelRange(VirtAddr start, VirtAddr end) {
  ++tlb_flushes_;
  sim_.Trace("kernel", "flush_tlb_kernel_range",
             absl::StrCat(Hex(start.value()), "-", Hex(end.value())));
  for (const FlushListener& fn : listeners_) fn(start, end);
}

absl::Status KernelSpace::Access(VirtAddr va, std::span<uint8_t> buf,
                                 bool write) {
  size_t done = 0;
  while (done < buf.size()) {
    const VirtAddr at = va + done;
    std::optional<arch::Translation> t = builder_.Lookup(at);
    if (!t) {
      return absl::FailedPreconditionError(
          absl::StrCat("kernel address ", Hex(at.value()), " is not mapped"));
    }
    const uint64_t page = 1ull << t->page_shift;
    const uint64_t off = at.value() & (page - 1);
    const size_t n = std::min<uint64_t>(page - off, buf.size() - done);
    const PhysAddr pa = t->pa;  // translated address, offset included
    const bool ok = write
        ? alloc_.mem().WriteBytes(pa, buf.subspan(done, n), mem::Access::Cpu())
        : alloc_.mem().ReadBytes(pa, buf.subspan(done, n), mem::Access::Cpu());
    if (!ok) return absl::InternalError("kernel mapping points outside memory");
    done += n;
  }
  return absl::OkStatus();
}

absl::Status KernelSpace::Write(VirtAddr va, std::span<const uint8_t> data) {
  std::vector<uint8_t> copy(data.begin(), data.end());
  return Access(va, copy, /*write=*/true);
}

absl::Status KernelSpace::Read(VirtAddr va, std::span<uint8_t> out) {
  return Access(va, out, /*write=*/false);
}

}  // namespace svaemu::kernel
