#include "svaemu/platform/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace svaemu::platform {
namespace {

TEST(PlatformConfig, DefaultsReproduceCurrentLinux) {
  PlatformConfig c;
  EXPECT_EQ(c.arch, Arch::kX86_64);
  EXPECT_EQ(c.format(), arch::PtFormat::kX86_4Level);
  EXPECT_EQ(c.policies.kva_invalidation, kernel::KvaInvalidation::kDeferredBatch);
  EXPECT_EQ(c.policies.pasid_lifetime, kernel::PasidLifetime::kFreeAtMmdrop);
  EXPECT_EQ(c.policies.detach_drain, kernel::DetachDrain::kDrain);
}

TEST(PlatformConfig, TextRoundTrips) {
  PlatformConfig c;
  c.arch = Arch::kArm64;
  c.iommu_units = 3;
  c.devices_per_unit = 4;
  c.device.stall = true;
  c.device.pasid_bits = 16;
  c.seed = 99;
  c.permute_ready_work = true;
  c.schedule_jitter = 5000;
  c.policies.kva_invalidation = kernel::KvaInvalidation::kUserOnlyRoot;
  c.policies.detach_drain = kernel::DetachDrain::kNone;
  absl::StatusOr<PlatformConfig> back = ParseConfig(ToText(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
  EXPECT_EQ(back->format(), arch::PtFormat::kArm64_4K48);
}

TEST(PlatformConfig, ParsesCommentsAndBlankLines) {
  absl::StatusOr<PlatformConfig> c = ParseConfig(
      "# a machine\n\narch = x86_64   # the default\nx86_levels=5\n"
      "policy.pasid_lifetime = free_at_exit\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->format(), arch::PtFormat::kX86_5Level);
  EXPECT_EQ(c->policies.pasid_lifetime, kernel::PasidLifetime::kFreeAtExit);
}

TEST(PlatformConfig, BadInputNamesTheLine) {
  auto unknown = ParseConfig("arch = x86_64\ncolour = blue\n");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()), ::testing::HasSubstr("line 2"));
  EXPECT_FALSE(ParseConfig("x86_levels = 3").ok());
  EXPECT_FALSE(ParseConfig("policy.detach_drain = maybe").ok());
  EXPECT_FALSE(ParseConfig("iommu_units = 0").ok());
  EXPECT_FALSE(ParseConfig("memory_bytes = 4097").ok());
  EXPECT_FALSE(ParseConfig("device.ats = perhaps").ok());
}

}  // namespace
}  // namespace svaemu::platform
