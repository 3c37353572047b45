// SmmuV3::Create: a configuration the model cannot implement is refused
// with InvalidArgument naming the field (never an abort); a valid one
// builds a model whose ID registers say what was asked.
#include <string>

#include "gtest/gtest.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::smmuv3 {
namespace {

TEST(SmmuV3Create, RefusesConfigurationsTheModelCannotImplementNamingTheField) {
  struct Case {
    const char* field;
    SmmuV3Config config;
  };
  const Case cases[] = {
      {"tlb.sets", {.tlb = {.sets = 3, .ways = 4}}},
      {"tlb.sets", {.tlb = {.sets = 0, .ways = 4}}},
      {"walk_cache.ways", {.walk_cache = {.sets = 16, .ways = 0}}},
      {"cfg_cache.ways", {.cfg_cache = {.sets = 16, .ways = 70000}}},
      {"sid_bits", {.sid_bits = 33}},
      {"ssid_bits", {.ssid_bits = 21}},
      {"oas_bits", {.oas_bits = 52}},
      {"oas_bits", {.oas_bits = 47}},
      {"cmdq_log2_max", {.cmdq_log2_max = 20}},
      {"evtq_log2_max", {.evtq_log2_max = 20}},
      {"priq_log2_max", {.priq_log2_max = 20}},
      {"httu", {.httu = 3}},
      {"stall_model", {.stall_model = static_cast<StallModel>(3)}},
  };
  sim::Simulation sim({.trace = false});
  mem::PhysMem mem(sim);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    absl::StatusOr<std::unique_ptr<SmmuV3>> s = SmmuV3::Create(sim, mem, c.config);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(s.status().message()).find(c.field), std::string::npos)
        << s.status().message();
  }
}

// IDR3 without PPS: HAD, FWB, RIL and BBML = 0b10.
constexpr uint64_t kIdr3V32 = (1u << 2) | (1u << 8) | (1u << 10) | (0b10u << 11);

TEST(SmmuV3Create, BuildsAValidConfigurationWithTheIdRegistersAsked) {
  sim::Simulation sim({.trace = false});
  mem::PhysMem mem(sim);
  absl::StatusOr<std::unique_ptr<SmmuV3>> s = SmmuV3::Create(
      sim, mem, {.unit = 3, .sid_bits = 8, .ssid_bits = 5, .oas_bits = 40,
                 .tlb = {.sets = 1, .ways = 2}});
  ASSERT_TRUE(s.ok()) << s.status();
  SmmuV3& smmu = **s;
  const uint64_t idr1 = smmu.MmioRead(kIdr1, 4);
  EXPECT_EQ(idr1::kSidsize.Get(idr1), 8u);
  EXPECT_EQ(idr1::kSsidsize.Get(idr1), 5u);
  EXPECT_EQ(idr5::kOas.Get(smmu.MmioRead(kIdr5, 4)), AddressSizeEncoding(40));
  // 6.3.4 IDR3: HAD bit 2, PPS bit 5, FWB bit 8, RIL bit 10, BBML [12:11]
  // = 0b10 (bits [1:0] and 6 are RES0): what v3.2 requires with stage 1.
  EXPECT_EQ(smmu.MmioRead(kIdr3, 4), kIdr3V32 | (1u << 5));
  EXPECT_EQ(smmu.MmioRead(kAidr, 4), 0x02u);  // SMMUv3.2
}

// 6.3.4: IDR3.PPS is RES0 without PRI or without SubstreamIDs.
TEST(SmmuV3Create, Idr3PpsIsRes0WithoutPriOrSubstreams) {
  for (const SmmuV3Config& c : {SmmuV3Config{.pri = false}, SmmuV3Config{.ssid_bits = 0}}) {
    sim::Simulation sim({.trace = false});
    mem::PhysMem mem(sim);
    absl::StatusOr<std::unique_ptr<SmmuV3>> s = SmmuV3::Create(sim, mem, c);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ((*s)->MmioRead(kIdr3, 4), kIdr3V32);
  }
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
