// Encoder/decoder round trips of SMMUv3 structures, written into a buffer
// between guard bytes: the whole buffer is checked, so a field that spills
// outside its structure is caught.
#include <array>
#include <cstdint>

#include "gtest/gtest.h"
#include "svaemu/hw/smmuv3/commands.h"
#include "svaemu/hw/smmuv3/events.h"
#include "svaemu/hw/smmuv3/regs.h"
#include "svaemu/hw/smmuv3/tables.h"

namespace svaemu::hw::smmuv3 {
namespace {

constexpr uint8_t kGuard = 0xa5;
constexpr size_t kPad = 16;

// Encodes `w` between guards, checks the guards, decodes it back.
template <int N>
Words<N> RoundTrip(const Words<N>& w) {
  std::array<uint8_t, Words<N>::kBytes + 2 * kPad> buf;
  buf.fill(kGuard);
  w.EncodeTo(std::span<uint8_t, Words<N>::kBytes>(buf.data() + kPad, Words<N>::kBytes));
  for (size_t i = 0; i < kPad; ++i) {
    EXPECT_EQ(buf[i], kGuard) << "guard before, byte " << i;
    EXPECT_EQ(buf[kPad + Words<N>::kBytes + i], kGuard) << "guard after, byte " << i;
  }
  return Words<N>::DecodeFrom(
      std::span<const uint8_t, Words<N>::kBytes>(buf.data() + kPad, Words<N>::kBytes));
}

TEST(SmmuEncoding, SteFieldsRoundTripAtSpecPositions) {
  Ste ste;
  ste.Set(Ste::kV, 1);
  ste.Set(Ste::kConfig, Ste::kConfigS1Trans);
  ste.Set(Ste::kS1Fmt, Ste::kS1Fmt2Lvl64K);
  ste.Set(Ste::kS1ContextPtr, 0xfffffffffffull);  // all 46 bits
  ste.Set(Ste::kS1CDMax, 20);
  ste.Set(Ste::kS1DSS, Ste::kS1DSSSsid0);
  ste.Set(Ste::kS1STALLD, 1);
  ste.Set(Ste::kEATS, Ste::kEATSTrans);
  ste.Set(Ste::kSTRW, 0);
  const Ste back{RoundTrip<8>(ste)};
  EXPECT_EQ(back, ste);
  // 5.2: V bit 0, Config [3:1], S1Fmt [5:4], S1ContextPtr [51:6], S1CDMax [63:59].
  EXPECT_EQ(back.dw[0], 1ull | (0b101ull << 1) | (0b10ull << 4) |
                            (0xfffffffffffull << 6) | (20ull << 59));
  // S1DSS [1:0], S1STALLD 27, EATS [29:28] of dword 1.
  EXPECT_EQ(back.dw[1], 0b10ull | (1ull << 27) | (1ull << 28));
}

TEST(SmmuEncoding, CdFieldsRoundTripAtSpecPositions) {
  Cd cd;
  cd.Set(Cd::kT0SZ, 16);
  cd.Set(Cd::kEPD1, 1);
  cd.Set(Cd::kV, 1);
  cd.Set(Cd::kIPS, 5);
  cd.Set(Cd::kAA64, 1);
  cd.Set(Cd::kHA, 1);
  cd.Set(Cd::kHD, 1);
  cd.Set(Cd::kS, 1);
  cd.Set(Cd::kR, 1);
  cd.Set(Cd::kA, 1);
  cd.Set(Cd::kASID, 0xbeef);
  cd.Set(Cd::kTTB0, 0x123456789abull);
  cd.Set(Cd::kMAIR, 0x0123456789abcdefull);
  const Cd back{RoundTrip<8>(cd)};
  EXPECT_EQ(back, cd);
  EXPECT_EQ(back.dw[0], 16ull | (1ull << 30) | (1ull << 31) | (5ull << 32) |
                            (1ull << 41) | (1ull << 42) | (1ull << 43) |
                            (1ull << 44) | (1ull << 45) | (1ull << 46) |
                            (0xbeefull << 48));
  EXPECT_EQ(back.ttb0(), PhysAddr(0x123456789abull << 4));
  EXPECT_EQ(back.dw[3], 0x0123456789abcdefull);
}

TEST(SmmuEncoding, EveryCommandRoundTripsThroughDecode) {
  const StreamId sid(0x1234);
  struct Case {
    Command cmd;
    Opcode op;
  };
  const Case cases[] = {
      {MakeCfgiSte(sid, true), Opcode::kCfgiSte},
      {MakeCfgiSteRange(sid, 4), Opcode::kCfgiSteRange},
      {MakeCfgiAll(), Opcode::kCfgiSteRange},
      {MakeCfgiCd(sid, 0x9876, false), Opcode::kCfgiCd},
      {MakeCfgiCdAll(sid), Opcode::kCfgiCdAll},
      {MakeTlbiNhAll(), Opcode::kTlbiNhAll},
      {MakeTlbiNhAsid(Asid(77)), Opcode::kTlbiNhAsid},
      {MakeTlbiNhVa(Asid(77), VirtAddr(0x7f0000123000), true,
                    {.num = 3, .scale = 2, .tg = 1, .ttl = 3}), Opcode::kTlbiNhVa},
      {MakeTlbiNhVaa(VirtAddr(0x400000), false), Opcode::kTlbiNhVaa},
      {MakeTlbiNsnhAll(), Opcode::kTlbiNsnhAll},
      {MakeAtcInv(sid, true, 5, VirtAddr(0x10000), 4), Opcode::kAtcInv},
      {MakePriResp(sid, true, 5, 0x1ff, PriResp::kSuccess), Opcode::kPriResp},
      {MakeResume(sid, 0xabcd, ResumeAction::kRetry), Opcode::kResume},
      {MakeStallTerm(sid), Opcode::kStallTerm},
      {MakeSync(SyncCs::kIrq, PhysAddr(0x12345678), 0xdeadbeef), Opcode::kSync},
  };
  for (const Case& c : cases) {
    const Command back{RoundTrip<2>(c.cmd)};
    EXPECT_EQ(back, c.cmd) << OpcodeName(c.op);
    const DecodedCommand d = DecodeCommand(back, {});
    EXPECT_EQ(d.op, c.op);
    EXPECT_EQ(d.error, CmdError::kNone) << OpcodeName(c.op);
  }
  const DecodedCommand va = DecodeCommand(cases[7].cmd, {});
  EXPECT_EQ(va.asid, Asid(77));
  EXPECT_EQ(va.addr, VirtAddr(0x7f0000123000));
  EXPECT_EQ(va.span, 4ull << 14);  // (NUM + 1) << SCALE pages of 4 KiB
  EXPECT_EQ(va.ttl, 3);
  const DecodedCommand resume = DecodeCommand(cases[12].cmd, {});
  EXPECT_EQ(resume.sid, sid);
  EXPECT_EQ(resume.stag, 0xabcd);
  EXPECT_EQ(resume.action, ResumeAction::kRetry);
  const DecodedCommand sync = DecodeCommand(cases[14].cmd, {});
  EXPECT_EQ(sync.msi_addr, PhysAddr(0x12345678));
  EXPECT_EQ(sync.msi_data, 0xdeadbeefu);
  // 4.1.1 opcodes sit in bits [7:0].
  EXPECT_EQ(cases[13].cmd.dw[0] & 0xff, 0x45u);
}

TEST(SmmuEncoding, IllegalCommandsDecodeAsCerrorIll) {
  Command unknown;
  unknown.Set(Command::kOpcode, 0x7f);
  EXPECT_EQ(DecodeCommand(unknown, {}).error, CmdError::kIll);
  Command sync = MakeSync(SyncCs::kNone);
  sync.Set(Command::kSyncCs, 0b11);  // reserved CS
  EXPECT_EQ(DecodeCommand(sync, {}).error, CmdError::kIll);
  // A range TLBI without IDR3.RIL.
  const Command range = MakeTlbiNhVa(Asid(1), VirtAddr(0), true, {.num = 1, .tg = 1});
  EXPECT_EQ(DecodeCommand(range, {.ril = false}).error, CmdError::kIll);
  // An SSID beyond SSIDSIZE is CONSTRAINED UNPREDICTABLE, never ILLEGAL
  // (4.3.3, 4.1.7): the command decodes and matches no cached entry.
  EXPECT_EQ(DecodeCommand(MakeCfgiCd(StreamId(1), 1u << 10, true), {}).error, CmdError::kNone);
  EXPECT_EQ(DecodeCommand(MakeAtcInv(StreamId(1), true, 0xfffff, VirtAddr(0), 0), {}).error,
            CmdError::kNone);
  // Stage 2 invalidation without S2P.
  Command s2;
  s2.Set(Command::kOpcode, static_cast<uint64_t>(Opcode::kTlbiS12Vmall));
  EXPECT_EQ(DecodeCommand(s2, {}).error, CmdError::kIll);
  // 4.7.1, 4.7.2: RESUME and STALL_TERM without the stall model
  // (STALL_MODEL 0b01); 4.5.1 ATC_INV without ATS; 4.5.2 PRI_RESP without
  // PRI, and with Resp 0b11.
  const Command resume = MakeResume(StreamId(1), 3, ResumeAction::kRetry);
  EXPECT_EQ(DecodeCommand(resume, {.stall = false}).error, CmdError::kIll);
  EXPECT_EQ(DecodeCommand(MakeStallTerm(StreamId(1)), {.stall = false}).error, CmdError::kIll);
  const Command atc = MakeAtcInv(StreamId(1), false, 0, VirtAddr(0), 0);
  EXPECT_EQ(DecodeCommand(atc, {.ats = false}).error, CmdError::kIll);
  EXPECT_EQ(DecodeCommand(atc, {}).error, CmdError::kNone);
  Command pri = MakePriResp(StreamId(1), false, 0, 1, PriResp::kSuccess);
  EXPECT_EQ(DecodeCommand(pri, {.pri = false}).error, CmdError::kIll);
  pri.Set(Command::kPriResp, 0b11);
  EXPECT_EQ(DecodeCommand(pri, {}).error, CmdError::kIll);
}

// 4.5.2: Resp 0b00 ResponseFailure, 0b01 InvalidRequest, 0b10 Success, in
// bits [13:12] of the second doubleword.
TEST(SmmuEncoding, PriRespCodesAreTheSpecsEncodings) {
  const auto resp_bits = [](PriResp r) {
    return (MakePriResp(StreamId(1), false, 0, 1, r).dw[1] >> 12) & 3;
  };
  EXPECT_EQ(resp_bits(PriResp::kResponseFailure), 0b00u);
  EXPECT_EQ(resp_bits(PriResp::kInvalidRequest), 0b01u);
  EXPECT_EQ(resp_bits(PriResp::kSuccess), 0b10u);
  EXPECT_EQ(
      DecodeCommand(MakePriResp(StreamId(1), false, 0, 1, PriResp::kInvalidRequest), {}).pri_resp,
      PriResp::kInvalidRequest);
}

// 4.7.1: Ac (bit 12) = 1 retries whatever Ab (bit 13) says; with Ac = 0,
// Ab = 1 aborts and Ab = 0 completes RAZ/WI.
TEST(SmmuEncoding, ResumeActionIsAcThenAb) {
  const auto decode = [](uint64_t ac_ab) {
    Command c = MakeResume(StreamId(2), 7, ResumeAction::kTerminate);
    c.Set(Command::kResumeAction, ac_ab);
    const DecodedCommand d = DecodeCommand(c, {});
    EXPECT_EQ(d.error, CmdError::kNone);
    return d.action;
  };
  EXPECT_EQ(decode(0b00), ResumeAction::kTerminate);
  EXPECT_EQ(decode(0b01), ResumeAction::kRetry);
  EXPECT_EQ(decode(0b10), ResumeAction::kAbort);
  EXPECT_EQ(decode(0b11), ResumeAction::kRetry);
  EXPECT_EQ(MakeResume(StreamId(2), 7, ResumeAction::kAbort).dw[0] >> 12 & 3, 0b10u);
}

TEST(SmmuEncoding, EventsRoundTripWithTheirLayouts) {
  const Event events[] = {
      {.type = EventType::kFTranslation,
       .sid = StreamId(9),
       .ssv = true,
       .ssid = 0x42,
       .stall = true,
       .stag = 0x1234,
       .pnu = true,
       .rnw = true,
       .cls = EventClass::kIn,
       .input_addr = VirtAddr(0x7fff12345678)},
      {.type = EventType::kFSteFetch, .sid = StreamId(3), .fetch_addr = PhysAddr(0x123440)},
      {.type = EventType::kCBadSubstreamid, .sid = StreamId(3), .ssv = true, .ssid = 99},
      {.type = EventType::kCBadCd, .sid = StreamId(3), .ssv = true, .ssid = 7},
      {.type = EventType::kFWalkEabt,
       .sid = StreamId(1),
       .rnw = true,
       .cls = EventClass::kTtd,
       .input_addr = VirtAddr(0x1000),
       .fetch_addr = PhysAddr(0x5008)},
      {.type = EventType::kCBadStreamid, .sid = StreamId(0xffff)},
      {.type = EventType::kCBadStreamid, .sid = StreamId(0x1234), .ssv = true, .ssid = 5},
      {.type = EventType::kCBadSte, .sid = StreamId(4), .ssv = true, .ssid = 0xfffff},
      {.type = EventType::kFTranslForbidden,
       .sid = StreamId(6),
       .rnw = true,
       .input_addr = VirtAddr(0x89abc000)},
      {.type = EventType::kFStreamDisabled, .sid = StreamId(2)},
  };
  for (const Event& e : events) {
    const EventRecord back{RoundTrip<4>(EncodeEvent(e))};
    EXPECT_EQ(DecodeEvent(back), e) << EventTypeName(e.type);
  }
  const EventRecord r = EncodeEvent(events[0]);
  // 7.3.13: type [7:0], SSV 11, SSID [31:12], SID [63:32]; STAG [15:0] and
  // Stall 31 of dword 1; the input address in dword 2.
  EXPECT_EQ(r.dw[0], 0x10ull | (1ull << 11) | (0x42ull << 12) | (9ull << 32));
  EXPECT_EQ(r.dw[1] & 0xffff, 0x1234u);
  EXPECT_TRUE((r.dw[1] >> 31) & 1);
  EXPECT_EQ(r.dw[2], 0x7fff12345678ull);
}

TEST(SmmuEncoding, ConfigurationEventsCarryTheirSpecFields) {
  // 7.3.2/7.3.4: C_BAD_STREAMID and C_BAD_STE carry SSV (bit 11) and the
  // SubstreamID [31:12] and nothing after the StreamID.
  for (EventType t : {EventType::kCBadStreamid, EventType::kCBadSte}) {
    const EventRecord r = EncodeEvent(Event{.type = t,
                                            .sid = StreamId(7),
                                            .ssv = true,
                                            .ssid = 0x321,
                                            .rnw = true,
                                            .input_addr = VirtAddr(0x5000)});
    EXPECT_EQ(r.dw[0], static_cast<uint64_t>(t) | (1ull << 11) | (0x321ull << 12) | (7ull << 32))
        << EventTypeName(t);
    EXPECT_EQ(r.dw[1] | r.dw[2] | r.dw[3], 0u) << EventTypeName(t);
  }
  // 7.3.8: F_TRANSL_FORBIDDEN has no SubstreamID; RnW is bit 99 (dword 1
  // bit 35) and the address is dword 2.
  const EventRecord f = EncodeEvent(Event{.type = EventType::kFTranslForbidden,
                                          .sid = StreamId(7),
                                          .ssv = true,
                                          .ssid = 0x321,
                                          .rnw = true,
                                          .input_addr = VirtAddr(0x5000)});
  EXPECT_EQ(f.dw[0], 0x07ull | (7ull << 32));
  EXPECT_EQ(f.dw[1], 1ull << 35);
  EXPECT_EQ(f.dw[2], 0x5000u);
}

TEST(SmmuEncoding, PriEntriesRoundTrip) {
  const PriEntry e{.sid = StreamId(0x55), .ssv = true, .ssid = 0xfffff, .priv = false,
                   .exec = false, .read = true, .write = true, .last = true,
                   .prgi = 0x1ff, .addr = VirtAddr(0x7f0000001000)};
  const PriRecord back{RoundTrip<2>(EncodePri(e))};
  EXPECT_EQ(DecodePri(back), e);
}

TEST(SmmuRegisters, TableFindsEveryRegisterAndNothingElse) {
  for (size_t i = 0; i < kRegisterTable.size(); ++i) {
    EXPECT_EQ(RegisterIndex(kRegisterTable[i].offset), static_cast<int>(i))
        << kRegisterTable[i].name;
  }
  EXPECT_EQ(RegisterIndex(0x30), -1);       // reserved
  EXPECT_EQ(RegisterIndex(kEvtqProd), 34);  // Page 1
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
