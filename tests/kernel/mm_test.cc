#include "svaemu/kernel/mm.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/kernel_testutil.h"
#include "svaemu/arch/arm64.h"

namespace svaemu::kernel {
namespace {

using check::ViolationKind;
using ::testing::ElementsAre;

constexpr uint8_t kRw = kProtRead | kProtWrite;

class RecordingNotifier : public MmuNotifier {
 public:
  void InvalidateSecondaryTlbs(Mm&, VirtAddr s, VirtAddr e) override {
    invalidations.emplace_back(s, e);
  }
  void Release(Mm& mm) override {
    ++releases;
    // Release runs before the user mappings are torn down.
    pages_at_release = mm.resident_pages();
  }
  std::vector<std::pair<VirtAddr, VirtAddr>> invalidations;
  int releases = 0;
  uint64_t pages_at_release = 0;
};

// The user page-table pages (PT, PD, PDPT) that translate `va` in `mm`.
std::vector<PhysAddr> UserTables(TestMachine& m, Mm& mm, VirtAddr va) {
  arch::PageTableBuilder view(m.alloc, mm.format(), mm.space(), mm.pgd());
  std::vector<PhysAddr> out;
  for (uint8_t level = 1; level <= 3; ++level) {
    absl::StatusOr<PhysAddr> e = view.EntryAddress(va, level);
    if (e.ok()) out.push_back(e->AlignDown(kPageSize4K));
  }
  return out;
}

TEST(Mm, NewMmHasOneUserAndOneCount) {
  TestMachine m;
  Mm& mm = m.NewMm();
  EXPECT_EQ(mm.users(), 1);
  EXPECT_EQ(mm.count(), 1);
  EXPECT_EQ(m.mem.Meta(mm.pgd()).use, mem::FrameUse::kPageTable);
  EXPECT_EQ(m.mem.Meta(mm.pgd()).space, mm.space());
}

TEST(Mm, PopulatedMmapMapsEveryPageWithTheVmaRights) {
  TestMachine m;
  Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(3 * kPageSize4K, kProtRead, /*populate=*/true);
  EXPECT_EQ(mm.resident_pages(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto t = mm.Lookup(va + i * kPageSize4K);
    ASSERT_TRUE(t.has_value());
    EXPECT_FALSE(t->perms.write);
    EXPECT_TRUE(t->perms.user);
    EXPECT_EQ(m.mem.Meta(t->pa).use, mem::FrameUse::kData);
    EXPECT_EQ(m.mem.Meta(t->pa).space, mm.space());
  }
}

TEST(Mm, HandleFaultFollowsTheVma) {
  TestMachine m;
  Mm& mm = m.NewMm();
  VirtAddr ro = *mm.Mmap(kPageSize4K, kProtRead, /*populate=*/false);
  VirtAddr rw = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  arch::AccessType read, write;
  write.write = true;
  EXPECT_FALSE(mm.Lookup(rw).has_value());
  EXPECT_EQ(mm.HandleFault(rw + 8, write), FaultResult::kHandled);
  EXPECT_TRUE(mm.Lookup(rw)->perms.write);
  EXPECT_EQ(mm.HandleFault(rw, write), FaultResult::kHandled);  // spurious
  EXPECT_EQ(mm.resident_pages(), 1u);
  EXPECT_EQ(mm.HandleFault(ro, write), FaultResult::kSegv);
  EXPECT_EQ(mm.HandleFault(ro, read), FaultResult::kHandled);
  EXPECT_EQ(mm.HandleFault(VirtAddr(0x1000), read), FaultResult::kSegv);
  arch::AccessType exec;
  exec.exec = true;
  EXPECT_EQ(mm.HandleFault(rw, exec), FaultResult::kSegv);
}

TEST(Mm, CpuWriteAndReadRoundTripFaultingPagesIn) {
  TestMachine m;
  Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(2 * kPageSize4K, kRw, /*populate=*/false);
  const std::string msg = "crosses a page boundary";
  ASSERT_TRUE(mm.Write(va + 4090, std::vector<uint8_t>(msg.begin(), msg.end())).ok());
  std::vector<uint8_t> back(msg.size());
  ASSERT_TRUE(mm.Read(va + 4090, back).ok());
  EXPECT_EQ(std::string(back.begin(), back.end()), msg);
  EXPECT_EQ(mm.resident_pages(), 2u);
}

TEST(Mm, MunmapInvalidatesThenFreesFramesAndEmptyTables) {
  TestMachine m;
  Mm& mm = m.NewMm();
  RecordingNotifier n;
  ASSERT_TRUE(mm.RegisterNotifier(&n).ok());
  VirtAddr va = *mm.Mmap(2 * kPageSize4K, kRw, /*populate=*/true);
  const PhysAddr frame = mm.Lookup(va)->pa;
  const std::vector<PhysAddr> tables = UserTables(m, mm, va);
  ASSERT_EQ(tables.size(), 3u);
  ASSERT_TRUE(mm.Munmap(va, 2 * kPageSize4K).ok());
  EXPECT_THAT(n.invalidations, ElementsAre(std::make_pair(va, va + 2 * kPageSize4K)));
  EXPECT_EQ(m.mem.Meta(frame).use, mem::FrameUse::kFree);
  EXPECT_STREQ(m.mem.Meta(frame).free.tag, "zap_pte_range");
  for (PhysAddr t : tables) {
    EXPECT_EQ(m.mem.Meta(t).use, mem::FrameUse::kFree);
    EXPECT_STREQ(m.mem.Meta(t).free.tag, "free_pgtables");
  }
  EXPECT_EQ(m.mem.Meta(mm.pgd()).use, mem::FrameUse::kPageTable);
  EXPECT_TRUE(mm.vmas().empty());
}

TEST(Mm, PartialMunmapKeepsTablesOfTheRemainingVma) {
  TestMachine m;
  Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(2 * kPageSize4K, kRw, /*populate=*/true);
  const PhysAddr pte_page = UserTables(m, mm, va)[0];
  ASSERT_TRUE(mm.Munmap(va, kPageSize4K).ok());
  EXPECT_EQ(m.mem.Meta(pte_page).use, mem::FrameUse::kPageTable);
  EXPECT_FALSE(mm.Lookup(va).has_value());
  EXPECT_TRUE(mm.Lookup(va + kPageSize4K).has_value());
  EXPECT_EQ(mm.vmas().size(), 1u);
  EXPECT_EQ(mm.vmas().begin()->second.start, va + kPageSize4K);
}

TEST(Mm, MprotectRewritesPtesAndInvalidates) {
  TestMachine m;
  Mm& mm = m.NewMm();
  RecordingNotifier n;
  ASSERT_TRUE(mm.RegisterNotifier(&n).ok());
  VirtAddr va = *mm.Mmap(2 * kPageSize4K, kRw, /*populate=*/true);
  ASSERT_TRUE(mm.Mprotect(va + kPageSize4K, kPageSize4K, kProtRead).ok());
  EXPECT_TRUE(mm.Lookup(va)->perms.write);
  EXPECT_FALSE(mm.Lookup(va + kPageSize4K)->perms.write);
  EXPECT_THAT(n.invalidations,
              ElementsAre(std::make_pair(va + kPageSize4K, va + 2 * kPageSize4K)));
  arch::AccessType write;
  write.write = true;
  EXPECT_EQ(mm.HandleFault(va + kPageSize4K, write), FaultResult::kSegv);
  EXPECT_EQ(mm.Mprotect(VirtAddr(0x1000), kPageSize4K, kProtRead).code(),
            absl::StatusCode::kNotFound);
}

// mmput() to zero: exit_mmap() frees the user mappings and tables, but the
// pgd and the mm live on while mm_count is held (an SVA domain's mmgrab).
TEST(Mm, ExitFreesUserHalfButPgdLivesUntilMmdrop) {
  TestMachine m;
  Mm& mm = m.NewMm();
  RecordingNotifier n;
  ASSERT_TRUE(mm.RegisterNotifier(&n).ok());
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/true);
  const PhysAddr frame = mm.Lookup(va)->pa;
  const std::vector<PhysAddr> tables = UserTables(m, mm, va);
  std::vector<std::string> hooks;
  mm.AddDropHook([&](Mm& x) {
    EXPECT_EQ(m.mem.Meta(x.pgd()).use, mem::FrameUse::kPageTable);
    hooks.push_back("mm_pasid_drop");
  });

  ASSERT_TRUE(mm.Grab().ok());  // the SVA domain's reference
  EXPECT_EQ(mm.count(), 2);
  ASSERT_TRUE(mm.Put().ok());   // the process exits

  EXPECT_TRUE(mm.exited());
  EXPECT_EQ(mm.users(), 0);
  EXPECT_EQ(mm.count(), 1);
  EXPECT_EQ(n.releases, 1);
  EXPECT_EQ(n.pages_at_release, 1u);
  EXPECT_FALSE(n.registered());
  EXPECT_EQ(m.mem.Meta(frame).use, mem::FrameUse::kFree);
  for (PhysAddr t : tables) EXPECT_EQ(m.mem.Meta(t).use, mem::FrameUse::kFree);
  EXPECT_EQ(m.mem.Meta(mm.pgd()).use, mem::FrameUse::kPageTable);
  EXPECT_TRUE(hooks.empty());
  EXPECT_FALSE(mm.freed());
  EXPECT_FALSE(mm.GetNotZero());
  EXPECT_EQ(mm.Get().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(mm.Mmap(kPageSize4K, kRw, true).status().code(),
            absl::StatusCode::kFailedPrecondition);

  const PhysAddr pgd = mm.pgd();
  ASSERT_TRUE(mm.Drop().ok());  // the domain is freed
  EXPECT_THAT(hooks, ElementsAre("mm_pasid_drop"));
  EXPECT_EQ(m.mem.Meta(pgd).use, mem::FrameUse::kFree);
  EXPECT_STREQ(m.mem.Meta(pgd).free.tag, "pgd_free");
  EXPECT_TRUE(mm.freed());
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST(Mm, ExitDoesNotFreeTheSharedKernelTables) {
  TestMachine m;
  Mm& mm = m.NewMm();
  VirtAddr kva = *m.kernel->kspace().Vmalloc(kPageSize4K);
  const PhysAddr kernel_pte_page = m.KernelTable(kva, 1);
  ASSERT_TRUE(mm.Mmap(kPageSize4K, kRw, true).ok());
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_EQ(m.mem.Meta(kernel_pte_page).use, mem::FrameUse::kPageTable);
  EXPECT_TRUE(m.kernel->kspace().Lookup(kva).has_value());
}

TEST(Mm, UseAfterMmdropIsReportedAndRefused) {
  TestMachine m;
  Mm& mm = m.NewMm();
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_TRUE(mm.freed());
  EXPECT_EQ(mm.Grab().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(mm.Drop().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(mm.HandleFault(VirtAddr(0x10000000), {}), FaultResult::kSegv);
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kKernelObjectUseAfterFree), 3);
  auto v = m.sim.violations().violations();
  EXPECT_THAT(v[0].object, ::testing::StartsWith("mm#"));
  EXPECT_STREQ(v[0].free.tag, "__mmdrop");
}

TEST(Mm, UnbalancedPutAndDropAreFailedPrecondition) {
  TestMachine m;
  Mm& mm = m.NewMm();
  ASSERT_TRUE(mm.Grab().ok());
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_EQ(mm.Put().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(mm.Drop().ok());
  EXPECT_TRUE(mm.freed());
}

TEST(Mm, GetAndPutBalanceBeforeExit) {
  TestMachine m;
  Mm& mm = m.NewMm();
  ASSERT_TRUE(mm.Get().ok());
  EXPECT_TRUE(mm.GetNotZero());
  EXPECT_EQ(mm.users(), 3);
  ASSERT_TRUE(mm.Put().ok());
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_FALSE(mm.exited());
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_TRUE(mm.exited());
  EXPECT_TRUE(mm.freed());  // nobody held mm_count
}

TEST(Mm, NotifierRegistrationRules) {
  TestMachine m;
  Mm& a = m.NewMm();
  Mm& b = m.NewMm();
  RecordingNotifier n;
  ASSERT_TRUE(a.RegisterNotifier(&n).ok());
  EXPECT_EQ(b.RegisterNotifier(&n).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(b.UnregisterNotifier(&n).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(a.UnregisterNotifier(&n).ok());
  ASSERT_TRUE(b.RegisterNotifier(&n).ok());
  {
    RecordingNotifier scoped;
    ASSERT_TRUE(b.RegisterNotifier(&scoped).ok());
  }  // destroyed while registered: unlinks itself
  ASSERT_TRUE(b.Put().ok());
  EXPECT_EQ(n.releases, 1);
}

TEST(Mm, MmapMisuseGetsPreciseCodes) {
  TestMachine m;
  Mm& mm = m.NewMm();
  EXPECT_EQ(mm.Mmap(0, kRw, false).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mm.Mmap(kPageSize4K, kRw, false, VirtAddr(0x10000123)).status().code(),
            absl::StatusCode::kInvalidArgument);
  VirtAddr fixed = *mm.Mmap(kPageSize4K, kRw, false, VirtAddr(0x20000000));
  EXPECT_EQ(fixed, VirtAddr(0x20000000));
  EXPECT_EQ(mm.Mmap(kPageSize4K, kRw, false, VirtAddr(0x20000000)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(mm.Munmap(VirtAddr(0xffff800000000000ull), kPageSize4K).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MmArm64, UserTreeIsTtbr0AndExitFreesIt) {
  TestMachine m(arch::PtFormat::kArm64_4K48);
  Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/true);
  arch::Arm64Stage1Config cfg{.ttbr0 = mm.pgd(), .ttbr1 = m.kernel->kspace().root()};
  arch::WalkOptions opts;
  opts.space = mm.space();
  arch::AccessType acc;
  acc.write = true;
  arch::WalkResult r = arch::WalkArm64(m.mem, cfg, va + 5, acc, opts);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, mm.Lookup(va)->pa + 5);
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_EQ(m.sim.violations().total(), 0);
}

}  // namespace
}  // namespace svaemu::kernel
