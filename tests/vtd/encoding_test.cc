// Encoders and decoders of every VT-d structure and descriptor, round-trip
// through a guarded buffer; the register bank's layout checks.
#include "gtest/gtest.h"
#include "svaemu/hw/vtd/descriptors.h"
#include "svaemu/hw/vtd/regs.h"
#include "svaemu/hw/vtd/tables.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::GuardedCopy;

TEST(VtdEncoding, RootEntryRoundTripsWithGuards) {
  SmRootEntry e{.lp = true, .lctp = PhysAddr(0x12345000), .up = true, .uctp = PhysAddr(0xabc000)};
  const auto raw = GuardedCopy(e.Encode());
  EXPECT_EQ(raw[0], 0x12345001u);  // 9.2: LP bit 0, LCTP [63:12]
  EXPECT_EQ(raw[1], 0xabc001u);    // UP bit 64, UCTP [127:76]
  const SmRootEntry d = SmRootEntry::Decode(raw);
  EXPECT_EQ(d.Encode(), raw);
  EXPECT_FALSE(SmRootEntry::ReservedBits(raw, false));
  EXPECT_FALSE(SmRootEntry::ReservedBits(raw, true));
  // Only the half a request uses is checked.
  EXPECT_TRUE(SmRootEntry::ReservedBits({raw[0] | 0x2, raw[1]}, false));
  EXPECT_FALSE(SmRootEntry::ReservedBits({raw[0] | 0x2, raw[1]}, true));
  EXPECT_TRUE(SmRootEntry::ReservedBits({raw[0], raw[1] | 0x800}, true));
}

TEST(VtdEncoding, ContextEntryRoundTripsWithGuards) {
  SmContextEntry e{.p = true, .fpd = true, .dte = true, .paside = true, .pre = true,
                   .pdts = 5, .pasid_dir = PhysAddr(0x777000), .rid_pasid = 0xabcde,
                   .rid_priv = true};
  const auto raw = GuardedCopy(e.Encode());
  EXPECT_EQ(raw[0], 0x777000u | 0x1f | (5u << 9));  // 9.4
  EXPECT_EQ(raw[1], 0xabcdeu | (1u << 20));
  EXPECT_EQ(raw[2], 0u);
  EXPECT_EQ(raw[3], 0u);
  const SmContextEntry d = SmContextEntry::Decode(raw);
  EXPECT_EQ(d.Encode(), raw);
  EXPECT_EQ(d.dir_entries(), 1u << 12);
  EXPECT_TRUE(SmContextEntry::ReservedBits({raw[0] | (1u << 5), raw[1], 0, 0}));
  EXPECT_TRUE(SmContextEntry::ReservedBits({raw[0], raw[1], 1, 0}));
}

TEST(VtdEncoding, PasidDirectoryAndTableEntriesRoundTripWithGuards) {
  PasidDirEntry de{.p = true, .fpd = true, .table = PhysAddr(0x5000)};
  const auto draw = GuardedCopy(std::array<uint64_t, 1>{de.Encode()});
  EXPECT_EQ(draw[0], 0x5003u);
  EXPECT_EQ(PasidDirEntry::Decode(draw[0]).Encode(), draw[0]);
  EXPECT_TRUE(PasidDirEntry::ReservedBits(draw[0] | 0x4));

  PasidEntry pe{.p = true,
                .fpd = true,
                .aw = 2,
                .slee = true,
                .pgtt = 1,
                .did = 0x1234,
                .pwsnp = true,
                .sre = true,
                .ere = true,
                .fspm = 1,
                .wpe = true,
                .fsptptr = PhysAddr(0x9876000)};
  const auto raw = GuardedCopy(pe.Encode());
  EXPECT_EQ(raw[0], 0x3u | (2u << 2) | (1u << 5) | (1u << 6));  // P, FPD, AW, SLEE, PGTT
  EXPECT_FALSE(PasidEntry::ReservedBits(raw));
  EXPECT_EQ(raw[1], 0x1234u | (1u << 23));              // DID, PWSNP
  EXPECT_EQ(raw[2], 0x9876000u | 0x3 | (1u << 2) | (1u << 4));  // SRE ERE FSPM WPE
  for (int i = 3; i < 8; ++i) EXPECT_EQ(raw[i], 0u);
  EXPECT_EQ(PasidEntry::Decode(raw).Encode(), raw);
  auto bad = raw;
  bad[5] = 1;
  EXPECT_TRUE(PasidEntry::ReservedBits(bad));
}

TEST(VtdEncoding, InvalidationDescriptorsRoundTripWithGuards) {
  {
    ContextCacheDesc c{.g = 3, .did = 9, .sid = 0x0310, .fm = 2};
    const RawDesc raw = GuardedCopy(c.Encode());
    EXPECT_EQ(DescTypeOf(raw[0]), 0x1);
    ContextCacheDesc d;
    ASSERT_TRUE(ContextCacheDesc::Decode(raw, &d));
    EXPECT_EQ(d.Encode(), raw);
  }
  {
    PasidCacheDesc c{.g = 1, .did = 9, .pasid = 0xfffff};
    const RawDesc raw = GuardedCopy(c.Encode());
    EXPECT_EQ(DescTypeOf(raw[0]), 0x7);
    PasidCacheDesc d;
    ASSERT_TRUE(PasidCacheDesc::Decode(raw, &d));
    EXPECT_EQ(d.Encode(), raw);
  }
  {
    IotlbDesc c{.g = 3, .dr = true, .dw = true, .did = 4, .am = 9, .ih = true, .addr = 0x40000000};
    const RawDesc raw = GuardedCopy(c.Encode());
    EXPECT_EQ(raw[0], 0x2u | (3u << 4) | 0xc0 | (4u << 16));
    EXPECT_EQ(raw[1], 0x40000000u | 9 | 0x40);
    IotlbDesc d;
    ASSERT_TRUE(IotlbDesc::Decode(raw, &d));
    EXPECT_EQ(d.Encode(), raw);
  }
  {
    PiotlbDesc c{.g = 3, .did = 4, .pasid = 77, .am = 1, .ih = true, .addr = 0xffffc90000000000};
    const RawDesc raw = GuardedCopy(c.Encode());
    EXPECT_EQ(raw[0], 0x6u | (3u << 4) | (4u << 16) | (77ull << 32));
    PiotlbDesc d;
    ASSERT_TRUE(PiotlbDesc::Decode(raw, &d));
    EXPECT_EQ(d.Encode(), raw);
    EXPECT_FALSE(PiotlbDesc::Decode({raw[0] & ~(3ull << 4), raw[1], 0, 0}, &d)) << "G=0 reserved";
  }
  {
    DevTlbDesc c{.pfsid = 0x1234, .mip = 3, .sid = 0x0310, .s = true, .addr = 0x7000};
    const RawDesc raw = GuardedCopy(c.Encode());
    DevTlbDesc d;
    ASSERT_TRUE(DevTlbDesc::Decode(raw, &d));
    EXPECT_EQ(d.Encode(), raw);
    uint64_t base, size;
    d.Range(&base, &size);
    EXPECT_EQ(base, 0u);  // ADDR[14:12]=111, bit 15 clear: 64 KiB
    EXPECT_EQ(size, 0x10000u);
  }
  {
    PdevTlbDesc c{.pfsid = 0xabc, .mip = 2, .sid = 0x0310, .pasid = 5, .g = false, .s = true,
                  .addr = 0x200000 | 0xff000};
    const RawDesc raw = GuardedCopy(c.Encode());
    PdevTlbDesc d;
    ASSERT_TRUE(PdevTlbDesc::Decode(raw, &d));
    EXPECT_EQ(d.Encode(), raw);
    uint64_t base, size;
    d.Range(&base, &size);
    EXPECT_EQ(base, 0x200000u);
    EXPECT_EQ(size, 0x200000u);
  }
  {
    WaitDesc c{.iflag = true, .sw = true, .fn = true, .pd = true, .status_data = 0xdeadbeef,
               .status_addr = 0x123454};
    const RawDesc raw = GuardedCopy(c.Encode());
    EXPECT_EQ(raw[0], 0x5u | 0xf0 | (0xdeadbeefull << 32));
    WaitDesc d;
    ASSERT_TRUE(WaitDesc::Decode(raw, &d));
    EXPECT_EQ(d.Encode(), raw);
    EXPECT_FALSE(WaitDesc::Decode({raw[0], raw[1], 0, 1}, &d)) << "upper 128 bits reserved";
  }
  {
    PageGroupResponseDesc c{.pasid_present = true, .code = PageGroupResponseDesc::kResponseFailure,
                            .rid = 0x0310, .pasid = 5, .lpig = true, .prgi = 0x1ff};
    const RawDesc raw = GuardedCopy(c.Encode());
    PageGroupResponseDesc d;
    ASSERT_TRUE(PageGroupResponseDesc::Decode(raw, &d));
    EXPECT_EQ(d.Encode(), raw);
    EXPECT_EQ(raw[1], (0x1ffu << 3) | 0x4);
  }
}

TEST(VtdEncoding, PageRequestDescriptorRoundTripsWithGuards) {
  PageRequestDesc p{.pasid_present = true, .rid = 0x0310, .pasid = 0x12345, .exe = true,
                    .priv = true, .rd = true, .wr = true, .lpig = true, .prgi = 0x155,
                    .addr = 0x7fff0000};
  const RawDesc raw = GuardedCopy(p.Encode());
  EXPECT_EQ(raw[0] & 0xff, 1u);  // type 1
  EXPECT_EQ(raw[1], 0x7fff0000u | 0x7 | (0x155u << 3));
  EXPECT_EQ(PageRequestDesc::Decode(raw).Encode(), raw);
}

TEST(VtdRegisterBank, RefusesOverlappingAndMisalignedRows) {
  const RegSpec overlap[] = {{"A", 0x0, 8}, {"B", 0x4, 4}};
  EXPECT_EQ(RegisterBank::Build(overlap).status().code(), absl::StatusCode::kInvalidArgument);
  const RegSpec misaligned[] = {{"A", 0x4, 8}};
  EXPECT_EQ(RegisterBank::Build(misaligned).status().code(), absl::StatusCode::kInvalidArgument);
  const RegSpec masks[] = {{"A", 0x0, 4, 0, 1, 1}};
  EXPECT_EQ(RegisterBank::Build(masks).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(VtdRegisterBank, GuestWritesHonourMasksAndLeaveNeighboursAlone) {
  const RegSpec specs[] = {{"GUARD0", 0x0, 8, 0xa5a5a5a5a5a5a5a5},
                           {"R", 0x8, 8, 0xf0, 0x00ff00ff00ff0000, 0xf0},
                           {"GUARD1", 0x10, 8, 0x5a5a5a5a5a5a5a5a}};
  auto bank = RegisterBank::Build(specs);
  ASSERT_TRUE(bank.ok());
  uint64_t old;
  EXPECT_EQ(bank->GuestWrite(0x8, ~0ull, 8, &old), 1);
  EXPECT_EQ(old, 0xf0u);
  EXPECT_EQ(bank->Get(0x8), 0x00ff00ff00ff0000u) << "rw bits stored, w1c bits cleared";
  bank->GuestWrite(0xc, 0, 4, &old);  // upper dword only
  EXPECT_EQ(bank->Get(0x8), 0x00ff0000u);
  EXPECT_EQ(bank->GuestRead(0xc, 4), 0u);
  EXPECT_EQ(bank->GuestRead(0x8, 4), 0x00ff0000u);
  EXPECT_EQ(bank->Get(0x0), 0xa5a5a5a5a5a5a5a5u);
  EXPECT_EQ(bank->Get(0x10), 0x5a5a5a5a5a5a5a5au);
  EXPECT_EQ(bank->GuestRead(0x18, 4), 0u) << "unknown space reads zero";
  EXPECT_EQ(bank->GuestWrite(0x18, 1, 4, &old), -1);
}

TEST(VtdRegisters, CapabilitiesReportConfiguredFeaturesAndOffsets) {
  testing::VtdMachine m({.pasid_bits = 16, .nfr = 4});
  const uint64_t cap = m.vtd->Read64(kCapReg);
  const uint64_t ecap = m.vtd->Read64(kEcapReg);
  EXPECT_EQ(Bits(cap, Cap::kNfrHi, Cap::kNfrLo), 3u);
  EXPECT_EQ(Bits(cap, Cap::kFroHi, Cap::kFroLo) * 16, kFrcdBase);
  EXPECT_EQ(Bits(ecap, Ecap::kIroHi, Ecap::kIroLo) * 16, kIvaReg);
  EXPECT_EQ(Bits(ecap, Ecap::kPssHi, Ecap::kPssLo), 15u);
  EXPECT_TRUE(Bit(ecap, Ecap::kSmts));
  EXPECT_TRUE(Bit(ecap, Ecap::kFlts));
  EXPECT_FALSE(Bit(ecap, Ecap::kEafs)) << "extended access flag not modelled";
  EXPECT_FALSE(Bit(cap, Cap::kCm));
  // The driver enabled translation and QI.
  const uint32_t gsts = m.vtd->Read32(kGstsReg);
  EXPECT_TRUE(Bit(gsts, Gcmd::kTe));
  EXPECT_TRUE(Bit(gsts, Gcmd::kQie));
  EXPECT_EQ(m.vtd->Read32(kGcmdReg), 0u) << "GCMD is write-only";
  m.vtd->Write64(0x800, 0x1234);  // reserved space
  EXPECT_EQ(m.vtd->Read64(0x800), 0u);
}

}  // namespace
}  // namespace svaemu::hw::vtd
