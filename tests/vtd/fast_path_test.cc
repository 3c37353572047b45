// The inline IOTLB-hit check and the common-miss path behind it
// (Vtd::TranslateMiss) against the general path (VtdConfig::fast_path =
// false: every request through TranslateSlow). Twin machines, built the
// same way, see the same request stream: pages of two PASIDs, kernel pages
// through SRE, 2 MiB leaves, writes to clean pages (A/D updates), reads of
// unmapped and read-only pages, requests without a PASID, and PASID-wide
// and page-selective invalidations in between. Small caches make every
// array evict. Every result, the fault log, the cache occupancy and every
// IOTLB and paging-structure cache counter must be the same. A second
// stream runs with RID_PRIV = 1 and no SRE, where requests without PASID
// are refused supervisor requests.
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sim/stats_testutil.h"
#include "svaemu/sim/rng.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::kDid;
using testing::kPasid;
using testing::kSid;
using testing::VtdMachine;

constexpr uint32_t kPasid2 = 9;
constexpr uint8_t kRw = kernel::kProtRead | kernel::kProtWrite;

VtdConfig SmallCaches(bool fast) {
  VtdConfig c;
  c.iotlb_4k = {.entries = 16, .ways = 4};
  c.iotlb_2m = {.entries = 2, .ways = 2};
  c.pde_cache = {.entries = 4, .ways = 2};
  c.pdpe_cache = {.entries = 2, .ways = 1};
  c.pml4e_cache = {.entries = 1, .ways = 1};
  c.fast_path = fast;
  return c;
}

// One machine of the pair and the addresses its requests use.
struct Twin {
  // `sre`: the PASID entries' SRE (RID_PASID's is kPasid's).
  explicit Twin(bool fast, bool sre = true) : m(SmallCaches(fast)) {
    kernel::Mm& mm = m.NewMm();
    kernel::Mm& mm2 = m.NewMm();
    // 4 KiB user pages: read-write, read-only, and a range never touched
    // (not present until the CPU faults it in: stays absent here).
    rw = mm.Mmap(48 * 4096, kRw, true)->value();
    ro = mm.Mmap(8 * 4096, kernel::kProtRead, true)->value();
    absent = mm.Mmap(8 * 4096, kRw, false)->value();
    // Far apart, so that the walks use different PDPTEs and PML4Es.
    far = mm.Mmap(8 * 4096, kRw, true, VirtAddr(0x7f0000000000ull))->value();
    other = mm2.Mmap(16 * 4096, kRw, true)->value();
    kernel::KernelSpace& ks = m.kernel->kspace();
    kva = ks.Vmalloc(4 * 4096)->value();
    const PhysAddr p2m = *m.alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "t");
    huge = ks.VmapHuge(p2m, kPageSize2M, kPageSize2M)->value();
    m.Bind(mm, {.sre = sre}, {.rid_pasid = kPasid});
    EXPECT_TRUE(m.drv
                    ->SetupFirstStagePasid(StreamId(kSid), Pasid(kPasid2), mm2.pgd(),
                                           DomainId(kDid), {.sre = sre})
                    .ok());
    unmap_target = &mm;
  }
  VtdMachine m;
  uint64_t rw = 0, ro = 0, absent = 0, far = 0, other = 0, kva = 0, huge = 0;
  kernel::Mm* unmap_target = nullptr;
};

// The counters both paths must agree on: every IOTLB, paging-structure
// cache and PASID-cache counter, walks and faults. (The context cache is
// consulted only by the general path; translate.* counts differ by
// design.)
std::vector<std::string> SharedStats(const sim::Stats& stats) {
  return sim::testing::StatLines(
      stats, {"vtd0.iotlb.", "vtd0.pde_cache.", "vtd0.pdpe_cache.", "vtd0.pml4e_cache.",
              "vtd0.pml5e_cache.", "vtd0.pasid_cache.", "vtd0.walks ", "vtd0.faults."});
}

// Outcomes of a stream.
struct Tally {
  int translated = 0;
  int faulted = 0;
};

// `steps` requests of the stream to both twins, with invalidations and an
// unmap in between: every result, and periodically every shared counter,
// must be the same. Then the caches, the fault logs and the checker's
// violations.
void RunStream(Twin& fast, Twin& slow, int steps, Tally* tally) {
  ASSERT_EQ(fast.rw, slow.rw);
  ASSERT_EQ(fast.huge, slow.huge);
  ASSERT_EQ(fast.kva, slow.kva);
  sim::Rng rng(20261121);
  int& translated = tally->translated;
  int& faulted = tally->faulted;
  for (int step = 0; step < steps; ++step) {
    const uint64_t pick = rng.Uniform(100);
    uint64_t addr;
    uint32_t pasid = kPasid;
    bool has_pasid = true;
    bool priv = false;
    if (pick < 40) {
      addr = fast.rw + 4096 * rng.Uniform(48);
    } else if (pick < 48) {
      addr = fast.ro + 4096 * rng.Uniform(8);
    } else if (pick < 53) {
      addr = fast.absent + 4096 * rng.Uniform(8);
    } else if (pick < 60) {
      addr = fast.far + 4096 * rng.Uniform(8);
    } else if (pick < 72) {
      addr = fast.other + 4096 * rng.Uniform(16);
      pasid = kPasid2;
    } else if (pick < 80) {
      addr = fast.kva + 4096 * rng.Uniform(4);
      priv = rng.Uniform(4) != 0;  // some user requests to kernel pages
    } else if (pick < 88) {
      // Only kPasid2 caches large leaves: kPasid's misses all take the
      // common-miss path, kPasid2's the general one after its first.
      addr = fast.huge + 4096 * rng.Uniform(512);
      pasid = kPasid2;
      priv = true;
    } else if (pick < 94) {
      addr = fast.rw + 4096 * rng.Uniform(48);
      has_pasid = false;  // RID_PASID = kPasid, RID_PRIV from the context entry
    } else if (pick < 96) {
      addr = 0x0000900000000000ull;  // non-canonical for 4 levels
    } else {
      addr = fast.rw + 4096 * rng.Uniform(48);
      pasid = 33;  // no PASID-table entry
    }
    addr += rng.Uniform(4096) & ~7ull;
    const bool write = rng.Uniform(3) == 0;
    const bool exec = rng.Uniform(16) == 0;
    const VtdResult a = fast.m.Dma(addr, write, priv, exec, kSid, pasid, has_pasid);
    const VtdResult b = slow.m.Dma(addr, write, priv, exec, kSid, pasid, has_pasid);
    ASSERT_EQ(a.ok, b.ok) << "step " << step << " addr 0x" << std::hex << addr;
    ASSERT_EQ(a.fault, b.fault) << "step " << step;
    ASSERT_EQ(a.recorded, b.recorded) << "step " << step;
    ASSERT_EQ(a.pa, b.pa) << "step " << step;
    ASSERT_EQ(a.page_shift, b.page_shift) << "step " << step;
    ASSERT_EQ(a.writable, b.writable) << "step " << step;
    (a.ok ? translated : faulted) += 1;

    if (step % 211 == 210) {
      ASSERT_TRUE(fast.m.drv->FlushPasidAll(DomainId(kDid), Pasid(kPasid)).ok());
      ASSERT_TRUE(slow.m.drv->FlushPasidAll(DomainId(kDid), Pasid(kPasid)).ok());
    }
    if (step % 97 == 96) {
      const uint64_t page = fast.rw + 4096 * rng.Uniform(48);
      const bool ih0 = rng.Uniform(2) == 0;
      for (Twin* t : {&fast, &slow}) {
        ASSERT_TRUE(t->m.drv
                        ->FlushPasidRange(DomainId(kDid), Pasid(kPasid), VirtAddr(page),
                                          VirtAddr(page + 4096), ih0)
                        .ok());
      }
    }
    if (step == 3000) {  // pages disappear; their cached lines are flushed
      for (Twin* t : {&fast, &slow}) {
        ASSERT_TRUE(t->unmap_target->Munmap(VirtAddr(t->rw + 40 * 4096), 8 * 4096).ok());
      }
    }
    if (step % 500 == 499) {
      ASSERT_EQ(SharedStats(fast.m.sim.stats()), SharedStats(slow.m.sim.stats()))
          << "step " << step;
    }
  }
  EXPECT_EQ(SharedStats(fast.m.sim.stats()), SharedStats(slow.m.sim.stats()));
  const Vtd::CacheSizes ca = fast.m.vtd->cache_sizes(), cb = slow.m.vtd->cache_sizes();
  EXPECT_EQ(ca.iotlb, cb.iotlb);
  EXPECT_EQ(ca.pde, cb.pde);
  EXPECT_EQ(ca.pdpe, cb.pdpe);
  EXPECT_EQ(ca.pml4e, cb.pml4e);
  EXPECT_EQ(ca.pasid, cb.pasid);
  ASSERT_EQ(fast.m.vtd->fault_log().size(), slow.m.vtd->fault_log().size());
  for (size_t i = 0; i < fast.m.vtd->fault_log().size(); ++i) {
    const FaultInfo& x = fast.m.vtd->fault_log()[i];
    const FaultInfo& y = slow.m.vtd->fault_log()[i];
    EXPECT_EQ(x.reason, y.reason) << i;
    EXPECT_EQ(x.addr, y.addr) << i;
    EXPECT_EQ(x.suppressed, y.suppressed) << i;
  }
  EXPECT_EQ(fast.m.sim.violations().total(), slow.m.sim.violations().total());
}

TEST(VtdFastPath, SameResultsCachesAndCountersAsTheGeneralPath) {
  Twin fast(true), slow(false);
  Tally tally;
  RunStream(fast, slow, 6000, &tally);
  // The stream exercised both outcomes and both paths.
  EXPECT_GT(tally.translated, 3000);
  EXPECT_GT(tally.faulted, 300);
  EXPECT_GT(fast.m.Stat("iotlb.hits"), 1000u);
  EXPECT_GT(fast.m.Stat("iotlb.evictions"), 500u);
  EXPECT_GT(fast.m.Stat("pde_cache.hits"), 100u);
  EXPECT_GT(fast.m.Stat("pml4e_cache.evictions"), 50u);
  EXPECT_GT(fast.m.Stat("translate.slow"), 0u);
  EXPECT_LT(fast.m.Stat("translate.slow"), slow.m.Stat("translate.slow"))
      << "the fast machine took the inline path";
}

// The same with RID_PRIV = 1 in the context entry and PASID entries
// without SRE: requests without PASID are supervisor requests (9.4) and
// fault 0x5D, while user requests with kPasid (RID_PASID) fill the IOTLB
// lines those requests would find (the inline check must not serve them).
TEST(VtdFastPath, SameResultsWithRidPrivAndNoSre) {
  Twin fast(true, /*sre=*/false), slow(false, /*sre=*/false);
  for (Twin* t : {&fast, &slow}) {
    const PhysAddr ce = t->m.ContextEntry(kSid);
    t->m.Write64(ce + 8, t->m.Read64(ce + 8) | (1ull << 20));  // RID_PRIV: bit 84
    t->m.FlushAll();
  }
  Tally tally;
  RunStream(fast, slow, 3000, &tally);
  EXPECT_GT(tally.translated, 1000);
  uint64_t sre_faults = 0;
  for (const FaultInfo& f : fast.m.vtd->fault_log()) {
    sre_faults += f.reason == FaultReason::kPasidSreClear && !f.has_pasid;
  }
  EXPECT_GT(sre_faults, 50u) << "requests without PASID refused as supervisor";
  EXPECT_GT(fast.m.Stat("iotlb.hits"), 200u);
}

}  // namespace
}  // namespace svaemu::hw::vtd
