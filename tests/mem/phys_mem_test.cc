#include "svaemu/mem/phys_mem.h"

#include <array>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::mem {
namespace {

TEST(PhysMem, UntouchedMemoryReadsZeroAndCostsNothing) {
  sim::Simulation s;
  PhysMem m(s);
  EXPECT_EQ(m.size(), 64ull << 30);
  EXPECT_EQ(m.Read64(PhysAddr(0x7'0000'0000), Access::Cpu()), 0u);
  EXPECT_EQ(m.resident_frames(), 0u);
}

TEST(PhysMem, LittleEndianAtEveryWidth) {
  sim::Simulation s;
  PhysMem m(s);
  const Access a = Access::Cpu();
  ASSERT_TRUE(m.Write64(PhysAddr(0x1000), 0x1122334455667788ull, a));
  uint8_t b;
  uint16_t h;
  uint32_t w;
  ASSERT_TRUE(m.Read8(PhysAddr(0x1000), a, &b));
  ASSERT_TRUE(m.Read16(PhysAddr(0x1000), a, &h));
  ASSERT_TRUE(m.Read32(PhysAddr(0x1004), a, &w));
  EXPECT_EQ(b, 0x88);
  EXPECT_EQ(h, 0x7788);
  EXPECT_EQ(w, 0x11223344u);
  EXPECT_EQ(m.resident_frames(), 1u);
}

TEST(PhysMem, AccessCrossingAFrameBoundaryIsSplit) {
  sim::Simulation s;
  PhysMem m(s);
  const Access a = Access::Cpu();
  ASSERT_TRUE(m.Write64(PhysAddr(0x1ffc), 0xaabbccdd11223344ull, a));
  EXPECT_EQ(m.Read32(PhysAddr(0x1ffc), a), 0x11223344u);
  EXPECT_EQ(m.Read32(PhysAddr(0x2000), a), 0xaabbccddu);
  EXPECT_EQ(m.Read64(PhysAddr(0x1ffc), a), 0xaabbccdd11223344ull);
  EXPECT_EQ(m.resident_frames(), 2u);
}

TEST(PhysMem, OutsideMemoryReadsAllOnesAndWritesAreDropped) {
  sim::Simulation s;
  PhysMem m(s, {.size_bytes = 1 << 20});
  uint64_t v = 0;
  EXPECT_FALSE(m.Read64(PhysAddr(1 << 20), Access::Cpu(), &v));
  EXPECT_EQ(v, ~0ull);
  EXPECT_FALSE(m.Read64(PhysAddr((1 << 20) - 4), Access::Cpu(), &v));
  EXPECT_FALSE(m.Write32(PhysAddr(1 << 20), 1, Access::Cpu()));
  uint64_t expected = 0;
  EXPECT_EQ(m.CompareExchange64(PhysAddr(1 << 20), &expected, 1, Access::Cpu()),
            CasResult::kAbort);
  EXPECT_EQ(m.resident_frames(), 0u);
}

TEST(PhysMem, CompareExchangeSwapsOnlyOnMatch) {
  sim::Simulation s;
  PhysMem m(s);
  const Access a = Access::Cpu();
  m.Write64(PhysAddr(0x3000), 5, a);
  uint64_t expected = 4;
  EXPECT_EQ(m.CompareExchange64(PhysAddr(0x3000), &expected, 9, a),
            CasResult::kMismatch);
  EXPECT_EQ(expected, 5u);
  EXPECT_EQ(m.CompareExchange64(PhysAddr(0x3000), &expected, 9, a),
            CasResult::kSwapped);
  EXPECT_EQ(m.Read64(PhysAddr(0x3000), a), 9u);
}

TEST(PhysMem, BytesRoundTripAcrossFramesWithGuards) {
  sim::Simulation s;
  PhysMem m(s);
  const Access a = Access::Cpu();
  std::vector<uint8_t> guard(16, 0xee);
  m.WriteBytes(PhysAddr(0x4ff0 - 16), guard, a);
  m.WriteBytes(PhysAddr(0x4ff0 + 40), guard, a);
  std::vector<uint8_t> in(40);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i + 1);
  ASSERT_TRUE(m.WriteBytes(PhysAddr(0x4ff0), in, a));
  std::vector<uint8_t> all(72);
  ASSERT_TRUE(m.ReadBytes(PhysAddr(0x4ff0 - 16), all, a));
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(all[i], 0xee) << i;
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(all[16 + i], i + 1) << i;
  for (size_t i = 56; i < 72; ++i) EXPECT_EQ(all[i], 0xee) << i;
}

TEST(PhysMem, ZeroFrameClearsOnlyThatFrame) {
  sim::Simulation s;
  PhysMem m(s);
  const Access a = Access::Cpu();
  m.Write64(PhysAddr(0x5ff8), 1, a);
  m.Write64(PhysAddr(0x6000), 2, a);
  m.ZeroFrame(PhysAddr(0x5123));
  EXPECT_EQ(m.Read64(PhysAddr(0x5ff8), a), 0u);
  EXPECT_EQ(m.Read64(PhysAddr(0x6000), a), 2u);
}

}  // namespace
}  // namespace svaemu::mem
