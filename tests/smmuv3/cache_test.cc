// TLB and walk caches: hits, misses, evictions, and invalidation with and
// without Leaf; a stale entry survives until the command that names it.
#include "gtest/gtest.h"
#include "svaemu/arch/pt_builder.h"
#include "smmuv3/smmu_testutil.h"
#include "svaemu/sim/rng.h"

namespace svaemu::hw::smmuv3 {
namespace {

constexpr uint32_t kSid = 0x30;
constexpr uint32_t kSsid = 1;
const Asid kAsid(7);

class SmmuCaches : public ::testing::Test {
 protected:
  explicit SmmuCaches(SmmuV3Config cfg = {}) : m_(cfg) {}
  void SetUp() override {
    mm_ = &m_.NewMm();
    va_ = m_.Populated(*mm_, 4);
    ASSERT_TRUE(m_.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
    ASSERT_TRUE(m_.driver->WriteSvaCd(StreamId(kSid), kSsid, mm_->pgd(), kAsid).ok());
  }
  TransResult Dma(VirtAddr va) { return m_.Dma(kSid, kSsid, va); }
  uint64_t S(const char* n) { return m_.Stat(std::string("smmu0.") + n); }
  SmmuMachine m_;
  kernel::Mm* mm_ = nullptr;
  VirtAddr va_;
};

TEST_F(SmmuCaches, FirstAccessWalksFourLevelsThenHits) {
  ASSERT_EQ(Dma(va_).status, TransStatus::kTranslated);
  EXPECT_EQ(S("walk.reads"), 4u);           // L0..L3 from TTB0
  EXPECT_EQ(S("walk_cache_l2.insertions"), 1u);  // the L2 table descriptor
  EXPECT_EQ(S("tlb.insertions"), 1u);
  ASSERT_EQ(Dma(va_ + 8).status, TransStatus::kTranslated);
  EXPECT_EQ(S("walk.reads"), 4u);  // TLB hit: no read
  // The next page misses the TLB but hits the walk cache at L2: one read.
  ASSERT_EQ(Dma(va_ + kPageSize4K).status, TransStatus::kTranslated);
  EXPECT_EQ(S("walk.reads"), 5u);
  EXPECT_EQ(S("walk_cache_l2.hits"), 1u);
}

TEST_F(SmmuCaches, StaleTlbEntrySurvivesUntilTlbiVa) {
  const PhysAddr old_pa = Dma(va_).pa;
  // The CPU unmaps the page without telling the SMMU.
  ASSERT_TRUE(mm_->Munmap(va_, kPageSize4K).ok());
  EXPECT_EQ(Dma(va_).pa, old_pa);  // stale, as on silicon
  ASSERT_TRUE(m_.driver->TlbiVa(kAsid, va_, kPageSize4K, /*leaf=*/true).ok());
  EXPECT_EQ(Dma(va_).status, TransStatus::kAborted);
  EXPECT_EQ(S("tlb.invalidations"), 1u);
}

TEST_F(SmmuCaches, LeafTlbiKeepsWalkCacheNonLeafDropsIt) {
  ASSERT_EQ(Dma(va_).status, TransStatus::kTranslated);
  const uint64_t walks = m_.smmu.walk_cache_valid();
  EXPECT_EQ(walks, 3u);  // one table descriptor each at L0, L1, L2
  ASSERT_TRUE(m_.driver->TlbiVa(kAsid, va_, kPageSize4K, /*leaf=*/true).ok());
  EXPECT_EQ(m_.smmu.tlb_valid(), 0u);
  EXPECT_EQ(m_.smmu.walk_cache_valid(), 3u);  // Leaf: only last-level entries
  ASSERT_EQ(Dma(va_).status, TransStatus::kTranslated);
  ASSERT_TRUE(m_.driver->TlbiVa(kAsid, va_, kPageSize4K, /*leaf=*/false).ok());
  EXPECT_EQ(m_.smmu.tlb_valid(), 0u);
  EXPECT_EQ(m_.smmu.walk_cache_valid(), 0u);  // the range's walk entries go too
}

TEST_F(SmmuCaches, TlbiAsidDropsOnlyThatAsid) {
  kernel::Mm& other = m_.NewMm();
  const VirtAddr ova = m_.Populated(other);
  ASSERT_TRUE(m_.driver->WriteSvaCd(StreamId(kSid), 2, other.pgd(), Asid(8)).ok());
  ASSERT_EQ(Dma(va_).status, TransStatus::kTranslated);
  ASSERT_EQ(m_.Dma(kSid, 2, ova).status, TransStatus::kTranslated);
  EXPECT_EQ(m_.smmu.tlb_valid(), 2u);
  ASSERT_TRUE(m_.driver->TlbiAsid(kAsid).ok());
  EXPECT_EQ(m_.smmu.tlb_valid(), 1u);  // ASID 8's entry stays
}

TEST_F(SmmuCaches, RangeTlbiCoversEveryPage) {
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(Dma(va_ + i * kPageSize4K).status, TransStatus::kTranslated);
  EXPECT_EQ(m_.smmu.tlb_valid(), 4u);
  ASSERT_TRUE(m_.driver->TlbiVa(kAsid, va_ + kPageSize4K, 3 * kPageSize4K, true).ok());
  EXPECT_EQ(m_.smmu.tlb_valid(), 1u);  // pages 1..3 gone, page 0 stays
}

TEST_F(SmmuCaches, CdChangeNeedsCfgiCd) {
  ASSERT_EQ(Dma(va_).status, TransStatus::kTranslated);
  // Overwrite the CD's ASID behind the SMMU's back: the cached config stays.
  const PhysAddr cd = *m_.driver->CdAddressOf(StreamId(kSid), kSsid);
  Cd c = *m_.driver->ReadCd(StreamId(kSid), kSsid);
  c.Set(Cd::kV, 0);
  m_.mem.Write64(cd, c.dw[0], mem::Access::Cpu());
  EXPECT_EQ(Dma(va_).status, TransStatus::kTranslated);
  ASSERT_TRUE(m_.driver->Submit({MakeCfgiCd(StreamId(kSid), kSsid, true)}).ok());
  EXPECT_EQ(Dma(va_).status, TransStatus::kAborted);
  EXPECT_EQ(S("cfg_cache.invalidations"), 1u);
}

class SmmuTinyTlb : public SmmuCaches {
 protected:
  SmmuTinyTlb() : SmmuCaches({.tlb = {.sets = 1, .ways = 2}}) {}
};

TEST_F(SmmuTinyTlb, ThirdPageEvictsRoundRobin) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(Dma(va_ + i * kPageSize4K).status, TransStatus::kTranslated);
  EXPECT_EQ(S("tlb.evictions"), 1u);  // 2 ways, 3 pages
  EXPECT_EQ(m_.smmu.tlb_valid(), 2u);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3

namespace svaemu::hw::smmuv3 {
namespace {

// A 2 MiB block leaf: the walk stops at L2, the TLB caches the 4 KiB piece
// that was used (with the block's level), a second access in that piece
// hits, and another piece of the same block walks again and translates to
// its own offset.
TEST(SmmuBlockLeaf, TlbCachesThePieceUsedAndTranslatesEveryOffset) {
  SmmuMachine m;
  auto pt = arch::PageTableBuilder::Create(m.alloc, arch::PtFormat::kArm64_4K48, SpaceId(77),
                                           "test_pgd");
  ASSERT_TRUE(pt.ok()) << pt.status();
  constexpr uint64_t kBlock = 2ull << 20;
  const VirtAddr va(0x4000'0000);
  const PhysAddr pa(0x0060'0000);
  ASSERT_TRUE(pt->Map(va, pa, kBlock, kBlock, arch::MapAttrs{}).ok());
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, pt->root(), Asid(9)).ok());

  const TransResult a = m.Dma(kSid, kSsid, va + 0x12345);
  ASSERT_EQ(a.status, TransStatus::kTranslated);
  EXPECT_EQ(a.pa, pa + 0x12345);
  EXPECT_EQ(m.Stat("smmu0.walk.reads"), 3u) << "L0, L1, then the L2 block";
  const uint64_t hits = m.Stat("smmu0.tlb.hits");
  const TransResult b = m.Dma(kSid, kSsid, va + 0x12ff8);
  ASSERT_EQ(b.status, TransStatus::kTranslated);
  EXPECT_EQ(b.pa, pa + 0x12ff8);
  EXPECT_EQ(m.Stat("smmu0.tlb.hits"), hits + 1) << "same 4 KiB piece";
  EXPECT_EQ(m.Stat("smmu0.walk.reads"), 3u);
  const TransResult c = m.Dma(kSid, kSsid, va + 0x1ff010, /*write=*/true);
  ASSERT_EQ(c.status, TransStatus::kTranslated);
  EXPECT_EQ(c.pa, pa + 0x1ff010);
  EXPECT_TRUE(c.writable);
  EXPECT_EQ(m.Stat("smmu0.walk.reads"), 4u) << "another piece: one read from the walk cache";
  EXPECT_EQ(m.Stat("smmu0.tlb.hits"), hits + 1);
}

// A leaf without AF under a CD with HA (the driver sets HA and HD from
// IDR0.HTTU): the walk sets AF in memory (the walker's A/D path, not the
// common one) and the translation is cached like any other: the next
// access in the page hits the TLB with no further read.
TEST(SmmuBlockLeaf, HardwareAccessFlagUpdateTranslatesAndFillsTheTlb) {
  SmmuMachine m;
  auto pt = arch::PageTableBuilder::Create(m.alloc, arch::PtFormat::kArm64_4K48, SpaceId(78),
                                           "test_pgd");
  ASSERT_TRUE(pt.ok()) << pt.status();
  const VirtAddr va(0x4000'0000);
  const PhysAddr pa(0x0060'0000);
  ASSERT_TRUE(pt->Map(va, pa, kPageSize4K, kPageSize4K, arch::MapAttrs{.accessed = false}).ok());
  ASSERT_FALSE(Bit(*pt->ReadEntry(va, 1), arch::Arm64Desc::kAf));
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, pt->root(), Asid(10)).ok());

  const TransResult a = m.Dma(kSid, kSsid, va + 0x10);
  ASSERT_EQ(a.status, TransStatus::kTranslated);
  EXPECT_EQ(a.pa, pa + 0x10);
  EXPECT_TRUE(Bit(*pt->ReadEntry(va, 1), arch::Arm64Desc::kAf)) << "HA set AF";
  EXPECT_EQ(m.Stat("smmu0.walk.reads"), 4u);
  EXPECT_EQ(m.Stat("smmu0.tlb.insertions"), 1u);
  const uint64_t hits = m.Stat("smmu0.tlb.hits");
  const TransResult b = m.Dma(kSid, kSsid, va + 0xff8);
  ASSERT_EQ(b.status, TransStatus::kTranslated);
  EXPECT_EQ(b.pa, pa + 0xff8);
  EXPECT_EQ(m.Stat("smmu0.tlb.hits"), hits + 1);
  EXPECT_EQ(m.Stat("smmu0.walk.reads"), 4u);
}

// A TLB entry that allows less than the access needs: a read of a
// writable-clean page (DBM = 1, AP[2] = 1) caches a translation without
// write, so the first write finds the tag in the inline check but not the
// right. It takes the general path, which walks (HD marks the page dirty)
// and refills the same way in place: one entry for the tag, not two, and
// the next write hits.
TEST(SmmuBlockLeaf, TagCachedWithTooFewRightsIsWalkedAndRefilledInPlace) {
  SmmuMachine m;
  auto pt =
      arch::PageTableBuilder::Create(m.alloc, arch::PtFormat::kArm64_4K48, SpaceId(79), "test_pgd");
  ASSERT_TRUE(pt.ok()) << pt.status();
  const VirtAddr va(0x4000'0000);
  const PhysAddr pa(0x0060'0000);
  ASSERT_TRUE(pt->Map(va, pa, kPageSize4K, kPageSize4K, arch::MapAttrs{}).ok());
  // The builder writes no clean/dirty scheme: make the leaf writable-clean.
  const uint64_t leaf =
      *pt->ReadEntry(va, 1) | (1ull << arch::Arm64Desc::kDbm) | (1ull << arch::Arm64Desc::kAp2);
  ASSERT_TRUE(pt->WriteEntry(va, 1, leaf).ok());
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, pt->root(), Asid(11)).ok());

  const TransResult rd = m.Dma(kSid, kSsid, va + 0x20);
  ASSERT_EQ(rd.status, TransStatus::kTranslated);
  EXPECT_FALSE(rd.writable) << "clean: not writable until a write marks it dirty";
  EXPECT_EQ(m.Stat("smmu0.tlb.insertions"), 1u);
  const uint64_t misses = m.Stat("smmu0.tlb.misses");
  const uint64_t reads = m.Stat("smmu0.walk.reads");

  const TransResult wr = m.Dma(kSid, kSsid, va + 0x40, /*write=*/true);
  ASSERT_EQ(wr.status, TransStatus::kTranslated);
  EXPECT_EQ(wr.pa, pa + 0x40);
  EXPECT_TRUE(wr.writable);
  EXPECT_FALSE(arch::Arm64Desc{*pt->ReadEntry(va, 1)}.ap2()) << "HD marked the page dirty";
  EXPECT_EQ(m.Stat("smmu0.tlb.misses"), misses + 1) << "a cached tag without the right misses";
  EXPECT_GT(m.Stat("smmu0.walk.reads"), reads);
  EXPECT_EQ(m.Stat("smmu0.tlb.insertions"), 2u);
  EXPECT_EQ(m.Stat("smmu0.tlb.evictions"), 0u) << "refilled in place";
  EXPECT_EQ(m.smmu.tlb_valid(), 1u) << "one entry for the tag";

  const uint64_t hits = m.Stat("smmu0.tlb.hits");
  const uint64_t reads_after = m.Stat("smmu0.walk.reads");
  const TransResult again = m.Dma(kSid, kSsid, va + 0x80, /*write=*/true);
  ASSERT_EQ(again.status, TransStatus::kTranslated);
  EXPECT_TRUE(again.writable);
  EXPECT_EQ(m.Stat("smmu0.tlb.hits"), hits + 1);
  EXPECT_EQ(m.Stat("smmu0.walk.reads"), reads_after);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3

namespace svaemu::hw::smmuv3 {
namespace {

// The slot a fill takes, against a reference model of the rule (the way
// holding the tag, else the first invalid way, else the set's round-robin
// victim), through fills, refills and invalidations that leave holes: the
// set's count of valid ways must stay in step, or a fill would evict a
// valid entry while a way is free (or search a full set).
TEST(SmmuSetAssocCache, FillTakesTheMatchingWayThenTheFirstFreeWayThenTheRoundRobinVictim) {
  struct Entry {
    uint64_t tag = 0;
    int value = 0;
  };
  for (uint32_t ways : {1u, 2u, 4u, 5u}) {
    SCOPED_TRACE(::testing::Message() << ways << " ways");
    SetAssocCache<Entry> c;
    c.Init({.sets = 2, .ways = ways});
    std::vector<std::vector<uint64_t>> ref(2, std::vector<uint64_t>(ways, 0));
    std::vector<uint32_t> victim(2, 0);
    uint64_t evictions = 0;
    uint64_t x = 1;
    for (uint64_t i = 0; i < 40 * ways; ++i) {
      const uint32_t set = static_cast<uint32_t>(i & 1);
      // Tags from a small pool recur (refills of a present tag) and every
      // 7th step drops the tags divisible by 3 from both sets (holes in
      // full sets).
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const uint64_t tag = kTagValid | ((x >> 33) % (3 * ways + 2));
      if (i % 7 == 6) {
        const uint64_t n = c.InvalidateIf([](const Entry& e) { return (e.tag & 0xffff) % 3 == 0; });
        uint64_t m = 0;
        for (auto& s : ref) {
          for (uint64_t& t : s) {
            if (t != 0 && (t & 0xffff) % 3 == 0) {
              t = 0;
              ++m;
            }
          }
        }
        ASSERT_EQ(n, m);
      }
      std::vector<uint64_t>& s = ref[set];
      uint32_t want = ways;
      bool want_evict = false;
      for (uint32_t w = 0; w < ways && want == ways; ++w) {
        if (s[w] == tag) want = w;
      }
      for (uint32_t w = 0; w < ways && want == ways; ++w) {
        if (s[w] == 0) want = w;
      }
      if (want == ways) {
        want = victim[set];
        victim[set] = (victim[set] + 1) % ways;
        want_evict = true;
      }
      s[want] = tag;
      const bool evicted = c.Fill(set, tag, [&](Entry& e) { e.value = static_cast<int>(i); });
      evictions += evicted;
      ASSERT_EQ(evicted, want_evict) << "step " << i;
      const Entry* got = c.Find(set, tag);
      ASSERT_NE(got, nullptr);
      ASSERT_EQ(got - c.SetBegin(set), static_cast<ptrdiff_t>(want)) << "step " << i;
      uint64_t valid = 0;
      for (const auto& rs : ref) {
        for (uint64_t t : rs) valid += t != 0;
      }
      ASSERT_EQ(c.CountValid(), valid);
    }
    EXPECT_GT(evictions, 0u);
  }
}

// One array of sets, each its metadata then its ways: a fill or an
// invalidation changes its own set only (every other entry keeps every
// byte, every other sequence word its value), bumps its set's sequence
// word by two (odd in between), and a set handle kept from a probe (the
// miss paths' FillAfterMiss) names the same set as its index.
TEST(SmmuSetAssocCache, SetsAreDisjointAndEachWriteBumpsOnlyItsOwnSequence) {
  struct Entry {
    uint64_t tag = 0;
    uint64_t a = 0;
    uint32_t b = 0;
  };
  for (uint32_t ways : {1u, 3u, 4u}) {
    SCOPED_TRACE(::testing::Message() << ways << " ways");
    constexpr uint32_t kSets = 4;
    SetAssocCache<Entry> c;
    c.Init({.sets = kSets, .ways = ways});
    std::vector<uint32_t> seq(kSets, 0);
    auto expect_seqs = [&] {
      for (uint32_t s = 0; s < kSets; ++s) ASSERT_EQ(c.sequence(s), seq[s]) << "set " << s;
    };
    auto tag_of = [](uint32_t s, uint32_t w) { return kTagValid | (uint64_t{s} << 8) | w; };
    for (uint32_t w = 0; w < ways; ++w) {
      for (uint32_t s = 0; s < kSets; ++s) {
        const uint64_t tag = tag_of(s, w);
        const CacheSet set = c.At(s);
        ASSERT_EQ(c.Find(set, tag), nullptr);
        uint32_t seen = 0;
        const bool evicted = c.FillAfterMiss(set, tag, [&](Entry& e) {
          seen = c.sequence(s);
          e.a = ~tag;
          e.b = static_cast<uint32_t>(tag * 7);
        });
        EXPECT_FALSE(evicted);
        EXPECT_EQ(seen, seq[s] + 1);  // odd while written
        seq[s] += 2;
        expect_seqs();
        ASSERT_EQ(c.Find(s, tag), c.SetBegin(s) + w);
      }
    }
    for (uint32_t s = 0; s < kSets; ++s) {
      for (uint32_t w = 0; w < ways; ++w) {
        const Entry* e = c.Find(s, tag_of(s, w));
        ASSERT_NE(e, nullptr) << s << "/" << w;
        EXPECT_EQ(e->a, ~tag_of(s, w));
        EXPECT_EQ(e->b, static_cast<uint32_t>(tag_of(s, w) * 7));
      }
    }
    EXPECT_EQ(c.CountValid(), uint64_t{kSets} * ways);
    // Drop way 0 of sets 1 and 2: those two sequence words move, by two.
    EXPECT_EQ(c.InvalidateIf([&](const Entry& e) {
      const uint64_t s = (e.tag >> 8) & 0xff;
      return (e.tag & 0xff) == 0 && (s == 1 || s == 2);
    }), 2u);
    seq[1] += 2;
    seq[2] += 2;
    expect_seqs();
    EXPECT_EQ(c.CountValid(), uint64_t{kSets} * ways - 2);
    EXPECT_EQ(c.Find(1, tag_of(1, 0)), nullptr);
    ASSERT_NE(c.Find(0, tag_of(0, 0)), nullptr);
    ASSERT_NE(c.Find(3, tag_of(3, 0)), nullptr);
  }
}

}  // namespace
}  // namespace svaemu::hw::smmuv3

namespace svaemu::hw::smmuv3 {
namespace {

// The miss paths derive each walk cache's tag from the TLB tag; it must be
// the tag WalkTag() gives the same ASID and VA (the invalidations match
// that one), for both halves and every level a walk cache keeps.
TEST(SmmuWalkTag, FromTheTlbTagIsTheWalkTagOfTheSameAsidAndVa) {
  sim::Rng rng(7);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t low = rng.Next() & ((1ull << 48) - 1);
    const uint64_t va = rng.Uniform(2) == 0 ? low : (low | 0xffff'0000'0000'0000ull);
    const auto asid = static_cast<uint16_t>(rng.Next());
    for (uint8_t level = 2; level <= 4; ++level) {
      ASSERT_EQ(WalkTagOf(TlbTag(asid, va), level), WalkTag(asid, va, level))
          << std::hex << va << " asid " << asid << " level " << int{level};
    }
  }
  // Neighbouring VAs share a level's tag exactly when they share its table.
  EXPECT_EQ(WalkTagOf(TlbTag(1, 0x4000'0000), 2), WalkTagOf(TlbTag(1, 0x401f'f000), 2));
  EXPECT_NE(WalkTagOf(TlbTag(1, 0x4000'0000), 2), WalkTagOf(TlbTag(1, 0x4020'0000), 2));
  EXPECT_NE(WalkTagOf(TlbTag(1, 0x4000'0000), 2), WalkTagOf(TlbTag(2, 0x4000'0000), 2));
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
