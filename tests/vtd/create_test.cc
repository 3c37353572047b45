// Vtd::Create: a configuration the model cannot implement is refused with
// InvalidArgument naming the field (never an abort).
#include <string>

#include "gtest/gtest.h"
#include "svaemu/hw/vtd/vtd.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::vtd {
namespace {

TEST(VtdCreate, RefusesConfigurationsTheModelCannotImplementNamingTheField) {
  struct Case {
    const char* field;
    VtdConfig config;
  };
  const Case cases[] = {
      {"nfr", {.nfr = 0}},
      {"nfr", {.nfr = 255}},  // beyond the register map
      {"pasid_bits", {.pasid_bits = 0}},
      {"pasid_bits", {.pasid_bits = 21}},
      {"haw", {.haw = 31}},
      {"haw", {.haw = 53}},
      {"nd", {.nd = 7}},
      {"mamv", {.mamv = 64}},
      {"iotlb_4k", {.iotlb_4k = {.entries = 24, .ways = 8}}},  // 3 sets
      {"pde_cache", {.pde_cache = {.entries = 64, .ways = 0}}},
      {"pml5e_cache", {.pml5e_cache = {.entries = 6, .ways = 4}}},
  };
  sim::Simulation sim({.trace = false});
  mem::PhysMem mem(sim);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    absl::StatusOr<std::unique_ptr<Vtd>> v = Vtd::Create(sim, mem, c.config);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(v.status().message()).find(c.field), std::string::npos)
        << v.status().message();
  }
  EXPECT_TRUE(Vtd::Create(sim, mem, {}).ok());
}

}  // namespace
}  // namespace svaemu::hw::vtd
