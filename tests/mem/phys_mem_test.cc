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

// Memory inside and outside the flat reservation behaves the same: the
// flat part is all of memory (the default), its first region, or nothing.
class PhysMemFlat : public ::testing::TestWithParam<uint64_t> {};

TEST_P(PhysMemFlat, EveryPathGivesTheSameValuesOnBothSidesOfTheFlatPart) {
  sim::Simulation s;
  constexpr uint64_t kMiB = 1ull << 20;
  PhysMem m(s, {.size_bytes = 64 * kMiB, .flat_bytes_max = GetParam()});
  const Access a = Access::Cpu();
  // Untouched memory reads zero on both sides, without committing a frame.
  for (uint64_t pa : {uint64_t{0}, 16 * kMiB, 40 * kMiB, 64 * kMiB - 8}) {
    EXPECT_EQ(m.Read64(PhysAddr(pa), a), 0u) << pa;
  }
  EXPECT_EQ(m.resident_frames(), 0u);
  // Words on either side of the first region boundary, and one across it.
  ASSERT_TRUE(m.Write64(PhysAddr(16 * kMiB - 8), 0x1111222233334444ull, a));
  ASSERT_TRUE(m.Write64(PhysAddr(16 * kMiB), 0x5555666677778888ull, a));
  EXPECT_EQ(m.Read64(PhysAddr(16 * kMiB - 8), a), 0x1111222233334444ull);
  EXPECT_EQ(m.Read64(PhysAddr(16 * kMiB), a), 0x5555666677778888ull);
  EXPECT_EQ(m.Read64(PhysAddr(16 * kMiB - 4), a), 0x7777888811112222ull);
  ASSERT_TRUE(m.Write32(PhysAddr(16 * kMiB - 2), 0xaabbccddu, a));
  EXPECT_EQ(m.Read32(PhysAddr(16 * kMiB - 2), a), 0xaabbccddu);
  // Compare-exchange and bytes in the upper part.
  uint64_t expected = 0;
  EXPECT_EQ(m.CompareExchange64(PhysAddr(40 * kMiB), &expected, 9, a), CasResult::kSwapped);
  expected = 0;
  EXPECT_EQ(m.CompareExchange64(PhysAddr(40 * kMiB), &expected, 10, a), CasResult::kMismatch);
  EXPECT_EQ(expected, 9u);
  const std::array<uint8_t, 6> in{1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(m.WriteBytes(PhysAddr(48 * kMiB - 3), in, a));
  std::array<uint8_t, 6> out{};
  ASSERT_TRUE(m.ReadBytes(PhysAddr(48 * kMiB - 3), out, a));
  EXPECT_EQ(out, in);
  m.ZeroFrame(PhysAddr(40 * kMiB));
  EXPECT_EQ(m.Read64(PhysAddr(40 * kMiB), a), 0u);
  // (The 32-bit write above replaced the word's two low bytes.)
  EXPECT_EQ(m.Read64(PhysAddr(16 * kMiB), a), 0x555566667777aabbull);
  // Frames written: 16M-4K, 16M, 40M, 48M-4K, 48M.
  EXPECT_EQ(m.resident_frames(), 5u);
  // Outside memory: all ones and a failed read, whatever the flat part.
  uint64_t v = 0;
  EXPECT_FALSE(m.Read64(PhysAddr(64 * kMiB), a, &v));
  EXPECT_EQ(v, ~0ull);
}

TEST_P(PhysMemFlat, WalkReadsAreCheckedOnBothSidesOfTheFlatPart) {
  sim::Simulation s;
  constexpr uint64_t kMiB = 1ull << 20;
  PhysMem m(s, {.size_bytes = 64 * kMiB, .flat_bytes_max = GetParam()});
  const Access cpu = Access::Cpu();
  for (uint64_t pa : {8 * kMiB, 40 * kMiB}) {
    m.MutableMeta(PhysAddr(pa)).use = FrameUse::kFree;
    ASSERT_TRUE(m.Write64(PhysAddr(pa + 16), 0x1234, cpu));
    WalkReader rd(m, Agent::Iommu(0), kNoSpace, VirtAddr(0));
    uint64_t e = 0;
    ASSERT_TRUE(rd.Read(PhysAddr(pa + 16), 1, &e));
    EXPECT_EQ(e, 0x1234u) << pa;
  }
  EXPECT_EQ(s.violations().Count(check::ViolationKind::kWalkThroughFreedFrame), 2);
}

// The walker's shadow test reads the shadow of the frame it reads from (in
// the flat part, flat_meta_): of an untouched region (untracked: nothing to
// report), of a region touched after a walk read it, of a page table of
// another level, and of an untracked neighbour of a table in a touched
// region; by WalkReader::Read, TryRead and the inline Read64.
TEST_P(PhysMemFlat, WalkReadsSeeTheShadowOfTheirOwnFrame) {
  sim::Simulation s;
  constexpr uint64_t kMiB = 1ull << 20;
  PhysMem m(s, {.size_bytes = 64 * kMiB, .flat_bytes_max = GetParam()});
  const Access cpu = Access::Cpu();
  auto walk = [](uint8_t level) {
    Access a;
    a.agent = Agent::Iommu(0);
    a.purpose = Purpose::kPageTableWalk;
    a.level = level;
    return a;
  };
  const auto count = [&] {
    return s.violations().Count(check::ViolationKind::kWalkThroughReusedFrame);
  };
  for (uint64_t pa : {8 * kMiB + 5 * 4096, 40 * kMiB + 7 * 4096}) {
    SCOPED_TRACE(pa);
    // TryRead() declines any read outside the flat part.
    const bool flat = pa < GetParam();
    const int before = count();
    uint64_t e = 1;
    {
      WalkReader rd(m, Agent::Iommu(0), kNoSpace, VirtAddr(0));
      EXPECT_EQ(rd.TryRead(PhysAddr(pa), 1, &e), flat);  // untouched: untracked
      ASSERT_TRUE(rd.Read(PhysAddr(pa), 1, &e));
      EXPECT_EQ(e, 0u);
    }
    EXPECT_EQ(count(), before);
    FrameMeta& meta = m.MutableMeta(PhysAddr(pa));  // touches the region
    meta.use = FrameUse::kPageTable;
    meta.level = 2;
    meta.flags = kFrameRoot;
    ASSERT_TRUE(m.Write64(PhysAddr(pa + 8), 0xabc000 | 3, cpu));
    WalkReader rd(m, Agent::Iommu(0), kNoSpace, VirtAddr(0));
    // The table's own level: a plain read.
    EXPECT_EQ(rd.TryRead(PhysAddr(pa + 8), 2, &e), flat);
    ASSERT_TRUE(rd.Read(PhysAddr(pa + 8), 2, &e));
    EXPECT_EQ(e, 0xabc003u);
    EXPECT_EQ(m.Read64(PhysAddr(pa + 8), walk(2)), 0xabc003u);
    EXPECT_EQ(count(), before);
    // Its untracked neighbour, in the same (now touched) region.
    EXPECT_EQ(rd.TryRead(PhysAddr(pa + 4096), 1, &e), flat);
    ASSERT_TRUE(rd.Read(PhysAddr(pa + 4096), 1, &e));
    EXPECT_EQ(count(), before);
    // Another level: TryRead declines (no report), Read and Read64 report.
    EXPECT_FALSE(rd.TryRead(PhysAddr(pa + 8), 1, &e));
    EXPECT_EQ(count(), before);
    ASSERT_TRUE(rd.Read(PhysAddr(pa + 8), 1, &e));
    EXPECT_EQ(e, 0xabc003u);
    EXPECT_EQ(m.Read64(PhysAddr(pa + 8), walk(3)), 0xabc003u);
    EXPECT_EQ(count(), before + 2);
  }
}

INSTANTIATE_TEST_SUITE_P(FlatPart, PhysMemFlat,
                         ::testing::Values(~0ull, 16ull << 20, 0ull),
                         [](const ::testing::TestParamInfo<uint64_t>& p) {
                           return p.param == ~0ull ? std::string("All")
                                  : p.param == 0   ? std::string("None")
                                                   : std::string("FirstRegion");
                         });

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
