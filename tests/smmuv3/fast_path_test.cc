// The inline TLB-hit check and the common-miss paths behind it
// (SmmuV3::TranslateTlbMiss, MissBelowL2, MissFromStart) against the
// general path (SmmuV3Config::fast_path = false: every request through
// TranslateSlow). Twin machines, built the same way, see the same request
// stream: user pages of two processes (two ASIDs), a hand-built table with
// 2 MiB blocks, pages without AF (HA sets it), writable-clean pages (HD
// marks them dirty), read-only, privileged-only and never-executable pages,
// kernel addresses (EPD1 = 1), a substream with no CD, a CD with PAN, WXN
// and TBI0 (tagged addresses, privileged and executing requests), and
// TLBI_NH_VA (leaf and not), TLBI_NH_ASID and an munmap in between. Small caches make every
// array evict. Every result (status, address, latency, writability), every
// smmu0 statistic, the events the driver read and the memory the walks
// updated must be the same.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sim/stats_testutil.h"
#include "smmuv3/smmu_testutil.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/sim/rng.h"

namespace svaemu::hw::smmuv3 {
namespace {

constexpr uint32_t kSid = 3;
constexpr uint32_t kSsidA = 1, kSsidB = 2, kSsidHand = 3, kSsidNoCd = 7;
constexpr uint8_t kRw = kernel::kProtRead | kernel::kProtWrite;
constexpr uint64_t kBlock = 2ull << 20;

SmmuV3Config SmallCaches(bool fast) {
  SmmuV3Config c;
  c.tlb = {.sets = 4, .ways = 4};
  c.walk_cache = {.sets = 2, .ways = 2};
  c.fast_path = fast;
  return c;
}

// One machine of the pair and the addresses its requests use.
struct Twin {
  explicit Twin(bool fast) : m(SmallCaches(fast)) {
    kernel::Mm& a = m.NewMm();
    kernel::Mm& b = m.NewMm();
    rw = a.Mmap(48 * kPageSize4K, kRw, true)->value();
    ro = a.Mmap(8 * kPageSize4K, kernel::kProtRead, true)->value();
    absent = a.Mmap(8 * kPageSize4K, kRw, false)->value();
    far = a.Mmap(8 * kPageSize4K, kRw, true, VirtAddr(0x7f00'0000'0000ull))->value();
    other = b.Mmap(16 * kPageSize4K, kRw, true)->value();
    unmap_target = &a;
    // The hand-built table: two 2 MiB blocks (one read-only) and 4 KiB
    // pages without AF, writable-clean, privileged-only, never executable.
    hand.emplace(*arch::PageTableBuilder::Create(m.alloc, arch::PtFormat::kArm64_4K48,
                                                 SpaceId(91), "test_pgd"));
    const PhysAddr blocks =
        *m.alloc.AllocateContiguous(1024, kBlock, mem::FrameUse::kData, "test_blocks");
    EXPECT_TRUE(hand->Map(VirtAddr(kBlockVa), blocks, kBlock, kBlock, {}).ok());
    EXPECT_TRUE(hand->Map(VirtAddr(kBlockVa + kBlock), blocks + kBlock, kBlock, kBlock,
                          {.write = false})
                    .ok());
    const PhysAddr pages = *m.alloc.AllocateContiguous(32, kPageSize4K, mem::FrameUse::kData,
                                                      "test_pages");
    const arch::MapAttrs kinds[4] = {{.accessed = false},
                                     {.dirty = false},
                                     {.user = false},
                                     {.exec = false, .dirty = true}};
    for (int i = 0; i < 32; ++i) {
      EXPECT_TRUE(hand->Map(VirtAddr(kPagesVa + i * kPageSize4K), pages + i * kPageSize4K,
                            kPageSize4K, kPageSize4K, kinds[i % 4])
                      .ok());
    }
    EXPECT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
    EXPECT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsidA, a.pgd(), Asid(1)).ok());
    EXPECT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsidB, b.pgd(), Asid(2)).ok());
    EXPECT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsidHand, hand->root(), Asid(3)).ok());
    // The hand-built table's CD also has PAN, WXN and TBI0 (5.4): its
    // requests come privileged or not, executing or not, tagged or not.
    Cd cd = *m.driver->ReadCd(StreamId(kSid), kSsidHand);
    cd.Set(Cd::kPAN, 1);
    cd.Set(Cd::kWXN, 1);
    cd.Set(Cd::kTBI, 0b01);
    const PhysAddr cd_pa = *m.driver->CdAddressOf(StreamId(kSid), kSsidHand);
    for (int i = 0; i < 8; ++i) m.mem.Write64(cd_pa + 8ull * i, cd.dw[i], mem::Access::Cpu());
    EXPECT_TRUE(m.driver->Submit({MakeCfgiCd(StreamId(kSid), kSsidHand, true)}).ok());
  }
  static constexpr uint64_t kBlockVa = 0x4000'0000;
  static constexpr uint64_t kPagesVa = 0x8000'0000;
  SmmuMachine m;
  std::optional<arch::PageTableBuilder> hand;
  uint64_t rw = 0, ro = 0, absent = 0, far = 0, other = 0;
  kernel::Mm* unmap_target = nullptr;
};

// Every smmu0 statistic (both paths count and charge the same).
std::vector<std::string> SmmuStats(const sim::Stats& stats) {
  return sim::testing::StatLines(stats, {"smmu0."});
}

TEST(SmmuV3FastPath, SameResultsEventsAndCountersAsTheGeneralPath) {
  Twin fast(true), slow(false);
  ASSERT_EQ(fast.rw, slow.rw);
  ASSERT_EQ(fast.other, slow.other);
  ASSERT_EQ(fast.hand->root(), slow.hand->root());
  sim::Rng rng(20261121);
  int translated = 0, faulted = 0;
  struct Recent {
    uint64_t va;
    uint32_t ssid;
    bool priv;
  };
  Recent recent[4] = {};
  for (int step = 0; step < 8000; ++step) {
    const uint64_t pick = rng.Uniform(100);
    uint64_t va;
    uint32_t ssid = kSsidA;
    bool priv = false;
    if (step >= 4 && rng.Uniform(3) == 0) {  // locality: TLB hits
      const Recent& r = recent[rng.Uniform(4)];
      va = r.va & ~(kPageSize4K - 1);
      ssid = r.ssid;
      priv = r.priv;
    } else if (pick < 35) {
      va = fast.rw + kPageSize4K * rng.Uniform(48);
    } else if (pick < 42) {
      va = fast.ro + kPageSize4K * rng.Uniform(8);
    } else if (pick < 46) {
      va = fast.absent + kPageSize4K * rng.Uniform(8);
    } else if (pick < 52) {
      va = fast.far + kPageSize4K * rng.Uniform(8);
    } else if (pick < 62) {
      va = fast.other + kPageSize4K * rng.Uniform(16);
      ssid = kSsidB;
    } else if (pick < 72) {
      va = Twin::kBlockVa + kPageSize4K * rng.Uniform(1024);
      ssid = kSsidHand;
    } else if (pick < 86) {
      va = Twin::kPagesVa + kPageSize4K * rng.Uniform(32);
      if (rng.Uniform(4) == 0) va |= rng.Uniform(256) << 56;  // a tag (TBI0)
      ssid = kSsidHand;
      priv = rng.Uniform(2) == 0;
    } else if (pick < 90) {
      va = 0xffff'8000'0000'0000ull + kPageSize4K * rng.Uniform(8);  // EPD1 = 1
      priv = true;
    } else if (pick < 93) {
      va = 0x0001'0000'0000'0000ull;  // between the halves
    } else if (pick < 95) {
      va = fast.rw;
      ssid = kSsidNoCd;
    } else {
      va = Twin::kPagesVa + kPageSize4K * rng.Uniform(64);  // some beyond the pages
      ssid = kSsidHand;
    }
    va += rng.Uniform(kPageSize4K) & ~7ull;
    recent[step % 4] = {va, ssid, priv};
    const bool write = rng.Uniform(3) == 0;
    const bool exec = rng.Uniform(16) == 0;
    TransResult res[2];
    Twin* twins[2] = {&fast, &slow};
    for (int i = 0; i < 2; ++i) {
      res[i] = twins[i]->m.smmu.Translate(TransReq{.sid = StreamId(kSid), .ssv = true,
                                                   .ssid = ssid, .va = VirtAddr(va),
                                                   .write = write, .exec = exec,
                                                   .priv = priv});
    }
    const TransResult& a = res[0];
    const TransResult& b = res[1];
    ASSERT_EQ(a.status, b.status) << "step " << step << " va 0x" << std::hex << va;
    ASSERT_EQ(a.pa, b.pa) << "step " << step;
    ASSERT_EQ(a.latency, b.latency) << "step " << step;
    ASSERT_EQ(a.writable, b.writable) << "step " << step;
    (a.status == TransStatus::kTranslated ? translated : faulted) += 1;

    for (Twin* t : twins) {
      if (step % 173 == 172) {
        ASSERT_TRUE(t->m.driver->TlbiAsid(Asid(1)).ok());
      }
      if (step % 61 == 60) {
        const uint64_t page = (step / 61) % 2 == 0 ? t->rw + kPageSize4K * (step % 48)
                                                   : Twin::kPagesVa + kPageSize4K * (step % 32);
        const Asid asid((step / 61) % 2 == 0 ? 1 : 3);
        ASSERT_TRUE(t->m.driver->TlbiVa(asid, VirtAddr(page), kPageSize4K, (step / 122) % 2 == 0)
                        .ok());
      }
      if (step == 4000) {  // pages disappear; their cached lines are flushed
        ASSERT_TRUE(t->unmap_target->Munmap(VirtAddr(t->rw + 40 * kPageSize4K),
                                            8 * kPageSize4K)
                        .ok());
      }
      if (step % 50 == 49) t->m.Run();  // the event queue's interrupt thread
    }
    if (step % 500 == 499) {
      ASSERT_EQ(SmmuStats(fast.m.sim.stats()), SmmuStats(slow.m.sim.stats())) << "step " << step;
    }
  }
  fast.m.Run();
  slow.m.Run();
  EXPECT_EQ(SmmuStats(fast.m.sim.stats()), SmmuStats(slow.m.sim.stats()));
  const auto& ea = fast.m.driver->events_seen();
  const auto& eb = slow.m.driver->events_seen();
  ASSERT_EQ(ea.size(), eb.size());
  for (size_t i = 0; i < ea.size(); ++i) {
    EXPECT_EQ(ea[i].type, eb[i].type) << i;
    EXPECT_EQ(ea[i].input_addr, eb[i].input_addr) << i;
    EXPECT_EQ(ea[i].ssid, eb[i].ssid) << i;
    EXPECT_EQ(ea[i].rnw, eb[i].rnw) << i;
    EXPECT_EQ(ea[i].fetch_addr, eb[i].fetch_addr) << i;
  }
  // The walks' A/D updates landed in the same entries.
  for (int i = 0; i < 32; ++i) {
    const VirtAddr p(Twin::kPagesVa + i * kPageSize4K);
    EXPECT_EQ(*fast.hand->ReadEntry(p, 1), *slow.hand->ReadEntry(p, 1)) << i;
  }
  EXPECT_EQ(fast.m.sim.violations().total(), slow.m.sim.violations().total());
  // The stream exercised both outcomes, every array's evictions, the A/D
  // path, and the fast machine took the inline path.
  EXPECT_GT(translated, 4000);
  EXPECT_GT(faulted, 1000);
  EXPECT_GT(ea.size(), 1000u);
  EXPECT_GT(fast.m.Stat("smmu0.tlb.hits"), 1500u);
  EXPECT_GT(fast.m.Stat("smmu0.tlb.evictions"), 500u);
  EXPECT_GT(fast.m.Stat("smmu0.walk_cache_l2.hits"), 1000u);
  EXPECT_GT(fast.m.Stat("smmu0.walk_cache_l2.evictions"), 500u);
  EXPECT_GT(fast.m.Stat("smmu0.walk_cache_l1.evictions"), 500u);
  int accessed = 0, dirty = 0;
  for (int i = 0; i < 32; i += 4) {
    accessed += Bit(*fast.hand->ReadEntry(VirtAddr(Twin::kPagesVa + i * kPageSize4K), 1),
                    arch::Arm64Desc::kAf);
    dirty += !Bit(*fast.hand->ReadEntry(VirtAddr(Twin::kPagesVa + (i + 1) * kPageSize4K), 1),
                  arch::Arm64Desc::kAp2);
  }
  EXPECT_GT(accessed, 4) << "HA set AF on most pages that had none";
  EXPECT_GT(dirty, 2) << "HD marked writable-clean pages dirty";
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
