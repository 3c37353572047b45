// A machine for kernel-model tests: simulation, memory, allocator, kernel.
#ifndef SVAEMU_TESTS_KERNEL_KERNEL_TESTUTIL_H_
#define SVAEMU_TESTS_KERNEL_KERNEL_TESTUTIL_H_

#include <memory>

#include "gtest/gtest.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

struct TestMachine {
  explicit TestMachine(arch::PtFormat format = arch::PtFormat::kX86_4Level,
                       KernelPtFreePolicy policy = KernelPtFreePolicy::kImmediate)
      : mem(sim), alloc(mem) {
    auto k = Kernel::Create(sim, alloc, {.format = format, .kernel_pt_free = policy});
    EXPECT_TRUE(k.ok()) << k.status();
    kernel = *std::move(k);
  }
  Mm& NewMm() {
    auto mm = kernel->NewMm();
    EXPECT_TRUE(mm.ok()) << mm.status();
    return **mm;
  }
  // The table at `level` that translates `va` in the kernel tree.
  PhysAddr KernelTable(VirtAddr va, uint8_t level) {
    auto entry_pa = kernel->kspace().builder().EntryAddress(va, level);
    EXPECT_TRUE(entry_pa.ok()) << entry_pa.status();
    return entry_pa->AlignDown(kPageSize4K);
  }
  sim::Simulation sim;
  mem::PhysMem mem;
  mem::FrameAllocator alloc;
  std::unique_ptr<Kernel> kernel;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_TESTS_KERNEL_KERNEL_TESTUTIL_H_
