// IOTLB and paging-structure caches: hit, miss, eviction, invalidation,
// and PASID-based invalidation with IH=0 versus IH=1.
#include <map>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "svaemu/hw/vtd/cache.h"
#include "svaemu/sim/stats.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::kDid;
using testing::kPasid;
using testing::VtdMachine;

constexpr uint8_t kRw = kernel::kProtRead | kernel::kProtWrite;

// The PASID cache's one-line memo (SetAssocCache::ProbeMemo) answers as
// Probe() does, and forgets its line when the line is invalidated or
// evicted, so a stale PASID entry is never used after its invalidation.
TEST(VtdSetAssocCache, ProbeMemoForgetsInvalidatedAndEvictedLines) {
  sim::Stats stats;
  SetAssocCache<int> c;
  c.Init({.entries = 2, .ways = 2}, stats, "t", 1);
  c.Insert(0x11, 0, 1);
  c.Insert(0x21, 0, 2);
  ASSERT_NE(c.ProbeMemo(0x11, 0), nullptr);
  EXPECT_EQ(*c.ProbeMemo(0x11, 0), 1);
  EXPECT_EQ(c.ProbeMemo(0x11, 7), nullptr) << "the owner is part of the key";
  EXPECT_EQ(*c.ProbeMemo(0x21, 0), 2);
  // Invalidate the memoised line.
  c.InvalidateIf([](uint64_t tag, uint64_t, const int&) { return tag == 0x21; });
  EXPECT_EQ(c.ProbeMemo(0x21, 0), nullptr);
  EXPECT_EQ(*c.ProbeMemo(0x11, 0), 1);
  // 0x11 is memoised and most recently used; two fills evict it.
  c.Insert(0x31, 0, 3);
  c.Insert(0x41, 0, 4);
  EXPECT_EQ(c.ProbeMemo(0x11, 0), nullptr);
  EXPECT_EQ(c.Probe(0x11, 0), nullptr);
  // A refill of a memoised tag in place keeps answering with the new data.
  EXPECT_EQ(*c.ProbeMemo(0x41, 0), 4);
  c.Insert(0x41, 0, 5);
  EXPECT_EQ(*c.ProbeMemo(0x41, 0), 5);
  c.InvalidateAll();
  EXPECT_EQ(c.ProbeMemo(0x41, 0), nullptr);
}

// A cache without owner lists (the small paging-structure caches) answers
// invalidation by owner as one with lists does: the same lines dropped and
// the same lines visited (the modelled work).
TEST(VtdSetAssocCache, OwnerInvalidationIsTheSameWithAndWithoutOwnerLists) {
  for (bool track : {true, false}) {
    SCOPED_TRACE(track);
    sim::Stats stats;
    SetAssocCache<int> c;
    c.Init({.entries = 16, .ways = 16}, stats, "t", 1, track);  // no eviction
    for (uint64_t i = 0; i < 6; ++i) c.Insert((i << 4) | 1, /*owner=*/7, static_cast<int>(i));
    for (uint64_t i = 0; i < 5; ++i) c.Insert((i << 4) | 1, /*owner=*/9, 100);
    EXPECT_EQ(c.CountOwner(7), 6u);
    EXPECT_EQ(c.CountOwner(9), 5u);
    uint32_t dropped = 0;
    const uint32_t visited = c.InvalidateOwner(
        7, [](uint64_t, const int& v) { return v % 2 == 0; }, &dropped);
    EXPECT_EQ(visited, 6u);
    EXPECT_EQ(dropped, 3u);
    EXPECT_EQ(c.CountOwner(7), 3u);
    EXPECT_EQ(c.CountOwner(9), 5u);
    EXPECT_EQ(c.Probe(0x01, 7), nullptr);
    ASSERT_NE(c.Probe(0x11, 7), nullptr);
    EXPECT_EQ(*c.Probe(0x11, 7), 1);
    EXPECT_EQ(c.valid(), 8u);
  }
}

// InsertAfterMiss (the miss path's fill, which skips the search for the
// tag) picks the same line Insert does: the first free way, else the
// least recently used; an eviction in place keeps the owner lists right
// whether the new line has the victim's owner or another, and drops the
// probe memo of the victim. Run for the unrolled 1-, 4- and 8-way fills
// and the generic one (2 ways), with and without owner lists. Both caches
// share the victim choice, so `a` is also checked against a reference
// LRU set kept here (the lines present after every step).
TEST(VtdSetAssocCache, InsertAfterMissPicksTheVictimInsertWouldAndKeepsOwnerListsRight) {
  for (uint32_t ways : {1u, 2u, 4u, 8u}) {
    for (bool track : {true, false}) {
      SCOPED_TRACE(::testing::Message() << ways << " ways, owner lists " << track);
      sim::Stats stats_a, stats_b;
      SetAssocCache<int> a, b;  // a: Insert; b: ProbeInSet + InsertAfterMiss
      a.Init({.entries = ways, .ways = ways}, stats_a, "a", 1, track);
      b.Init({.entries = ways, .ways = ways}, stats_b, "b", 1, track);
      // Reference: (tag, owner) -> last use, evicting the least recent.
      std::map<std::pair<uint64_t, uint64_t>, uint64_t> ref;
      uint64_t now = 0;
      const auto probe_a = [&](uint64_t t, uint64_t o) {
        const int* d = a.Probe(t, o);
        auto it = ref.find({t, o});
        EXPECT_EQ(d != nullptr, it != ref.end()) << "tag " << t;
        if (it != ref.end()) it->second = ++now;
        return d;
      };
      const auto insert_ref = [&](uint64_t t, uint64_t o) {
        if (ref.size() == ways) {
          auto lru = ref.begin();
          for (auto it = ref.begin(); it != ref.end(); ++it) {
            if (it->second < lru->second) lru = it;
          }
          ref.erase(lru);
        }
        ref[{t, o}] = ++now;
      };
      // Fill, touch in a scrambled order, then keep filling: owners
      // alternate 7 and 9 so evictions replace both same- and
      // other-owner lines.
      for (uint64_t i = 0; i < 5 * ways; ++i) {
        const uint64_t tag = (i << 4) | 1;
        const uint64_t owner = (i % 3 == 0) ? 9 : 7;
        if (i % 4 == 3) {  // re-use an older line: the LRU order changes
          const uint64_t old = (((i * 5) % (i + 1)) << 4) | 1;
          CacheSet set;
          EXPECT_EQ(probe_a(old, 7) != nullptr || probe_a(old, 9) != nullptr,
                    b.ProbeInSet(old, 7, &set) != nullptr || b.ProbeInSet(old, 9, &set) != nullptr);
        }
        CacheSet set;
        ASSERT_EQ(b.ProbeInSet(tag, owner, &set), nullptr);
        if (i > 0) {  // the previous line through the memo (evicted in place later)
          const uint64_t prev = ((i - 1) << 4) | 1;
          const uint64_t prev_owner = ((i - 1) % 3 == 0) ? 9 : 7;
          EXPECT_EQ(probe_a(prev, prev_owner) != nullptr, b.ProbeMemo(prev, prev_owner) != nullptr);
        }
        a.Insert(tag, owner, static_cast<int>(i));
        insert_ref(tag, owner);
        b.InsertAfterMiss(set, tag, owner, static_cast<int>(i));
        for (uint64_t j = 0; j <= i; ++j) {
          const uint64_t t = (j << 4) | 1;
          const uint64_t o = (j % 3 == 0) ? 9 : 7;
          const int* pa = probe_a(t, o);
          const int* pb = b.Probe(t, o);
          ASSERT_EQ(pa != nullptr, pb != nullptr) << "tag " << t << " after fill " << i;
          if (pa != nullptr) {
            EXPECT_EQ(*pa, *pb);
          }
        }
        EXPECT_EQ(a.valid(), b.valid());
        EXPECT_EQ(a.CountOwner(7), b.CountOwner(7));
        EXPECT_EQ(a.CountOwner(9), b.CountOwner(9));
        EXPECT_EQ(b.CountOwner(7) + b.CountOwner(9), b.valid());
      }
      EXPECT_EQ(stats_a.Value("a.evictions"), stats_b.Value("b.evictions"));
      EXPECT_EQ(stats_a.Value("a.evictions"), 4 * uint64_t{ways});
      // The lists still drive invalidation: dropping owner 7 leaves only 9.
      uint32_t dropped = 0;
      b.InvalidateOwner(7, [](uint64_t, const int&) { return true; }, &dropped);
      EXPECT_EQ(b.CountOwner(7), 0u);
      EXPECT_EQ(b.valid(), b.CountOwner(9));
      EXPECT_EQ(dropped + b.valid(), a.valid());
    }
  }
}

// A line evicted in place (InsertAfterMiss) is forgotten by the memo.
// LRU order is kept past 2^32 stamps (fills and hits): at ~130 M hits a
// second that is half a minute of simulation. With a 32-bit clock the line
// stamped after the wrap looked oldest and was evicted first.
TEST(VtdSetAssocCache, LruOrderSurvivesTheStampClockPassing32Bits) {
  sim::Stats stats;
  SetAssocCache<int> c;
  c.Init({.entries = 2, .ways = 2}, stats, "t", 1);
  c.SetClockForTest((1ull << 32) - 3);
  c.Insert(0x11, 0, 1);                  // stamp 2^32 - 2
  c.Insert(0x21, 0, 2);                  // stamp 2^32 - 1
  ASSERT_NE(c.Probe(0x21, 0), nullptr);  // stamp 2^32: 0x21 most recent
  c.Insert(0x31, 0, 3);                  // evicts the LRU line, 0x11
  EXPECT_EQ(c.Probe(0x11, 0), nullptr);
  EXPECT_NE(c.Probe(0x21, 0), nullptr);
  EXPECT_NE(c.Probe(0x31, 0), nullptr);
}

// A way freed by an invalidation is filled before any valid line is
// evicted, however recently that line was used (the victim scan reads
// stamps only: a free line's stamp must be the smallest).
TEST(VtdSetAssocCache, AFreedWayIsFilledBeforeTheLeastRecentLineIsEvicted) {
  for (Replacement repl : {Replacement::kLru, Replacement::kFifo}) {
    SCOPED_TRACE(::testing::Message() << "replacement " << static_cast<int>(repl));
    sim::Stats stats;
    SetAssocCache<int> c;
    c.Init({.entries = 4, .ways = 4, .replacement = repl}, stats, "t", 1);
    for (uint64_t t : {0x11, 0x21, 0x31, 0x41}) c.Insert(t, 0, static_cast<int>(t));
    ASSERT_NE(c.Probe(0x11, 0), nullptr);  // LRU: 0x21 is now the oldest
    uint32_t dropped = 0;
    c.InvalidateOwner(0, [](uint64_t tag, const int&) { return tag == 0x41; }, &dropped);
    ASSERT_EQ(dropped, 1u);
    CacheSet set;
    ASSERT_EQ(c.ProbeInSet(0x51, 0, &set), nullptr);
    c.InsertAfterMiss(set, 0x51, 0, 5);
    EXPECT_EQ(c.valid(), 4u);
    for (uint64_t t : {0x11, 0x21, 0x31, 0x51}) EXPECT_NE(c.Probe(t, 0), nullptr) << t;
    EXPECT_EQ(stats.Value("t.evictions"), 0u);
    // The set is full again: the next fill evicts the oldest line (0x11
    // for both policies: the probes above touched the lines in fill order).
    c.Insert(0x61, 0, 6);
    EXPECT_EQ(stats.Value("t.evictions"), 1u);
    EXPECT_EQ(c.Probe(0x11, 0), nullptr);
    EXPECT_NE(c.Probe(0x51, 0), nullptr);
  }
}

TEST(VtdSetAssocCache, EvictionInPlaceDropsTheMemo) {
  sim::Stats stats;
  SetAssocCache<int> c;
  c.Init({.entries = 1, .ways = 1}, stats, "t", 1);
  c.Insert(0x11, 0, 1);
  ASSERT_NE(c.ProbeMemo(0x11, 0), nullptr);
  CacheSet set;
  ASSERT_EQ(c.ProbeInSet(0x21, 0, &set), nullptr);
  c.InsertAfterMiss(set, 0x21, 0, 2);
  EXPECT_EQ(c.ProbeMemo(0x11, 0), nullptr);
  EXPECT_EQ(*c.ProbeMemo(0x21, 0), 2);
}

// The layout (one array of sets, each its sequence word then its ways):
// every line keeps its bytes whatever is written to the others, a fill or
// a removal moves only its own set's sequence word (by two, odd while the
// line is written), a handle names the set its number does, and the owner
// lists, which link lines of many sets by index, drive invalidation right
// for power-of-two and other way counts.
TEST(VtdSetAssocCache, SetsAreDisjointEachWriteBumpsOnlyItsOwnSequence) {
  struct Data {
    uint64_t a;
    uint32_t b;
  };
  for (uint32_t ways : {1u, 3u, 4u, 8u}) {
    SCOPED_TRACE(::testing::Message() << ways << " ways");
    constexpr uint32_t kSets = 4;
    sim::Stats stats;
    SetAssocCache<Data> c;
    c.Init({.entries = kSets * ways, .ways = ways}, stats, "t", 1);
    ASSERT_EQ(c.sets(), kSets);
    std::vector<uint32_t> seq(kSets, 0);
    const auto expect_seqs = [&] {
      for (uint32_t s = 0; s < kSets; ++s) ASSERT_EQ(c.seq(s), seq[s]) << "set " << s;
    };
    // (tag, owner) of every line, by set: owners alternate 7 and 9, so
    // each owner's list runs through every set.
    std::vector<std::pair<uint64_t, uint64_t>> lines;
    uint64_t next = 1;
    for (uint32_t s = 0; s < kSets; ++s) {
      for (uint32_t w = 0; w < ways; ++w) {
        const uint64_t owner = (s + w) % 2 == 0 ? 7 : 9;
        while (c.SetOf(next, owner) != s) next += 2;
        lines.emplace_back(next, owner);
        next += 2;
      }
    }
    for (const auto& [tag, owner] : lines) {
      CacheSet set;
      ASSERT_EQ(c.ProbeInSet(tag, owner, &set), nullptr);
      const uint32_t s = c.IndexOf(set);
      ASSERT_EQ(s, c.SetOf(tag, owner));
      ASSERT_EQ(c.At(s).p, set.p);
      c.InsertAfterMiss(set, tag, owner, Data{.a = ~tag, .b = static_cast<uint32_t>(tag * 7)});
      seq[s] += 2;
      expect_seqs();
    }
    EXPECT_EQ(c.valid(), kSets * ways);
    EXPECT_EQ(stats.Value("t.evictions"), 0u) << "every way of every set filled once";
    for (const auto& [tag, owner] : lines) {
      const Data* d = c.Probe(tag, owner);
      ASSERT_NE(d, nullptr) << tag;
      EXPECT_EQ(d->a, ~tag);
      EXPECT_EQ(d->b, static_cast<uint32_t>(tag * 7));
    }
    const uint32_t of7 = c.CountOwner(7);
    EXPECT_EQ(of7 + c.CountOwner(9), kSets * ways);
    // Drop owner 7 through its list: each line's own set moves by two.
    uint32_t dropped = 0;
    EXPECT_EQ(c.InvalidateOwner(7, [](uint64_t, const Data&) { return true; }, &dropped), of7);
    EXPECT_EQ(dropped, of7);
    for (const auto& [tag, owner] : lines) {
      if (owner == 7) seq[c.SetOf(tag, owner)] += 2;
    }
    expect_seqs();
    EXPECT_EQ(c.CountOwner(7), 0u);
    for (const auto& [tag, owner] : lines) {
      const Data* d = c.Probe(tag, owner);
      ASSERT_EQ(d != nullptr, owner == 9) << tag;
      if (d != nullptr) {
        EXPECT_EQ(d->a, ~tag);
      }
    }
  }
}

TEST(VtdIotlb, SmallIotlbEvictsByLruAndCountsIt) {
  // 2 lines, 2 ways, 1 set: the third page evicts the least recently used.
  VtdMachine m({.iotlb_4k = {.entries = 2, .ways = 2}});
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(3 * 4096, kRw, true);
  m.Bind(mm);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(m.Dma(va.value() + 4096 * i).ok);
  EXPECT_EQ(m.Stat("iotlb.insertions"), 3u);
  EXPECT_EQ(m.Stat("iotlb.evictions"), 1u);  // page 0 made room for page 2
  const uint64_t walks = m.Stat("walks");
  ASSERT_TRUE(m.Dma(va.value() + 4096).ok);
  EXPECT_EQ(m.Stat("walks"), walks) << "page 1 still cached";
  ASSERT_TRUE(m.Dma(va.value()).ok);
  EXPECT_EQ(m.Stat("walks"), walks + 1) << "page 0 was evicted";
}

TEST(VtdPagingStructureCache, EachLevelHitsAndSkipsTheLevelsAbove) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  // Three pages: same PT; same PD, other PT; same PDPT, other PD.
  VirtAddr a = *mm.Mmap(4096, kRw, true, VirtAddr(0x40000000));
  VirtAddr b = *mm.Mmap(4096, kRw, true, VirtAddr(0x40001000));
  VirtAddr c = *mm.Mmap(4096, kRw, true, VirtAddr(0x40200000));
  VirtAddr d = *mm.Mmap(4096, kRw, true, VirtAddr(0x80000000));
  VirtAddr e = *mm.Mmap(4096, kRw, true, VirtAddr(0x8000000000));
  m.Bind(mm);
  ASSERT_TRUE(m.Dma(a.value()).ok);  // full walk: fills PML4E, PDPE, PDE
  EXPECT_EQ(m.Stat("pde_cache.insertions"), 1u);
  EXPECT_EQ(m.Stat("pdpe_cache.insertions"), 1u);
  EXPECT_EQ(m.Stat("pml4e_cache.insertions"), 1u);
  ASSERT_TRUE(m.Dma(b.value()).ok);
  EXPECT_EQ(m.Stat("pde_cache.hits"), 1u) << "same PT: one read from the PDE";
  ASSERT_TRUE(m.Dma(c.value()).ok);
  EXPECT_EQ(m.Stat("pdpe_cache.hits"), 1u) << "other PD entry, same PD";
  ASSERT_TRUE(m.Dma(d.value()).ok);
  EXPECT_EQ(m.Stat("pml4e_cache.hits"), 1u) << "other PDPT entry, same PDPT";
  ASSERT_TRUE(m.Dma(e.value()).ok);
  EXPECT_EQ(m.Stat("pml4e_cache.misses"), 2u) << "the first walk and the other PML4 entry";
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST(VtdPagingStructureCache, FillsOnFaultingWalkOnlyWhenConfigured) {
  for (bool fill : {true, false}) {
    VtdMachine m({.fill_psc_on_fault = fill});
    kernel::Mm& mm = m.NewMm();
    m.Bind(mm, {.sre = true});
    VirtAddr kva = *m.kernel->kspace().Vmalloc(4096);
    EXPECT_EQ(m.Dma(kva.value()).fault, FaultReason::kUserToSupervisor);
    EXPECT_EQ(m.Stat("pde_cache.insertions"), fill ? 1u : 0u) << fill;
  }
}

TEST(VtdPiotlb, IhZeroDropsPagingStructureEntriesIhOneKeepsThem) {
  for (bool ih : {false, true}) {
    VtdMachine m;
    kernel::Mm& mm = m.NewMm();
    VirtAddr va = *mm.Mmap(2 * 4096, kRw, true, VirtAddr(0x40000000));
    m.Bind(mm);
    ASSERT_TRUE(m.Dma(va.value()).ok);
    ASSERT_EQ(m.vtd->CachedLinesOf(kDid, kPasid), 4u);  // leaf + PDE + PDPE + PML4E
    const RawDesc d[] = {PiotlbDesc{.did = kDid, .pasid = kPasid, .am = 0, .ih = ih,
                                    .addr = va.value()}.Encode()};
    ASSERT_TRUE(m.drv->SubmitSync(d).ok());
    EXPECT_EQ(m.Stat("iotlb.invalidations"), 1u);
    // IH=0: the PDE/PDPE/PML4E covering the page go too; IH=1 keeps them.
    EXPECT_EQ(m.vtd->CachedLinesOf(kDid, kPasid), ih ? 3u : 0u) << "ih=" << ih;
  }
}

TEST(VtdPiotlb, PageSelectiveLeavesOtherPagesAndOtherPasids) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  kernel::Mm& mm2 = m.NewMm();
  VirtAddr va = *mm.Mmap(2 * 4096, kRw, true, VirtAddr(0x40000000));
  ASSERT_TRUE(mm2.Mmap(4096, kRw, true, VirtAddr(0x40000000)).ok());
  m.Bind(mm);
  ASSERT_TRUE(m.drv->SetupFirstStagePasid(StreamId(testing::kSid), Pasid(9), mm2.pgd(),
                                          DomainId(kDid)).ok());
  ASSERT_TRUE(m.Dma(va.value()).ok);
  ASSERT_TRUE(m.Dma(va.value() + 4096).ok);
  ASSERT_TRUE(m.Dma(va.value(), false, false, false, testing::kSid, 9).ok);
  ASSERT_TRUE(m.drv->FlushPasidRange(DomainId(kDid), Pasid(kPasid), va, va + 4096,
                                     /*page_tables_freed=*/false).ok());
  const uint64_t walks = m.Stat("walks");
  EXPECT_TRUE(m.Dma(va.value() + 4096).ok);
  EXPECT_TRUE(m.Dma(va.value(), false, false, false, testing::kSid, 9).ok);
  EXPECT_EQ(m.Stat("walks"), walks) << "other page and other PASID untouched";
  EXPECT_TRUE(m.Dma(va.value()).ok);
  EXPECT_EQ(m.Stat("walks"), walks + 1);
  EXPECT_EQ(m.Stat("pde_cache.hits"), 2u) << "IH=1: the PDE survived; the re-walk starts there";
}

TEST(VtdPiotlb, FlushAllDropsEverythingOfThePasidButGlobalLeaves) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw, true);
  m.Bind(mm, {.sre = true});
  VirtAddr kva = *m.kernel->kspace().Vmalloc(4096);
  ASSERT_TRUE(m.Dma(va.value()).ok);
  ASSERT_TRUE(m.Dma(kva.value(), false, true).ok);
  ASSERT_TRUE(m.drv->FlushPasidAll(DomainId(kDid), Pasid(kPasid)).ok());
  // Kernel vmalloc leaves are global (G=1): non-global invalidation keeps
  // the one leaf and drops everything else (6.5.2.4).
  EXPECT_EQ(m.vtd->CachedLinesOf(kDid, kPasid), 1u);
}

TEST(VtdContextCache, RegisterInvalidationIsRefusedWhileQiIsEnabled) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw, true);
  m.Bind(mm);
  ASSERT_TRUE(m.Dma(va.value()).ok);
  m.vtd->Write64(kCcmdReg, (1ull << Ccmd::kIcc) | (1ull << Ccmd::kCirgLo));  // global
  const uint64_t ccmd = m.vtd->Read64(kCcmdReg);
  EXPECT_FALSE(Bit(ccmd, Ccmd::kIcc));
  EXPECT_EQ(Bits(ccmd, Ccmd::kCaigHi, Ccmd::kCaigLo), 0u) << "CAIG=0: not performed";
  EXPECT_EQ(m.vtd->cache_sizes().context, 1u);
  m.vtd->Write64(kIotlbReg, (1ull << IotlbReg::kIvt) | (1ull << IotlbReg::kIirgLo));
  EXPECT_EQ(Bits(m.vtd->Read64(kIotlbReg), IotlbReg::kIaigHi, IotlbReg::kIaigLo), 0u);
  EXPECT_GT(m.vtd->cache_sizes().iotlb, 0u);
}

// 6.5.2.1, FM: the function mask covers the function number from its top
// bit: FM = 01 masks SID bit 2, so devfn 0x14 goes with 0x10 and 0x11
// stays; FM = 11 masks bits 2:0 and takes 0x11 as well.
TEST(VtdContextCache, DeviceSelectiveFunctionMaskMasksFromBitTwoDown) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  const VirtAddr va = *mm.Mmap(4096, kRw, true);
  const uint16_t sids[] = {0x0310, 0x0314, 0x0311};
  for (uint16_t sid : sids) {
    m.Bind(mm, {}, {}, sid);
    ASSERT_TRUE(m.Dma(va.value(), false, false, false, sid).ok);
  }
  ASSERT_EQ(m.vtd->cache_sizes().context, 3u);
  const RawDesc fm1[] = {ContextCacheDesc{.g = 3, .did = kDid, .sid = 0x0310, .fm = 1}.Encode()};
  ASSERT_TRUE(m.drv->SubmitSync(fm1).ok());
  EXPECT_EQ(m.vtd->cache_sizes().context, 1u) << "0x0310 and 0x0314 dropped, 0x0311 kept";
  ASSERT_TRUE(m.Dma(va.value(), false, false, false, 0x0311).ok);
  EXPECT_EQ(m.vtd->cache_sizes().context, 1u) << "0x0311 still cached: no new line";
  const RawDesc fm3[] = {ContextCacheDesc{.g = 3, .did = kDid, .sid = 0x0310, .fm = 3}.Encode()};
  ASSERT_TRUE(m.drv->SubmitSync(fm3).ok());
  EXPECT_EQ(m.vtd->cache_sizes().context, 0u);
}

TEST(VtdContextCache, RegisterInvalidationWorksWithoutQi) {
  sim::Simulation sim;
  mem::PhysMem mem(sim);
  auto v = Vtd::Create(sim, mem);
  ASSERT_TRUE(v.ok());
  (*v)->Write64(kCcmdReg, (1ull << Ccmd::kIcc) | (1ull << Ccmd::kCirgLo));
  EXPECT_EQ(Bits((*v)->Read64(kCcmdReg), Ccmd::kCaigHi, Ccmd::kCaigLo), 1u);
  (*v)->Write64(kIotlbReg, (1ull << IotlbReg::kIvt) | (2ull << IotlbReg::kIirgLo));
  EXPECT_EQ(Bits((*v)->Read64(kIotlbReg), IotlbReg::kIaigHi, IotlbReg::kIaigLo), 2u);
}

TEST(VtdPasidCache, TearDownDropsThePasidEntryAndLaterRequestsFault) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw, true);
  m.Bind(mm);
  ASSERT_TRUE(m.Dma(va.value()).ok);
  ASSERT_TRUE(m.drv->TearDownPasid(StreamId(testing::kSid), Pasid(kPasid), /*suppress=*/true).ok());
  EXPECT_EQ(m.vtd->CachedLinesOf(kDid, kPasid), 0u);
  VtdResult r = m.Dma(va.value());
  EXPECT_EQ(r.fault, FaultReason::kPasidNotPresent);
  EXPECT_FALSE(r.recorded) << "FPD-only entry: fault suppressed";
  EXPECT_EQ(m.Stat("faults.suppressed"), 1u);
}

}  // namespace
}  // namespace svaemu::hw::vtd
