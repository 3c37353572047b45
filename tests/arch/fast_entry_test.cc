// The walk loop's fast path (walk.h, WalkLevel) decodes an entry that a
// format's FastEntry() accepts without DecodeBits(): a table entry narrows
// the rights by TablePerms(entry, entry), a page at level 1 by LeafPerms().
// Here, for every combination of the bits that matter, each format's fast
// forms agree with its DecodeBits() (which the reference Decode() is built
// on) for every set of rights above.
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/walk.h"
#include "svaemu/arch/walker.h"
#include "svaemu/arch/x86_64.h"

namespace svaemu::arch {
namespace {

// Every subset of `bits` set in `base`.
std::vector<uint64_t> Combinations(uint64_t base, const std::vector<unsigned>& bits) {
  std::vector<uint64_t> out;
  for (uint32_t m = 0; m < (1u << bits.size()); ++m) {
    uint64_t e = base;
    for (size_t i = 0; i < bits.size(); ++i) {
      if ((m >> i) & 1) e |= 1ull << bits[i];
    }
    out.push_back(e);
  }
  return out;
}

// Checks the fast forms of `fmt` against DecodeBits for `entries` at every
// level, with every set of rights above, and (for pages) after each table
// entry of `entries` that the fast path takes at level 2; returns how many
// (entry, level) pairs took the fast path, so that a test can insist the
// path is exercised.
template <typename Fmt>
int ExpectFastFormsAgree(const Fmt& fmt, const std::vector<uint64_t>& entries) {
  std::vector<uint64_t> tables;
  for (uint64_t e : entries) {
    if (fmt.FastEntry(e, 2)) tables.push_back(e);
  }
  int fast = 0;
  for (uint64_t e : entries) {
    for (uint8_t level = 1; level <= 4; ++level) {
      if (!fmt.FastEntry(e, level)) continue;
      ++fast;
      SCOPED_TRACE(testing::Message() << std::hex << "entry 0x" << e << " level "
                                      << int(level));
      for (uint32_t above = 0; above <= internal::kPermAll; ++above) {
        uint32_t cum = above;
        const internal::BitStep s = fmt.DecodeBits(e, level, &cum);
        EXPECT_EQ(s.out, e & fmt.TableAddressMask());
        if (level == 1) {
          EXPECT_EQ(s.kind, internal::StepKind::kLeaf);
          EXPECT_EQ(cum, fmt.LeafPerms(above, ~0ull, 0, e)) << "above 0x" << above;
        } else {
          EXPECT_EQ(s.kind, internal::StepKind::kTable);
          EXPECT_EQ(cum, above & fmt.TablePerms(e, e)) << "above 0x" << above;
        }
      }
      if (level != 1) continue;
      // A page below a table entry: the rights that entry leaves, then
      // the page's own narrowing.
      for (uint64_t t : tables) {
        uint32_t cum = internal::kPermAll & fmt.TablePerms(t, t);
        (void)fmt.DecodeBits(e, 1, &cum);
        EXPECT_EQ(cum, fmt.LeafPerms(internal::kPermAll, t, t, e)) << "table 0x" << t;
      }
    }
  }
  return fast;
}

TEST(FastEntryTest, Arm64PagesAndTablesDecodeAsDecodeBitsDoes) {
  // Type bits, AP[2:1], AF, nG, DBM, PXN, UXN, the table attributes, and an
  // OA bit above a 40-bit output size.
  const std::vector<uint64_t> entries = Combinations(
      0x12345000,
      {0, 1, Arm64Desc::kAp1, Arm64Desc::kAp2, Arm64Desc::kAf, Arm64Desc::kNg,
       Arm64Desc::kDbm, Arm64Desc::kPxn, Arm64Desc::kUxn, Arm64Desc::kPxnTable,
       Arm64Desc::kPxnTable + 1, Arm64Desc::kPxnTable + 2, Arm64Desc::kPxnTable + 3, 44});
  WalkOptions opts;
  opts.max_phys_bits = 40;
  const Arm64Format fmt(Arm64Stage1Config{.ha = true, .hd = true}, opts);
  EXPECT_GT(ExpectFastFormsAgree(fmt, entries), 0);
  // Pages at level 1: the fast path is taken for type 0b11 within the OA
  // size, and for nothing else: one combination in 8 of the two type bits
  // and bit 44.
  int pages = 0;
  for (uint64_t e : entries) pages += fmt.FastEntry(e, 1);
  EXPECT_EQ(pages, static_cast<int>(entries.size() / 8));
  // And a page's rights as D8.4 states them, written out here rather than
  // taken from the format: AP[2] removes write, AP[1] = 0 EL0 access, UXN
  // and PXN execution, and a location EL0 may write is never executable at
  // EL1.
  for (uint64_t raw : entries) {
    if (!fmt.FastEntry(raw, 1)) continue;
    const Arm64Desc d{raw};
    for (uint32_t above = 0; above <= internal::kPermAll; ++above) {
      const Perms a = PermsOfIndex(above);
      Perms want{.write = a.write && !d.ap2(), .user = a.user && d.ap1(),
                 .exec_user = a.exec_user && !d.uxn(), .exec_priv = a.exec_priv && !d.pxn()};
      if (want.user && want.write) want.exec_priv = false;
      EXPECT_EQ(PermsOfIndex(fmt.LeafPerms(above, ~0ull, 0, raw)), want)
          << std::hex << "page 0x" << raw << " above 0x" << above;
    }
  }
}

TEST(FastEntryTest, X86PtesAndTablesDecodeAsDecodeBitsDo) {
  // P, R/W, U/S, A, D, PS, G, XD and a reserved address bit above 46.
  const std::vector<uint64_t> entries = Combinations(
      0x12345000, {X86Entry::kP, X86Entry::kRw, X86Entry::kUs, X86Entry::kA, X86Entry::kD,
                   X86Entry::kPs, X86Entry::kG, X86Entry::kXd, 47});
  WalkOptions opts;
  opts.nxe = true;
  opts.max_phys_bits = 46;
  const X86Format fmt(X86PagingMode{.levels = 4}, opts);
  EXPECT_GT(ExpectFastFormsAgree(fmt, entries), 0);
}

}  // namespace
}  // namespace svaemu::arch
