// Paging, identity and blocked domains at a device's RID, on x86-64 + VT-d
// and arm64 + SMMUv3: DMA without a PASID goes where the RID domain says.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "domains/domains_testutil.h"

namespace svaemu::testing {
namespace {

using hw::pci::DmaOutcome;
using hw::smmuv3::Ste;
using kernel::kIommuRead;
using kernel::kIommuWrite;

constexpr VirtAddr kIova(0x1000'0000);

class RidAttach : public ::testing::TestWithParam<Arch> {};
INSTANTIATE_TEST_SUITE_P(BothPlatforms, RidAttach,
                         ::testing::Values(Arch::kX86_64, Arch::kArm64), ArchName);

TEST_P(RidAttach, DefaultDomainIsBlockedAndDmaWithoutPasidFails) {
  Rig r(GetParam());
  kernel::Device& dev = r.dev();
  ASSERT_NE(r.core().GetDomainForDevice(dev), nullptr);
  EXPECT_EQ(r.core().GetDomainForDevice(dev)->type(), kernel::DomainType::kBlocked);
  EXPECT_EQ(dev.group()->default_domain(), r.core().GetDomainForDevice(dev));
  const PhysAddr buf = r.Buffer();
  EXPECT_EQ(r.Write(VirtAddr(buf.value()), 0x5a).outcome, DmaOutcome::kAborted);
  EXPECT_EQ(r.ReadByte(buf), 0);
  if (r.arm()) {
    // 5.2/7.3.7: an abort STE terminates without recording an event.
    EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigAbort);
    EXPECT_EQ(r.DriverFaults(), 0u);
  } else {
    // No RID_PASID entry: the fault is recorded for the requester.
    ASSERT_EQ(r.DriverFaults(), 1u);
    EXPECT_FALSE(r.p->vtd_driver(0)->faults()[0].has_pasid);
    EXPECT_EQ(r.p->vtd_driver(0)->faults()[0].sid, dev.id().rid.value());
  }
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAttach, PagingDomainReachesMappedBufferAndUnmappedIovaFaults) {
  Rig r(GetParam());
  kernel::Device& dev = r.dev();
  absl::StatusOr<kernel::PagingDomain*> d = r.core().AllocPagingDomain(dev);
  ASSERT_TRUE(d.ok()) << d.status();
  const PhysAddr buf = r.Buffer();
  ASSERT_TRUE(r.core().Map(**d, kIova, buf, kPageSize4K, kIommuRead | kIommuWrite).ok());
  ASSERT_TRUE(r.core().AttachDevice(**d, dev).ok());
  EXPECT_EQ(r.core().GetDomainForDevice(dev), *d);

  const hw::pci::DmaRecord& w = r.Write(kIova + 0x10, 0xa5);
  ASSERT_EQ(w.outcome, DmaOutcome::kDone);
  EXPECT_EQ(w.pa, buf + 0x10);
  EXPECT_EQ(r.ReadByte(buf + 0x10), 0xa5);
  r.WriteByte(buf + 0x20, 0x3c);
  EXPECT_EQ(r.Read(kIova + 0x20), std::optional<uint8_t>(0x3c));
  EXPECT_EQ(r.DriverFaults(), 0u);

  // An IOVA next to the buffer is not mapped: a translation fault.
  EXPECT_EQ(r.Write(kIova + kPageSize4K, 1).outcome, DmaOutcome::kAborted);
  ASSERT_EQ(r.DriverFaults(), 1u);
  if (r.arm()) {
    const hw::smmuv3::Event& e = r.p->smmu_driver(0)->events_seen()[0];
    EXPECT_EQ(e.type, hw::smmuv3::EventType::kFTranslation);
    EXPECT_FALSE(e.ssv);
    EXPECT_EQ(e.input_addr, kIova + kPageSize4K);
    // Paging at the RID: a CD-table STE with S1DSS = SSID0 (0b10).
    EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigS1Trans);
    EXPECT_EQ(r.Ste().Get(Ste::kS1DSS), Ste::kS1DSSSsid0);
  } else {
    const kernel::vtd::RecordedFault& f = r.p->vtd_driver(0)->faults()[0];
    EXPECT_FALSE(f.has_pasid);
    EXPECT_EQ(f.addr, (kIova + kPageSize4K).value());
  }

  // Unmapped: the buffer is no longer reachable, and the size comes back.
  absl::StatusOr<uint64_t> n = r.core().Unmap(**d, kIova, kPageSize4K);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, kPageSize4K);
  EXPECT_EQ(r.Write(kIova + 0x10, 0x77).outcome, DmaOutcome::kAborted);
  EXPECT_EQ(r.ReadByte(buf + 0x10), 0xa5);
  EXPECT_EQ(r.DriverFaults(), 2u);
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAttach, HugeMappingTranslatesEveryPage) {
  Rig r(GetParam());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  absl::StatusOr<PhysAddr> big = r.p->alloc().AllocateContiguous(
      512, 2ull << 20, mem::FrameUse::kData, "test_huge");
  ASSERT_TRUE(big.ok()) << big.status();
  const VirtAddr iova(0x4000'0000);
  ASSERT_TRUE(r.core().Map(*d, iova, *big, 2ull << 20, kIommuRead | kIommuWrite).ok());
  std::optional<arch::Translation> t = d->pt().Lookup(iova + 0x123000);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->page_shift, 21);  // iommu_pgsize() picked a 2 MiB leaf
  ASSERT_TRUE(r.core().AttachDevice(*d, r.dev()).ok());
  const hw::pci::DmaRecord& w = r.Write(iova + 0x1ff000, 9);
  ASSERT_EQ(w.outcome, DmaOutcome::kDone);
  EXPECT_EQ(w.pa, *big + 0x1ff000);
  // Unmapping one 4 KiB page splits the huge leaf; the rest stays mapped.
  EXPECT_EQ(*r.core().Unmap(*d, iova + 0x1ff000, kPageSize4K), kPageSize4K);
  EXPECT_EQ(r.Write(iova + 0x1ff000, 9).outcome, DmaOutcome::kAborted);
  EXPECT_EQ(r.Write(iova + 0x1fe000, 9).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAttach, IdentityDomainReachesPhysicalAddresses) {
  Rig r(GetParam());
  absl::StatusOr<kernel::Domain*> id = r.core().IdentityDomain(r.dev());
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(r.core().AttachDevice(**id, r.dev()).ok());
  const PhysAddr buf = r.Buffer();
  const hw::pci::DmaRecord& w = r.Write(VirtAddr(buf.value() + 8), 0xee);
  ASSERT_EQ(w.outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf + 8), 0xee);
  if (r.arm()) { EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigBypass); }
  EXPECT_EQ(r.DriverFaults(), 0u);
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAttach, IdentityDefaultDomainFromTheConfig) {
  Rig r(GetParam(), {.identity_default_domain = true});
  EXPECT_EQ(r.core().GetDomainForDevice(r.dev())->type(), kernel::DomainType::kIdentity);
  const PhysAddr buf = r.Buffer();
  ASSERT_EQ(r.Write(VirtAddr(buf.value()), 0x11).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf), 0x11);
  // Detach from a paging domain goes back to identity.
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  ASSERT_TRUE(r.core().AttachDevice(*d, r.dev()).ok());
  EXPECT_EQ(r.Write(VirtAddr(buf.value()), 0x22).outcome, DmaOutcome::kAborted);
  ASSERT_TRUE(r.core().DetachDevice(*d, r.dev()).ok());
  ASSERT_EQ(r.Write(VirtAddr(buf.value()), 0x33).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf), 0x33);
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAttach, BlockedDomainStopsDmaThatAPagingDomainAllowed) {
  Rig r(GetParam());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf = r.Buffer();
  ASSERT_TRUE(r.core().Map(*d, kIova, buf, kPageSize4K, kIommuRead | kIommuWrite).ok());
  ASSERT_TRUE(r.core().AttachDevice(*d, r.dev()).ok());
  ASSERT_EQ(r.Write(kIova, 1).outcome, DmaOutcome::kDone);
  kernel::Domain* blocked = *r.core().BlockedDomain(r.dev());
  ASSERT_TRUE(r.core().ReplaceDevice(*blocked, r.dev()).ok());
  EXPECT_EQ(r.Write(kIova, 2).outcome, DmaOutcome::kAborted);
  EXPECT_EQ(r.ReadByte(buf), 1);
  if (r.arm()) {
    EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigAbort);
    EXPECT_EQ(r.DriverFaults(), 0u);  // aborted without an event (7.3.7)
  } else {
    EXPECT_EQ(r.DriverFaults(), 1u);  // RID_PASID entry torn down
  }
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAttach, ReplacePagingAWithPagingBSwitchesTranslation) {
  Rig r(GetParam());
  kernel::PagingDomain* a = *r.core().AllocPagingDomain(r.dev());
  kernel::PagingDomain* b = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf_a = r.Buffer(), buf_b = r.Buffer();
  r.WriteByte(buf_a, 0xaa);
  r.WriteByte(buf_b, 0xbb);
  ASSERT_TRUE(r.core().Map(*a, kIova, buf_a, kPageSize4K, kIommuRead).ok());
  ASSERT_TRUE(r.core().Map(*b, kIova, buf_b, kPageSize4K, kIommuRead).ok());
  ASSERT_TRUE(r.core().AttachDevice(*a, r.dev()).ok());
  EXPECT_EQ(r.Read(kIova), std::optional<uint8_t>(0xaa));
  ASSERT_TRUE(r.core().ReplaceDevice(*b, r.dev()).ok());
  EXPECT_EQ(r.core().GetDomainForDevice(r.dev()), b);
  EXPECT_EQ(r.Read(kIova), std::optional<uint8_t>(0xbb));  // no stale IOTLB hit
  EXPECT_TRUE(a->attachments().empty());
  ASSERT_EQ(b->attachments().size(), 1u);
  EXPECT_TRUE(b->attachments()[0].rid);
  // Read-only mapping: a DMA write faults.
  EXPECT_EQ(r.Write(kIova, 1).outcome, DmaOutcome::kAborted);
  // A is free to go; B is not while attached.
  EXPECT_TRUE(r.core().FreeDomain(a).ok());
  EXPECT_EQ(r.core().FreeDomain(b).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAttach, DetachGoesBackToTheDefaultDomain) {
  Rig r(GetParam());
  kernel::Domain* def = r.dev().group()->default_domain();
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf = r.Buffer();
  ASSERT_TRUE(r.core().Map(*d, kIova, buf, kPageSize4K, kIommuRead | kIommuWrite).ok());
  ASSERT_TRUE(r.core().AttachDevice(*d, r.dev()).ok());
  ASSERT_EQ(r.Write(kIova, 1).outcome, DmaOutcome::kDone);
  ASSERT_TRUE(r.core().DetachDevice(*d, r.dev()).ok());
  EXPECT_EQ(r.core().GetDomainForDevice(r.dev()), def);
  EXPECT_EQ(r.Write(kIova, 2).outcome, DmaOutcome::kAborted);
  EXPECT_EQ(r.ReadByte(buf), 1);
  EXPECT_TRUE(r.core().FreeDomain(d).ok());
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAttach, AttachAppliesToTheWholeGroup) {
  platform::PlatformConfig c;
  c.devices_per_unit = 1;
  Rig r(GetParam(), c);
  // A second device joins the first one's group.
  kernel::Device& d0 = r.dev();
  absl::StatusOr<kernel::Device*> d1 = r.core().ProbeDevice(
      "dev_alias", 0, StreamId(0x30), {}, d0.group()->id());
  ASSERT_TRUE(d1.ok()) << d1.status();
  EXPECT_EQ(r.core().GetDomainForDevice(**d1), r.core().GetDomainForDevice(d0));
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(d0);
  ASSERT_TRUE(r.core().AttachDevice(*d, d0).ok());
  EXPECT_EQ(r.core().GetDomainForDevice(**d1), d);
  EXPECT_EQ(d->attachments().size(), 2u);
  ASSERT_TRUE(r.core().DetachDevice(*d, **d1).ok());
  EXPECT_TRUE(d->attachments().empty());
}

}  // namespace
}  // namespace svaemu::testing
