// SMMUv3 commands (IHI 0070 chapter 4): 16-byte entries of the command
// queue, opcode in bits [7:0] of the first word.
//
// Command is the raw entry with every field of every modelled opcode;
// Make*() build a command as a driver does, and DecodeCommand() turns an
// entry into the fields the model acts on, or CERROR_ILL (4.7) for an
// unknown opcode or a field value the spec calls ILLEGAL.
//
// Thread-safety: value types.
#ifndef SVAEMU_HW_SMMUV3_COMMANDS_H_
#define SVAEMU_HW_SMMUV3_COMMANDS_H_

#include <cstdint>

#include "svaemu/base/strong_types.h"
#include "svaemu/hw/smmuv3/fields.h"
#include "svaemu/hw/smmuv3/regs.h"

namespace svaemu::hw::smmuv3 {

// 4.1.1 command opcodes.
enum class Opcode : uint8_t {
  kPrefetchConfig = 0x01,
  kPrefetchAddr = 0x02,
  kCfgiSte = 0x03,
  kCfgiSteRange = 0x04,  // CMD_CFGI_ALL is CFGI_STE_RANGE with Range = 31
  kCfgiCd = 0x05,
  kCfgiCdAll = 0x06,
  kTlbiNhAll = 0x10,
  kTlbiNhAsid = 0x11,
  kTlbiNhVa = 0x12,
  kTlbiNhVaa = 0x13,
  kTlbiEl3All = 0x18,
  kTlbiEl3Va = 0x1a,
  kTlbiEl2All = 0x20,
  kTlbiEl2Asid = 0x21,
  kTlbiEl2Va = 0x22,
  kTlbiEl2Vaa = 0x23,
  kTlbiS12Vmall = 0x28,
  kTlbiS2Ipa = 0x2a,
  kTlbiNsnhAll = 0x30,
  kAtcInv = 0x40,
  kPriResp = 0x41,
  kResume = 0x44,
  kStallTerm = 0x45,
  kSync = 0x46,
};
const char* OpcodeName(Opcode op);

// The raw 16-byte command, with the field positions of 4.3-4.7.
struct Command : Words<2> {
  static constexpr Field kOpcode{0, 7, 0};
  static constexpr Field kSsv{0, 11, 11};
  // 4.3 CMD_CFGI_*, 4.2 CMD_PREFETCH_*.
  static constexpr Field kCfgiSsid{0, 31, 12};
  static constexpr Field kCfgiSid{0, 63, 32};
  static constexpr Field kCfgiLeaf{1, 0, 0};
  static constexpr Field kCfgiRange{1, 4, 0};
  // 4.4 CMD_TLBI_*.
  static constexpr Field kTlbiNum{0, 16, 12};
  static constexpr Field kTlbiScale{0, 24, 20};
  static constexpr Field kTlbiVmid{0, 47, 32};
  static constexpr Field kTlbiAsid{0, 63, 48};
  static constexpr Field kTlbiLeaf{1, 0, 0};
  static constexpr Field kTlbiTtl{1, 9, 8};
  static constexpr Field kTlbiTg{1, 11, 10};
  static constexpr Field kTlbiAddr{1, 63, 12};
  // 4.5 CMD_ATC_INV.
  static constexpr Field kAtcSsid{0, 31, 12};
  static constexpr Field kAtcGlobal{0, 9, 9};
  static constexpr Field kAtcSid{0, 63, 32};
  static constexpr Field kAtcSize{1, 5, 0};
  static constexpr Field kAtcAddr{1, 63, 12};
  // 4.6 CMD_PRI_RESP.
  static constexpr Field kPriSsid{0, 31, 12};
  static constexpr Field kPriSid{0, 63, 32};
  static constexpr Field kPriGrpid{1, 8, 0};
  static constexpr Field kPriResp{1, 13, 12};
  // 4.7 CMD_RESUME, CMD_STALL_TERM.
  static constexpr Field kResumeAction{0, 13, 12};
  static constexpr Field kResumeSid{0, 63, 32};
  static constexpr Field kResumeStag{1, 15, 0};
  static constexpr Field kStallTermSid{0, 63, 32};
  // 4.7 CMD_SYNC.
  static constexpr Field kSyncCs{0, 13, 12};
  static constexpr Field kSyncMsh{0, 23, 22};
  static constexpr Field kSyncMsiAttr{0, 27, 24};
  static constexpr Field kSyncMsiData{0, 63, 32};
  static constexpr Field kSyncMsiAddr{1, 51, 2};

  Opcode opcode() const { return static_cast<Opcode>(Get(kOpcode)); }
};

// CMD_RESUME (4.7.1): bit 12 Ac (retry), bit 13 Ab (when terminating:
// abort, else a RAZ/WI completion). With Ac = 1 the Ab bit is IGNORED, so
// the decoder reads 0b11 as kRetry.
enum class ResumeAction : uint8_t { kTerminate = 0b00, kRetry = 0b01, kAbort = 0b10 };
// CMD_PRI_RESP Resp (4.5.2), the PCIe response the endpoint receives:
// 0b00 ResponseFailure (what Linux names PRI_RESP_DENY), 0b01
// InvalidRequest, 0b10 Success; 0b11 is ILLEGAL.
enum class PriResp : uint8_t { kResponseFailure = 0b00, kInvalidRequest = 0b01, kSuccess = 0b10 };
// CMD_SYNC CS (4.7.3).
enum class SyncCs : uint8_t { kNone = 0b00, kIrq = 0b01, kSev = 0b10 };

// Builders (the driver's arm_smmu_cmdq_build_cmd()).
Command MakeCfgiSte(StreamId sid, bool leaf);
Command MakeCfgiSteRange(StreamId sid, unsigned range);
Command MakeCfgiAll();
Command MakeCfgiCd(StreamId sid, uint32_t ssid, bool leaf);
Command MakeCfgiCdAll(StreamId sid);
Command MakeTlbiNhAll();
Command MakeTlbiNhAsid(Asid asid);
// TLBI_NH_VA / TLBI_NH_VAA. With num == scale == tg == 0 one address;
// otherwise the range of 4.4.1.1 (IDR3.RIL): (num+1) * 2^scale pages of
// granule tg (0b01 4 KiB), starting at va; ttl: level hint.
struct TlbiRange {
  uint8_t num = 0;
  uint8_t scale = 0;
  uint8_t tg = 0;
  uint8_t ttl = 0;
};
Command MakeTlbiNhVa(Asid asid, VirtAddr va, bool leaf, TlbiRange r = {});
Command MakeTlbiNhVaa(VirtAddr va, bool leaf, TlbiRange r = {});
Command MakeTlbiNsnhAll();
// ATC_INV: 2^size pages at addr (size 52: everything), for ssid if ssv.
Command MakeAtcInv(StreamId sid, bool ssv, uint32_t ssid, VirtAddr addr,
                   uint8_t size, bool global = false);
Command MakePriResp(StreamId sid, bool ssv, uint32_t ssid, uint16_t grpid,
                    PriResp resp);
Command MakeResume(StreamId sid, uint16_t stag, ResumeAction action);
Command MakeStallTerm(StreamId sid);
Command MakeSync(SyncCs cs, PhysAddr msi_addr = PhysAddr(0),
                 uint32_t msi_data = 0);

// A decoded command: opcode-relevant fields, or the error it raises.
struct DecodedCommand {
  Opcode op{};
  CmdError error = CmdError::kNone;
  StreamId sid;
  bool ssv = false;
  uint32_t ssid = 0;
  bool leaf = false;
  uint8_t range = 0;         // CFGI_STE_RANGE: 2^(range+1) StreamIDs
  Asid asid;
  uint16_t vmid = 0;
  VirtAddr addr;             // TLBI VA, ATC address
  uint64_t span = 0;         // TLBI: bytes covered (0: one address, any page)
  uint8_t ttl = 0;
  uint8_t size = 0;          // ATC_INV
  bool global = false;
  uint16_t grpid = 0;
  PriResp pri_resp{};
  uint16_t stag = 0;
  ResumeAction action{};
  SyncCs cs{};
  PhysAddr msi_addr;
  uint32_t msi_data = 0;
};

// What the ID registers advertise that decides whether a command is
// ILLEGAL (CERROR_ILL). A SubstreamID beyond IDR1.SSIDSIZE is not: 4.3.3
// and 4.1.7 make it CONSTRAINED UNPREDICTABLE, and the model takes "the
// command has no effect" (no cached entry can carry such a SubstreamID).
struct CommandFeatures {
  bool ril = true;          // IDR3.RIL: range TLBIs (4.4.1.1)
  bool stall = true;        // IDR0.STALL_MODEL != 0b01: RESUME, STALL_TERM (4.7.1, 4.7.2)
  bool ats = true;          // IDR0.ATS: ATC_INV (4.5.1)
  bool pri = true;          // IDR0.PRI: PRI_RESP (4.5.2)
};
DecodedCommand DecodeCommand(const Command& c, const CommandFeatures& f);

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_HW_SMMUV3_COMMANDS_H_
