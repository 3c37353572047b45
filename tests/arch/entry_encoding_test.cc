// Encoders and decoders of paging entries: exact bit positions (SDM Tables
// 4-15..4-20, Arm ARM D8.3), round trips, and entries written into a frame
// surrounded by guard bytes.
#include <array>
#include <cstring>

#include "gtest/gtest.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::arch {
namespace {

TEST(X86Entry, LeafEncodesEveryAttributeAtItsSdmBit) {
  const X86Entry e = X86Entry::Leaf(
      1, PhysAddr(0x1234000),
      MapAttrs{.write = true, .user = true, .exec = false, .global = true,
               .accessed = true, .dirty = true});
  // P|RW|US|A|D|G = 0x167, XD = bit 63.
  EXPECT_EQ(e.raw, 0x8000000001234167ull);
  EXPECT_TRUE(e.present());
  EXPECT_TRUE(e.writable());
  EXPECT_TRUE(e.user());
  EXPECT_TRUE(e.accessed());
  EXPECT_TRUE(e.dirty());
  EXPECT_TRUE(e.global());
  EXPECT_TRUE(e.xd());
  EXPECT_FALSE(e.ps());
  EXPECT_EQ(e.address(), PhysAddr(0x1234000));
  EXPECT_TRUE(e.IsLeaf(1));
}

TEST(X86Entry, LargeLeafSetsPsAndTableEntryIsPermissive) {
  const X86Entry big = X86Entry::Leaf(2, PhysAddr(0x40000000),
                                      MapAttrs{.write = false, .user = false});
  EXPECT_EQ(big.raw, 0x40000000ull | 0x1 | 0x20 | 0x80);
  EXPECT_TRUE(big.IsLeaf(2));
  EXPECT_FALSE(big.IsLeaf(4));  // PS there is reserved, not a leaf
  EXPECT_EQ(big.page_base(2), PhysAddr(0x40000000));
  const X86Entry t = X86Entry::Table(PhysAddr(0xabc000));
  EXPECT_EQ(t.raw, 0xabc000ull | 0x27);  // P|RW|US|A
  EXPECT_FALSE(t.IsLeaf(2));
}

TEST(X86Entry, ReleveledMovesPatBetweenBit7AndBit12) {
  X86Entry pte = X86Entry::Leaf(1, PhysAddr(0x5000), {});
  pte.raw |= 1ull << 7;  // PAT of a 4 KiB page
  const X86Entry pde = X86Entry::Releveled(pte, 1, 2, PhysAddr(0x200000));
  EXPECT_TRUE(pde.ps());
  EXPECT_TRUE(pde.pat(2));
  EXPECT_EQ(pde.page_base(2), PhysAddr(0x200000));
  const X86Entry back = X86Entry::Releveled(pde, 2, 1, PhysAddr(0x202000));
  EXPECT_FALSE(Bit(back.raw, 12));
  EXPECT_TRUE(back.pat(1));
  EXPECT_EQ(back.address(), PhysAddr(0x202000));
  EXPECT_EQ(back.raw & 0xfff, pte.raw & 0xfff);
}

TEST(Arm64Desc, LeafEncodesLinuxStyleAttributesAtD83Bits) {
  const Arm64Desc d = Arm64Desc::Leaf(
      1, PhysAddr(0x40000000),
      MapAttrs{.write = true, .user = true, .exec = false});
  // page 0b11, AP[1]=1, SH=0b11, AF, nG, PXN, UXN.
  EXPECT_EQ(d.raw, 0x0060000040000f43ull);
  EXPECT_TRUE(d.IsPage(1));
  EXPECT_FALSE(d.ap2());
  EXPECT_TRUE(d.ap1());
  EXPECT_EQ(d.sh(), 3u);
  EXPECT_TRUE(d.af());
  EXPECT_TRUE(d.ng());
  EXPECT_TRUE(d.pxn());
  EXPECT_TRUE(d.uxn());
  EXPECT_FALSE(d.dbm());
  EXPECT_EQ(d.attr_indx(), 0u);
  EXPECT_EQ(d.output_address(1), PhysAddr(0x40000000));
}

TEST(Arm64Desc, KernelTextIsPxnClearAndUxnSet) {
  const Arm64Desc d = Arm64Desc::Leaf(
      2, PhysAddr(0x200000), MapAttrs{.write = false, .user = false,
                                      .global = true});
  EXPECT_EQ(d.type(), 1u);  // block
  EXPECT_TRUE(d.IsBlock(2));
  EXPECT_FALSE(d.IsBlock(4));
  EXPECT_TRUE(d.ap2());
  EXPECT_FALSE(d.ap1());
  EXPECT_FALSE(d.pxn());
  EXPECT_TRUE(d.uxn());
  EXPECT_FALSE(d.ng());
}

TEST(Arm64Desc, TableAttributesDecodeFromTheirBits) {
  Arm64Desc t = Arm64Desc::Table(PhysAddr(0x123456000));
  EXPECT_EQ(t.raw, 0x123456003ull);
  EXPECT_TRUE(t.IsTable(4));
  EXPECT_FALSE(t.IsTable(1));  // 0b11 at L3 is a page
  t.raw |= (1ull << 59) | (1ull << 60) | (2ull << 61) | (1ull << 63);
  EXPECT_TRUE(t.pxn_table());
  EXPECT_TRUE(t.uxn_table());
  EXPECT_EQ(t.ap_table(), 2u);
  EXPECT_TRUE(t.ns_table());
  EXPECT_EQ(t.table_address(), PhysAddr(0x123456000));
}

TEST(Arm64Desc, ReleveledKeepsAttributesAndChangesType) {
  Arm64Desc block = Arm64Desc::Leaf(2, PhysAddr(0x400000),
                                    MapAttrs{.write = false, .global = true});
  block.raw |= 1ull << Arm64Desc::kDbm;
  const Arm64Desc page = Arm64Desc::Releveled(block, 2, 1, PhysAddr(0x401000));
  EXPECT_TRUE(page.IsPage(1));
  EXPECT_EQ(page.output_address(1), PhysAddr(0x401000));
  EXPECT_EQ(page.raw & ~BitMask(47, 0), block.raw & ~BitMask(47, 0));
  EXPECT_EQ(page.raw & BitMask(11, 2), block.raw & BitMask(11, 2));
}

// Writes `entry` at slot `index` of a frame filled with a guard pattern and
// checks that exactly those eight bytes changed, little-endian.
void ExpectOnlySlotChanged(uint64_t entry, unsigned index) {
  sim::Simulation sim;
  mem::PhysMem mem(sim, {.size_bytes = 1ull << 24});
  const PhysAddr frame(0x3000);
  std::array<uint8_t, 3 * 4096> before;
  for (size_t i = 0; i < before.size(); ++i) {
    before[i] = static_cast<uint8_t>(0xa5 ^ (i * 7));
  }
  const mem::Access cpu = mem::Access::Cpu(Purpose::kPageTableUpdate);
  ASSERT_TRUE(mem.WriteBytes(frame - 4096, before, cpu));
  ASSERT_TRUE(mem.Write64(frame + 8ull * index, entry, cpu));
  std::array<uint8_t, 3 * 4096> after;
  ASSERT_TRUE(mem.ReadBytes(frame - 4096, after, cpu));
  std::array<uint8_t, 3 * 4096> expected = before;
  for (unsigned b = 0; b < 8; ++b) {
    expected[4096 + 8 * index + b] = static_cast<uint8_t>(entry >> (8 * b));
  }
  EXPECT_EQ(after, expected);
  uint64_t back = 0;
  ASSERT_TRUE(mem.Read64(frame + 8ull * index, cpu, &back));
  EXPECT_EQ(back, entry);
}

TEST(EntryGuardBytes, X86LeafWrittenIntoGuardedFrameChangesOnlyItsSlot) {
  ExpectOnlySlotChanged(
      X86Entry::Leaf(1, PhysAddr(0xfedcb000), {.exec = false}).raw, 0);
  ExpectOnlySlotChanged(X86Entry::Table(PhysAddr(0x7000)).raw, 511);
  ExpectOnlySlotChanged(
      X86Entry::Leaf(3, PhysAddr(0xc0000000), {.global = true}).raw, 17);
}

TEST(EntryGuardBytes, Arm64DescriptorWrittenIntoGuardedFrameChangesOnlyItsSlot) {
  ExpectOnlySlotChanged(Arm64Desc::Leaf(1, PhysAddr(0x89abc000), {}).raw, 255);
  ExpectOnlySlotChanged(Arm64Desc::Table(PhysAddr(0x123000)).raw, 0);
  ExpectOnlySlotChanged(Arm64Desc::Leaf(3, PhysAddr(0x40000000), {}).raw, 511);
}

TEST(WalkNames, FaultKindsHaveStableNames) {
  EXPECT_STREQ(FaultKindName(FaultKind::kReservedBit), "reserved_bit");
  EXPECT_STREQ(FaultKindName(FaultKind::kRootDisabled), "root_disabled");
  EXPECT_STREQ(PermFaultName(PermFault::kExec), "exec");
}

TEST(WalkGeometry, LevelCoverageAndIndex) {
  EXPECT_EQ(EntryCoverage(1), kPageSize4K);
  EXPECT_EQ(EntryCoverage(2), kPageSize2M);
  EXPECT_EQ(EntryCoverage(3), kPageSize1G);
  EXPECT_EQ(TableCoverage(4), 1ull << 48);
  EXPECT_EQ(TableCoverage(5), 1ull << 57);
  const VirtAddr va(0x00ff8040201ff000);
  EXPECT_EQ(TableIndex(va, 1), 0x1ffu);
  EXPECT_EQ(TableIndex(va, 2), 0x100u);
  EXPECT_EQ(TableIndex(va, 3), 0x100u);
  EXPECT_EQ(TableIndex(va, 4), 0x100u);
  EXPECT_EQ(TableIndex(va, 5), 0xffu);
}

}  // namespace
}  // namespace svaemu::arch
