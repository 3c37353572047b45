// Every misuse of the domain API gets its own status, and changes nothing.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "domains/domains_testutil.h"

namespace svaemu::testing {
namespace {

using absl::StatusCode;
using hw::pci::DmaOutcome;
using kernel::kIommuRead;
using kernel::kIommuWrite;

constexpr VirtAddr kIova(0x1000'0000);
constexpr int kRw = kIommuRead | kIommuWrite;

class Misuse : public ::testing::TestWithParam<Arch> {};
INSTANTIATE_TEST_SUITE_P(BothPlatforms, Misuse,
                         ::testing::Values(Arch::kX86_64, Arch::kArm64), ArchName);

TEST_P(Misuse, MapRejectsMisalignedAndEmptyRanges) {
  Rig r(GetParam());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf = r.Buffer();
  EXPECT_EQ(r.core().Map(*d, kIova + 8, buf, kPageSize4K, kRw).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().Map(*d, kIova, buf + 8, kPageSize4K, kRw).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().Map(*d, kIova, buf, 100, kRw).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().Map(*d, kIova, buf, 0, kRw).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().Map(*d, kIova, buf, kPageSize4K, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().Unmap(*d, kIova + 8, kPageSize4K).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().Unmap(*d, kIova, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(d->pt().Lookup(kIova).has_value());
}

TEST_P(Misuse, MapOverAMappingIsAlreadyExistsAndKeepsTheOldOne) {
  Rig r(GetParam());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr a = r.Buffer(), b = r.Buffer();
  ASSERT_TRUE(r.core().Map(*d, kIova + kPageSize4K, a, kPageSize4K, kRw).ok());
  // Overlapping by one page out of three: nothing of the new range stays.
  EXPECT_EQ(r.core().Map(*d, kIova, b, 3 * kPageSize4K, kRw).code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(d->pt().Lookup(kIova).has_value());
  EXPECT_FALSE(d->pt().Lookup(kIova + 2 * kPageSize4K).has_value());
  ASSERT_TRUE(d->pt().Lookup(kIova + kPageSize4K).has_value());
  EXPECT_EQ(d->pt().Lookup(kIova + kPageSize4K)->pa, a);
}

TEST_P(Misuse, BeyondTheApertureIsOutOfRange) {
  Rig r(GetParam());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf = r.Buffer();
  // x86-64 first stage: [0, 2^47); arm64 stage 1 with T0SZ = 16: [0, 2^48).
  const uint64_t end = r.arm() ? (1ull << 48) : (1ull << 47);
  EXPECT_EQ(d->aperture_end().value(), end - 1);
  EXPECT_TRUE(r.core().Map(*d, VirtAddr(end - kPageSize4K), buf, kPageSize4K, kRw).ok());
  EXPECT_EQ(r.core().Map(*d, VirtAddr(end), buf, kPageSize4K, kRw).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(r.core().Map(*d, VirtAddr(end - kPageSize4K), buf, 2 * kPageSize4K, kRw).code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(r.core().Map(*d, VirtAddr(~0ull - kPageSize4K + 1), buf, 2 * kPageSize4K, kRw).code(),
            StatusCode::kOutOfRange);  // wraps
  EXPECT_EQ(r.core().Unmap(*d, VirtAddr(end), kPageSize4K).status().code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(*r.core().Unmap(*d, VirtAddr(end - kPageSize4K), kPageSize4K), kPageSize4K);
}

TEST_P(Misuse, WrongDomainTypes) {
  Rig r(GetParam());
  kernel::Device& dev = r.dev();
  const PhysAddr buf = r.Buffer();
  kernel::Domain* id = *r.core().IdentityDomain(dev);
  kernel::Domain* blocked = *r.core().BlockedDomain(dev);
  // iommu_map on a domain without a page table.
  EXPECT_EQ(r.core().Map(*id, kIova, buf, kPageSize4K, kRw).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().Map(*blocked, kIova, buf, kPageSize4K, kRw).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().Unmap(*id, kIova, kPageSize4K).status().code(), StatusCode::kInvalidArgument);
  // An SVA domain has no page table of its own and no RID attach.
  kernel::Mm* mm = *r.p->NewProcess();
  kernel::Domain* sva = *r.core().AllocSvaDomain(dev, *mm);
  EXPECT_EQ(r.core().Map(*sva, kIova, buf, kPageSize4K, kRw).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().AttachDevice(*sva, dev).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().ReplaceDevice(*sva, dev).code(), StatusCode::kInvalidArgument);
  // Paging, identity and blocked domains do not attach at a PASID here.
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(dev);
  EXPECT_EQ(r.core().AttachDevicePasid(*d, dev, Pasid(3)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().AttachDevicePasid(*id, dev, Pasid(3)).status().code(),
            StatusCode::kInvalidArgument);
  // Static domains are never freed.
  EXPECT_EQ(r.core().FreeDomain(id).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().FreeDomain(blocked).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.core().GetDomainForDevice(dev), blocked);
  EXPECT_TRUE(r.core().FreeDomain(sva).ok());
}

TEST_P(Misuse, AttachWhileOwnedByAnotherDomainIsBusy) {
  Rig r(GetParam());
  kernel::Device& dev = r.dev();
  kernel::PagingDomain* a = *r.core().AllocPagingDomain(dev);
  kernel::PagingDomain* b = *r.core().AllocPagingDomain(dev);
  ASSERT_TRUE(r.core().AttachDevice(*a, dev).ok());
  EXPECT_TRUE(r.core().AttachDevice(*a, dev).ok());  // already there: no-op
  EXPECT_EQ(r.core().AttachDevice(*b, dev).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.core().GetDomainForDevice(dev), a);
  EXPECT_EQ(r.core().DetachDevice(*b, dev).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.core().FreeDomain(a).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(r.core().ReplaceDevice(*b, dev).ok());
  EXPECT_EQ(r.core().GetDomainForDevice(dev), b);
}

TEST_P(Misuse, UseOfAFreedPagingDomainIsReportedAndRefused) {
  Rig r(GetParam());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf = r.Buffer();
  ASSERT_TRUE(r.core().Map(*d, kIova, buf, kPageSize4K, kRw).ok());
  ASSERT_TRUE(r.core().FreeDomain(d).ok());
  EXPECT_EQ(r.Violations(), 0);
  EXPECT_EQ(r.core().Map(*d, kIova, buf, kPageSize4K, kRw).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.core().AttachDevice(*d, r.dev()).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.p->sim().violations().Count(check::ViolationKind::kKernelObjectUseAfterFree), 2);
}

TEST_P(Misuse, DomainOfAnotherUnitDoesNotAttach) {
  Rig r(GetParam(), {.iommu_units = 2});
  ASSERT_EQ(r.p->num_devices(), 2u);
  kernel::Device& other = r.dev(1);
  ASSERT_NE(other.ops(), r.dev(0).ops());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev(0));
  EXPECT_EQ(r.core().AttachDevice(*d, other).code(), StatusCode::kInvalidArgument);
  kernel::Domain* id0 = *r.core().IdentityDomain(r.dev(0));
  EXPECT_EQ(r.core().AttachDevice(*id0, other).code(), StatusCode::kInvalidArgument);
}

TEST(VtdWithoutPassThrough, HasNoIdentityDomainAndDefaultsToBlocked) {
  Rig r(Arch::kX86_64, {.identity_default_domain = true, .vtd_pass_through = false});
  EXPECT_EQ(r.core().IdentityDomain(r.dev()).status().code(), StatusCode::kFailedPrecondition);
  // The configuration asked for identity; the unit cannot: blocked.
  EXPECT_EQ(r.core().GetDomainForDevice(r.dev())->type(), kernel::DomainType::kBlocked);
  const PhysAddr buf = r.Buffer();
  EXPECT_EQ(r.Write(VirtAddr(buf.value()), 1).outcome, DmaOutcome::kAborted);
  // And the driver refuses a pass-through entry outright.
  EXPECT_EQ(r.p->vtd_driver(0)
                ->SetupPassThroughPasid(r.dev().id().rid, Pasid(0), DomainId(1), false)
                .code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace svaemu::testing
