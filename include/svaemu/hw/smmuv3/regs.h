// SMMUv3 register file, declared as data (IHI 0070 chapter 6).
//
// Offsets follow 6.2 "Register overview": Page 0 holds the ID, control,
// error, table and queue-base registers and the command queue indices;
// Page 1 (offset 0x10000) holds the event and PRI queue indices. Field
// positions follow the register descriptions of 6.3 (cited per register).
// kRegisterTable lists every modelled register with its width and the bits
// software may write; a static_assert refuses a table whose offsets drift or
// overlap. Anything else in the register space reads as zero and ignores
// writes (6.2: reserved locations are RAZ/WI).
#ifndef SVAEMU_HW_SMMUV3_REGS_H_
#define SVAEMU_HW_SMMUV3_REGS_H_

#include <array>
#include <cstdint>

#include "svaemu/hw/smmuv3/fields.h"

namespace svaemu::hw::smmuv3 {

// 6.2: register offsets.
inline constexpr uint64_t kIdr0 = 0x0000;
inline constexpr uint64_t kIdr1 = 0x0004;
inline constexpr uint64_t kIdr2 = 0x0008;
inline constexpr uint64_t kIdr3 = 0x000c;
inline constexpr uint64_t kIdr4 = 0x0010;
inline constexpr uint64_t kIdr5 = 0x0014;
inline constexpr uint64_t kIidr = 0x0018;
inline constexpr uint64_t kAidr = 0x001c;
inline constexpr uint64_t kCr0 = 0x0020;
inline constexpr uint64_t kCr0Ack = 0x0024;
inline constexpr uint64_t kCr1 = 0x0028;
inline constexpr uint64_t kCr2 = 0x002c;
inline constexpr uint64_t kStatusr = 0x0040;
inline constexpr uint64_t kGbpa = 0x0044;
inline constexpr uint64_t kIrqCtrl = 0x0050;
inline constexpr uint64_t kIrqCtrlAck = 0x0054;
inline constexpr uint64_t kGerror = 0x0060;
inline constexpr uint64_t kGerrorn = 0x0064;
inline constexpr uint64_t kGerrorIrqCfg0 = 0x0068;
inline constexpr uint64_t kGerrorIrqCfg1 = 0x0070;
inline constexpr uint64_t kGerrorIrqCfg2 = 0x0074;
inline constexpr uint64_t kStrtabBase = 0x0080;
inline constexpr uint64_t kStrtabBaseCfg = 0x0088;
inline constexpr uint64_t kCmdqBase = 0x0090;
inline constexpr uint64_t kCmdqProd = 0x0098;
inline constexpr uint64_t kCmdqCons = 0x009c;
inline constexpr uint64_t kEvtqBase = 0x00a0;
inline constexpr uint64_t kEvtqIrqCfg0 = 0x00b0;
inline constexpr uint64_t kEvtqIrqCfg1 = 0x00b8;
inline constexpr uint64_t kEvtqIrqCfg2 = 0x00bc;
inline constexpr uint64_t kPriqBase = 0x00c0;
inline constexpr uint64_t kPriqIrqCfg0 = 0x00d0;
inline constexpr uint64_t kPriqIrqCfg1 = 0x00d8;
inline constexpr uint64_t kPriqIrqCfg2 = 0x00dc;
inline constexpr uint64_t kEvtqProd = 0x100a8;  // Page 1
inline constexpr uint64_t kEvtqCons = 0x100ac;
inline constexpr uint64_t kPriqProd = 0x100c8;
inline constexpr uint64_t kPriqCons = 0x100cc;

// 6.3.1 SMMU_IDR0.
namespace idr0 {
inline constexpr Field kS2p{0, 0, 0};
inline constexpr Field kS1p{0, 1, 1};
inline constexpr Field kTtf{0, 3, 2};        // 0b10: AArch64 tables only
inline constexpr Field kCohacc{0, 4, 4};
inline constexpr Field kBtm{0, 5, 5};
inline constexpr Field kHttu{0, 7, 6};       // 0b01 Access flag, 0b10 +dirty
inline constexpr Field kAts{0, 10, 10};
inline constexpr Field kAsid16{0, 12, 12};
inline constexpr Field kMsi{0, 13, 13};
inline constexpr Field kSev{0, 14, 14};
inline constexpr Field kPri{0, 16, 16};
inline constexpr Field kVmid16{0, 18, 18};
inline constexpr Field kCd2l{0, 19, 19};
inline constexpr Field kTtendian{0, 22, 21};  // 0b10: little-endian only
inline constexpr Field kStallModel{0, 25, 24};
inline constexpr Field kTermModel{0, 26, 26};
inline constexpr Field kStLevel{0, 28, 27};   // 0b01: 2-level supported
}  // namespace idr0

// IDR0.STALL_MODEL (6.3.1).
enum class StallModel : uint8_t {
  kStallAndTerminate = 0b00,  // per-stream choice (STE.S1STALLD, CD.S)
  kTerminateOnly = 0b01,      // no stalls
  kStallForced = 0b10,        // faults always stall where CD.S allows none
};

// 6.3.2 SMMU_IDR1.
namespace idr1 {
inline constexpr Field kSidsize{0, 5, 0};
inline constexpr Field kSsidsize{0, 10, 6};
inline constexpr Field kPriqs{0, 15, 11};
inline constexpr Field kEvtqs{0, 20, 16};
inline constexpr Field kCmdqs{0, 25, 21};
inline constexpr Field kAttrPermsOvr{0, 26, 26};  // STE.PRIVCFG/INSTCFG honoured
inline constexpr Field kRel{0, 28, 28};
inline constexpr Field kQueuesPreset{0, 29, 29};
inline constexpr Field kTablesPreset{0, 30, 30};
}  // namespace idr1

// 6.3.4 SMMU_IDR3.
namespace idr3 {
inline constexpr Field kHad{0, 2, 2};    // CD.HAD0/HAD1 (mandatory from v3.1 with S1P)
inline constexpr Field kPps{0, 5, 5};    // PRG response PASID as in request
inline constexpr Field kFwb{0, 8, 8};    // STE.S2FWB (mandatory from v3.2)
inline constexpr Field kRil{0, 10, 10};  // range invalidation (TLBI NUM/SCALE/TTL/TG)
inline constexpr Field kBbml{0, 12, 11};  // break-before-make level (3.21.1)
}  // namespace idr3

// 6.3.6 SMMU_IDR5.
namespace idr5 {
inline constexpr Field kOas{0, 2, 0};  // 0b101: 48 bits
inline constexpr Field kGran4k{0, 4, 4};
inline constexpr Field kGran16k{0, 5, 5};
inline constexpr Field kGran64k{0, 6, 6};
inline constexpr Field kStallMax{0, 31, 16};
}  // namespace idr5

// 6.3.8 SMMU_AIDR.
namespace aidr {
inline constexpr Field kArchMinorRev{0, 3, 0};
inline constexpr Field kArchMajorRev{0, 7, 4};
}  // namespace aidr

// 6.3.9 SMMU_CR0 (and CR0ACK, 6.3.10).
namespace cr0 {
inline constexpr Field kSmmuen{0, 0, 0};
inline constexpr Field kPriqen{0, 1, 1};
inline constexpr Field kEvtqen{0, 2, 2};
inline constexpr Field kCmdqen{0, 3, 3};
inline constexpr Field kAtschk{0, 4, 4};
}  // namespace cr0

// 6.3.12 SMMU_CR2.
namespace cr2 {
inline constexpr Field kE2h{0, 0, 0};
inline constexpr Field kRecinvsid{0, 1, 1};
inline constexpr Field kPtm{0, 2, 2};
}  // namespace cr2

// 6.3.14 SMMU_GBPA.
namespace gbpa {
inline constexpr Field kAbort{0, 20, 20};
inline constexpr Field kUpdate{0, 31, 31};
}  // namespace gbpa

// 6.3.17 SMMU_IRQ_CTRL (and IRQ_CTRLACK).
namespace irq_ctrl {
inline constexpr Field kGerrorIrqen{0, 0, 0};
inline constexpr Field kPriqIrqen{0, 1, 1};
inline constexpr Field kEvtqIrqen{0, 2, 2};
}  // namespace irq_ctrl

// 6.3.19 SMMU_GERROR / 6.3.20 SMMU_GERRORN: an error is active while the
// bit differs between the two.
namespace gerror {
inline constexpr Field kCmdqErr{0, 0, 0};
inline constexpr Field kEvtqAbtErr{0, 2, 2};
inline constexpr Field kPriqAbtErr{0, 3, 3};
inline constexpr Field kMsiCmdqAbtErr{0, 4, 4};
inline constexpr Field kMsiEvtqAbtErr{0, 5, 5};
inline constexpr Field kMsiPriqAbtErr{0, 6, 6};
inline constexpr Field kMsiGerrorAbtErr{0, 7, 7};
inline constexpr Field kSfmErr{0, 8, 8};
}  // namespace gerror

// 6.3.21 SMMU_*_IRQ_CFG0: MSI target address.
namespace irq_cfg0 {
inline constexpr Field kAddr{0, 51, 2};
}

// 6.3.24 SMMU_STRTAB_BASE, 6.3.25 SMMU_STRTAB_BASE_CFG.
namespace strtab_base {
inline constexpr Field kAddr{0, 51, 6};
inline constexpr Field kRa{0, 62, 62};
}  // namespace strtab_base
namespace strtab_base_cfg {
inline constexpr Field kLog2size{0, 5, 0};
inline constexpr Field kSplit{0, 10, 6};
inline constexpr Field kFmt{0, 17, 16};  // 0b00 linear, 0b01 2-level
}  // namespace strtab_base_cfg

// 6.3.26 SMMU_CMDQ_BASE, 6.3.29 SMMU_EVENTQ_BASE, 6.3.33 SMMU_PRIQ_BASE.
namespace queue_base {
inline constexpr Field kLog2size{0, 4, 0};
inline constexpr Field kAddr{0, 51, 5};
inline constexpr Field kRa{0, 62, 62};
}  // namespace queue_base

// 6.3.27/28 SMMU_CMDQ_PROD/CONS; 6.3.30/31 EVENTQ_PROD/CONS; 6.3.34/35
// PRIQ_PROD/CONS. WR/RD is an index of LOG2SIZE bits followed by the wrap
// bit, so the index+wrap occupy [LOG2SIZE:0].
namespace queue_idx {
inline constexpr Field kCmdqConsErr{0, 30, 24};
inline constexpr Field kOvflg{0, 31, 31};     // PROD of EVTQ/PRIQ
inline constexpr Field kOvackflg{0, 31, 31};  // CONS of EVTQ/PRIQ
}  // namespace queue_idx

// SMMU_CMDQ_CONS.ERR values (4.7 "Command errors", table 4.x).
enum class CmdError : uint8_t {
  kNone = 0x00,        // CERROR_NONE
  kIll = 0x01,         // CERROR_ILL: illegal or unknown command
  kAbt = 0x02,         // CERROR_ABT: abort on command fetch
  kAtcInvSync = 0x03,  // CERROR_ATC_INV_SYNC: ATC invalidation timed out
};

// One modelled register: where it is, how wide, which bits software writes.
struct RegisterSpec {
  uint64_t offset;
  uint8_t width;       // bytes: 4 or 8
  uint64_t writable;   // bits software can write (0: read-only)
  const char* name;
};

inline constexpr std::array<RegisterSpec, 38> kRegisterTable = {{
    {kIdr0, 4, 0, "IDR0"},
    {kIdr1, 4, 0, "IDR1"},
    {kIdr2, 4, 0, "IDR2"},
    {kIdr3, 4, 0, "IDR3"},
    {kIdr4, 4, 0, "IDR4"},
    {kIdr5, 4, 0, "IDR5"},
    {kIidr, 4, 0, "IIDR"},
    {kAidr, 4, 0, "AIDR"},
    {kCr0, 4, 0x1f, "CR0"},
    {kCr0Ack, 4, 0, "CR0ACK"},
    {kCr1, 4, 0xfff, "CR1"},
    {kCr2, 4, 0x7, "CR2"},
    {kStatusr, 4, 0, "STATUSR"},
    // 6.3.14: Update, ABORT, INSTCFG, PRIVCFG, SHCFG, ALLOCCFG, MTCFG,
    // MemAttr (the attribute fields are stored, not applied: bypass
    // traffic keeps its incoming attributes).
    {kGbpa, 4, (1ull << 31) | BitMask(20, 16) | BitMask(13, 8) | BitMask(4, 0), "GBPA"},
    {kIrqCtrl, 4, 0x7, "IRQ_CTRL"},
    {kIrqCtrlAck, 4, 0, "IRQ_CTRLACK"},
    {kGerror, 4, 0, "GERROR"},
    {kGerrorn, 4, 0x1fd, "GERRORN"},
    {kGerrorIrqCfg0, 8, BitMask(51, 2), "GERROR_IRQ_CFG0"},
    {kGerrorIrqCfg1, 4, 0xffffffffull, "GERROR_IRQ_CFG1"},
    {kGerrorIrqCfg2, 4, 0x3f, "GERROR_IRQ_CFG2"},
    {kStrtabBase, 8, BitMask(51, 6) | (1ull << 62), "STRTAB_BASE"},
    {kStrtabBaseCfg, 4, BitMask(17, 16) | BitMask(10, 0), "STRTAB_BASE_CFG"},
    {kCmdqBase, 8, BitMask(51, 0) | (1ull << 62), "CMDQ_BASE"},
    {kCmdqProd, 4, BitMask(19, 0), "CMDQ_PROD"},
    {kCmdqCons, 4, BitMask(19, 0), "CMDQ_CONS"},
    {kEvtqBase, 8, BitMask(51, 0) | (1ull << 62), "EVENTQ_BASE"},
    {kEvtqIrqCfg0, 8, BitMask(51, 2), "EVENTQ_IRQ_CFG0"},
    {kEvtqIrqCfg1, 4, 0xffffffffull, "EVENTQ_IRQ_CFG1"},
    {kEvtqIrqCfg2, 4, 0x3f, "EVENTQ_IRQ_CFG2"},
    {kPriqBase, 8, BitMask(51, 0) | (1ull << 62), "PRIQ_BASE"},
    {kPriqIrqCfg0, 8, BitMask(51, 2), "PRIQ_IRQ_CFG0"},
    {kPriqIrqCfg1, 4, 0xffffffffull, "PRIQ_IRQ_CFG1"},
    {kPriqIrqCfg2, 4, 0x3f | (1ull << 31), "PRIQ_IRQ_CFG2"},
    {kEvtqProd, 4, BitMask(19, 0) | (1ull << 31), "EVENTQ_PROD"},
    {kEvtqCons, 4, BitMask(19, 0) | (1ull << 31), "EVENTQ_CONS"},
    {kPriqProd, 4, BitMask(19, 0) | (1ull << 31), "PRIQ_PROD"},
    {kPriqCons, 4, BitMask(19, 0) | (1ull << 31), "PRIQ_CONS"},
}};  // keep sorted by offset: see the static_assert below

constexpr bool RegisterTableIsSound() {
  for (size_t i = 0; i + 1 < kRegisterTable.size(); ++i) {
    const RegisterSpec& a = kRegisterTable[i];
    const RegisterSpec& b = kRegisterTable[i + 1];
    if (a.offset + a.width > b.offset) return false;  // overlap or unsorted
    if (a.offset % a.width != 0) return false;        // natural alignment
  }
  return true;
}
static_assert(RegisterTableIsSound(),
              "SMMUv3 register table offsets drifted, overlap or misalign");

// Index of the register that starts at `offset`, or -1.
constexpr int RegisterIndex(uint64_t offset) {
  size_t lo = 0, hi = kRegisterTable.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (kRegisterTable[mid].offset < offset) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < kRegisterTable.size() && kRegisterTable[lo].offset == offset
             ? static_cast<int>(lo)
             : -1;
}

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_HW_SMMUV3_REGS_H_
