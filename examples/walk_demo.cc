// The walk demo: builds an x86-64 (4- and 5-level) and an arm64 address
// space in emulated physical memory, maps pages of every size, walks them as
// an IOMMU would and prints each level read, then shows the checker catching
// a walk through a page-table page that the kernel freed and reused.
#include <cstdio>
#include <string>
#include <vector>

#include "svaemu/arch/arm64.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/sim/simulation.h"

namespace {

using namespace svaemu;

struct Printer {
  void OnRead(const arch::LevelRead& r) {
    std::printf("    level %u  table %-12s entry[%3llu] = %016llx%s\n", r.level,
                Hex(r.table.value()).c_str(),
                static_cast<unsigned long long>((r.entry_pa - r.table) / 8),
                static_cast<unsigned long long>(r.entry), r.leaf ? "  (leaf)" : "");
  }
};

void Print(const char* what, VirtAddr va, const arch::WalkResult& r) {
  std::printf("  %s %s\n", what, Hex(va.value()).c_str());
  if (r.ok()) {
    std::printf("    -> PA %s, %u KiB page, %s%s, %u reads, %u A/D updates\n",
                Hex(r.t.pa.value()).c_str(), (1u << r.t.page_shift) / 1024,
                r.t.perms.write ? "RW" : "RO", r.t.perms.user ? " user" : " kernel",
                r.reads, r.ad_updates);
  } else {
    std::printf("    -> fault %s at level %u\n", arch::FaultKindName(r.fault), r.level);
  }
}

int X86(uint8_t levels) {
  sim::Simulation sim;
  mem::PhysMem mem(sim);
  mem::FrameAllocator alloc(mem);
  auto k = kernel::Kernel::Create(
      sim, alloc,
      {.format = levels == 5 ? arch::PtFormat::kX86_5Level : arch::PtFormat::kX86_4Level,
       .kernel_pt_free = kernel::KernelPtFreePolicy::kImmediate});
  if (!k.ok()) return std::fprintf(stderr, "%s\n", k.status().ToString().c_str()), 1;
  kernel::Mm& mm = **(*k)->NewMm();
  std::printf("x86-64 %u-level: pgd %s\n", levels, Hex(mm.pgd().value()).c_str());

  VirtAddr user = *mm.Mmap(2 * kPageSize4K, kernel::kProtRead | kernel::kProtWrite, true);
  VirtAddr high = levels == 5 ? VirtAddr(0x00f0000000000000ull) : VirtAddr(0x7f0000000000ull);
  (void)mm.Mmap(kPageSize4K, kernel::kProtRead, true, high);
  kernel::KernelSpace& ks = (*k)->kspace();
  PhysAddr two_meg = *alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "demo");
  VirtAddr kva = *ks.VmapHuge(two_meg, kPageSize2M, kPageSize2M);

  Printer p;
  arch::WalkOptions opts;
  opts.agent = Agent::Iommu(0);
  opts.space = mm.space();
  arch::AccessType write;
  write.write = true;
  Print("user write", user + 0x10,
        arch::WalkX86(mem, mm.pgd(), {.levels = levels}, user + 0x10, write, opts, &p));
  Print("user read", high, arch::WalkX86(mem, mm.pgd(), {.levels = levels}, high, {}, opts, &p));
  Print("user write to read-only", high,
        arch::WalkX86(mem, mm.pgd(), {.levels = levels}, high, write, opts, &p));
  arch::AccessType priv;
  priv.user = false;
  Print("kernel read (2 MiB vmap)", kva + 0x1234,
        arch::WalkX86(mem, mm.pgd(), {.levels = levels}, kva + 0x1234, priv, opts, &p));
  Print("user read of kernel page", kva,
        arch::WalkX86(mem, mm.pgd(), {.levels = levels}, kva, {}, opts, &p));
  return sim.violations().total() == 0 ? 0 : 1;
}

int Arm64() {
  sim::Simulation sim;
  mem::PhysMem mem(sim);
  mem::FrameAllocator alloc(mem);
  auto k = kernel::Kernel::Create(sim, alloc, {.format = arch::PtFormat::kArm64_4K48});
  if (!k.ok()) return 1;
  kernel::Mm& mm = **(*k)->NewMm();
  kernel::KernelSpace& ks = (*k)->kspace();
  std::printf("arm64 4K/48-bit: TTBR0 %s, TTBR1 %s\n", Hex(mm.pgd().value()).c_str(),
              Hex(ks.root().value()).c_str());
  VirtAddr user = *mm.Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtWrite, true);
  VirtAddr kva = *ks.Vmalloc(kPageSize4K);
  Printer p;
  arch::WalkOptions opts;
  opts.agent = Agent::Iommu(1);
  opts.space = mm.space();
  arch::Arm64Stage1Config cfg{.ttbr0 = mm.pgd(), .ttbr1 = ks.root()};
  Print("user read (TTBR0)", user, arch::WalkArm64(mem, cfg, user, {}, opts, &p));
  arch::AccessType priv;
  priv.user = false;
  Print("kernel read (TTBR1)", kva, arch::WalkArm64(mem, cfg, kva, priv, opts, &p));
  cfg.epd1 = true;
  Print("kernel read with EPD1=1 (SVA CD)", kva,
        arch::WalkArm64(mem, cfg, kva, priv, opts, &p));
  return sim.violations().total() == 0 ? 0 : 1;
}

// A stale paging-structure-cache pointer, played by hand: the kernel frees a
// PTE page (huge vmap promotion), an attacker gets the frame back.
int StaleWalk() {
  sim::Simulation sim;
  mem::PhysMem mem(sim);
  mem::FrameAllocator alloc(mem);
  auto k = kernel::Kernel::Create(sim, alloc,
                                  {.format = arch::PtFormat::kX86_4Level,
                                   .kernel_pt_free = kernel::KernelPtFreePolicy::kImmediate});
  if (!k.ok()) return 1;
  kernel::Mm& mm = **(*k)->NewMm();
  kernel::KernelSpace& ks = (*k)->kspace();
  VirtAddr va = *ks.Vmalloc(kPageSize4K);
  PhysAddr pte_page = ks.builder().EntryAddress(va, 1)->AlignDown(kPageSize4K);
  (void)ks.Vfree(va);
  PhysAddr two_meg = *alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "demo");
  (void)ks.VmapHuge(two_meg, kPageSize2M, kPageSize2M);
  PhysAddr spray = *alloc.Allocate(mem::FrameUse::kData, "attacker_spray");
  PhysAddr target = *alloc.Allocate(mem::FrameUse::kData, "attacker_target");
  mem.Write64(spray + arch::TableIndex(va, 1) * 8, target.value() | 0x3, mem::Access::Cpu());
  std::printf("stale walk: PTE page %s was freed by pmd_free_pte_page and is now %s\n",
              Hex(pte_page.value()).c_str(), mem::DescribeFrame(mem.Meta(pte_page)).c_str());
  Printer p;
  arch::WalkOptions opts;
  opts.agent = Agent::Iommu(0);
  opts.space = mm.space();
  arch::AccessType priv;
  priv.user = false;
  Print("kernel read through a stale PDE-cache entry", va,
        arch::WalkX86(mem, arch::WalkStart{.table = pte_page, .level = 1}, {.levels = 4},
                      va, priv, opts, &p));
  for (const check::Violation& v : sim.violations().violations()) {
    std::printf("%s\n", check::FormatViolation(v).c_str());
  }
  // The demo succeeds when the checker caught both the walk and the A/D write.
  return sim.violations().total() == 2 ? 0 : 1;
}

}  // namespace

int main() {
  int rc = 0;
  rc |= X86(4);
  rc |= X86(5);
  rc |= Arm64();
  rc |= StaleWalk();
  std::printf(rc == 0 ? "walk demo: OK\n" : "walk demo: FAILED\n");
  return rc;
}
