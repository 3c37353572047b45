#include "svaemu/hw/smmuv3/commands.h"

namespace svaemu::hw::smmuv3 {

const char* OpcodeName(Opcode op) {
  switch (op) {
    case Opcode::kPrefetchConfig: return "CMD_PREFETCH_CONFIG";
    case Opcode::kPrefetchAddr: return "CMD_PREFETCH_ADDR";
    case Opcode::kCfgiSte: return "CMD_CFGI_STE";
    case Opcode::kCfgiSteRange: return "CMD_CFGI_STE_RANGE";
    case Opcode::kCfgiCd: return "CMD_CFGI_CD";
    case Opcode::kCfgiCdAll: return "CMD_CFGI_CD_ALL";
    case Opcode::kTlbiNhAll: return "CMD_TLBI_NH_ALL";
    case Opcode::kTlbiNhAsid: return "CMD_TLBI_NH_ASID";
    case Opcode::kTlbiNhVa: return "CMD_TLBI_NH_VA";
    case Opcode::kTlbiNhVaa: return "CMD_TLBI_NH_VAA";
    case Opcode::kTlbiEl3All: return "CMD_TLBI_EL3_ALL";
    case Opcode::kTlbiEl3Va: return "CMD_TLBI_EL3_VA";
    case Opcode::kTlbiEl2All: return "CMD_TLBI_EL2_ALL";
    case Opcode::kTlbiEl2Asid: return "CMD_TLBI_EL2_ASID";
    case Opcode::kTlbiEl2Va: return "CMD_TLBI_EL2_VA";
    case Opcode::kTlbiEl2Vaa: return "CMD_TLBI_EL2_VAA";
    case Opcode::kTlbiS12Vmall: return "CMD_TLBI_S12_VMALL";
    case Opcode::kTlbiS2Ipa: return "CMD_TLBI_S2_IPA";
    case Opcode::kTlbiNsnhAll: return "CMD_TLBI_NSNH_ALL";
    case Opcode::kAtcInv: return "CMD_ATC_INV";
    case Opcode::kPriResp: return "CMD_PRI_RESP";
    case Opcode::kResume: return "CMD_RESUME";
    case Opcode::kStallTerm: return "CMD_STALL_TERM";
    case Opcode::kSync: return "CMD_SYNC";
  }
  return "CMD_UNKNOWN";
}

namespace {
Command Op(Opcode op) {
  Command c;
  c.Set(Command::kOpcode, static_cast<uint64_t>(op));
  return c;
}
}  // namespace

// 4.3.1 CMD_CFGI_STE.
Command MakeCfgiSte(StreamId sid, bool leaf) {
  Command c = Op(Opcode::kCfgiSte);
  c.Set(Command::kCfgiSid, sid.value());
  c.Set(Command::kCfgiLeaf, leaf);
  return c;
}
// 4.3.2 CMD_CFGI_STE_RANGE: 2^(Range+1) StreamIDs from SID aligned down.
Command MakeCfgiSteRange(StreamId sid, unsigned range) {
  Command c = Op(Opcode::kCfgiSteRange);
  c.Set(Command::kCfgiSid, sid.value());
  c.Set(Command::kCfgiRange, range);
  return c;
}
// 4.3.3 CMD_CFGI_ALL: CFGI_STE_RANGE with Range = 31.
Command MakeCfgiAll() { return MakeCfgiSteRange(StreamId(0), 31); }
// 4.3.4 CMD_CFGI_CD.
Command MakeCfgiCd(StreamId sid, uint32_t ssid, bool leaf) {
  Command c = Op(Opcode::kCfgiCd);
  c.Set(Command::kCfgiSid, sid.value());
  c.Set(Command::kCfgiSsid, ssid);
  c.Set(Command::kCfgiLeaf, leaf);
  return c;
}
// 4.3.5 CMD_CFGI_CD_ALL.
Command MakeCfgiCdAll(StreamId sid) {
  Command c = Op(Opcode::kCfgiCdAll);
  c.Set(Command::kCfgiSid, sid.value());
  return c;
}
// 4.4.1 CMD_TLBI_NH_ALL, 4.4.2 CMD_TLBI_NH_ASID.
Command MakeTlbiNhAll() { return Op(Opcode::kTlbiNhAll); }
Command MakeTlbiNhAsid(Asid asid) {
  Command c = Op(Opcode::kTlbiNhAsid);
  c.Set(Command::kTlbiAsid, asid.value());
  return c;
}
namespace {
void SetVa(Command* c, VirtAddr va, bool leaf, TlbiRange r) {
  c->Set(Command::kTlbiAddr, va.value() >> 12);
  c->Set(Command::kTlbiLeaf, leaf);
  c->Set(Command::kTlbiNum, r.num);
  c->Set(Command::kTlbiScale, r.scale);
  c->Set(Command::kTlbiTg, r.tg);
  c->Set(Command::kTlbiTtl, r.ttl);
}
}  // namespace
// 4.4.3 CMD_TLBI_NH_VA, 4.4.4 CMD_TLBI_NH_VAA.
Command MakeTlbiNhVa(Asid asid, VirtAddr va, bool leaf, TlbiRange r) {
  Command c = Op(Opcode::kTlbiNhVa);
  c.Set(Command::kTlbiAsid, asid.value());
  SetVa(&c, va, leaf, r);
  return c;
}
Command MakeTlbiNhVaa(VirtAddr va, bool leaf, TlbiRange r) {
  Command c = Op(Opcode::kTlbiNhVaa);
  SetVa(&c, va, leaf, r);
  return c;
}
// 4.4.9 CMD_TLBI_NSNH_ALL.
Command MakeTlbiNsnhAll() { return Op(Opcode::kTlbiNsnhAll); }
// 4.5.1 CMD_ATC_INV.
Command MakeAtcInv(StreamId sid, bool ssv, uint32_t ssid, VirtAddr addr,
                   uint8_t size, bool global) {
  Command c = Op(Opcode::kAtcInv);
  c.Set(Command::kSsv, ssv);
  c.Set(Command::kAtcSsid, ssid);
  c.Set(Command::kAtcSid, sid.value());
  c.Set(Command::kAtcGlobal, global);
  c.Set(Command::kAtcSize, size);
  c.Set(Command::kAtcAddr, addr.value() >> 12);
  return c;
}
// 4.6.1 CMD_PRI_RESP.
Command MakePriResp(StreamId sid, bool ssv, uint32_t ssid, uint16_t grpid,
                    PriResp resp) {
  Command c = Op(Opcode::kPriResp);
  c.Set(Command::kSsv, ssv);
  c.Set(Command::kPriSsid, ssid);
  c.Set(Command::kPriSid, sid.value());
  c.Set(Command::kPriGrpid, grpid);
  c.Set(Command::kPriResp, static_cast<uint64_t>(resp));
  return c;
}
// 4.7.2 CMD_RESUME.
Command MakeResume(StreamId sid, uint16_t stag, ResumeAction action) {
  Command c = Op(Opcode::kResume);
  c.Set(Command::kResumeAction, static_cast<uint64_t>(action));
  c.Set(Command::kResumeSid, sid.value());
  c.Set(Command::kResumeStag, stag);
  return c;
}
// 4.7.1 CMD_STALL_TERM.
Command MakeStallTerm(StreamId sid) {
  Command c = Op(Opcode::kStallTerm);
  c.Set(Command::kStallTermSid, sid.value());
  return c;
}
// 4.7.3 CMD_SYNC.
Command MakeSync(SyncCs cs, PhysAddr msi_addr, uint32_t msi_data) {
  Command c = Op(Opcode::kSync);
  c.Set(Command::kSyncCs, static_cast<uint64_t>(cs));
  c.Set(Command::kSyncMsiData, msi_data);
  c.Set(Command::kSyncMsiAddr, msi_addr.value() >> 2);
  return c;
}

DecodedCommand DecodeCommand(const Command& c, const CommandFeatures& f) {
  DecodedCommand d;
  d.op = c.opcode();
  auto ill = [&d] {
    d.error = CmdError::kIll;
    return d;
  };
  switch (d.op) {
    case Opcode::kPrefetchConfig:
    case Opcode::kPrefetchAddr:
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kCfgiSid)));
      return d;
    case Opcode::kCfgiSte:
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kCfgiSid)));
      d.leaf = c.Flag(Command::kCfgiLeaf);
      return d;
    case Opcode::kCfgiSteRange:
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kCfgiSid)));
      d.range = static_cast<uint8_t>(c.Get(Command::kCfgiRange));
      return d;
    case Opcode::kCfgiCd:
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kCfgiSid)));
      d.ssid = static_cast<uint32_t>(c.Get(Command::kCfgiSsid));
      d.leaf = c.Flag(Command::kCfgiLeaf);
      return d;
    case Opcode::kCfgiCdAll:
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kCfgiSid)));
      return d;
    case Opcode::kTlbiNhAll:
    case Opcode::kTlbiNsnhAll:
      return d;
    case Opcode::kTlbiNhAsid:
      d.asid = Asid(static_cast<uint16_t>(c.Get(Command::kTlbiAsid)));
      return d;
    case Opcode::kTlbiNhVa:
    case Opcode::kTlbiNhVaa: {
      if (d.op == Opcode::kTlbiNhVa)
        d.asid = Asid(static_cast<uint16_t>(c.Get(Command::kTlbiAsid)));
      d.leaf = c.Flag(Command::kTlbiLeaf);
      // 4.4.1.1: Address[63:12]; the VA is sign-extended from bit 48 by the
      // TTB selection, so the stored bits are used as they are.
      d.addr = VirtAddr(c.Get(Command::kTlbiAddr) << 12);
      const uint64_t tg = c.Get(Command::kTlbiTg);
      const uint64_t num = c.Get(Command::kTlbiNum);
      const uint64_t scale = c.Get(Command::kTlbiScale);
      d.ttl = static_cast<uint8_t>(c.Get(Command::kTlbiTtl));
      if (tg == 0) {
        // Not a range: NUM/SCALE must be 0 and TTL ignored (4.4.1.1).
        if (num != 0 || scale != 0) return ill();
        d.ttl = 0;
        return d;
      }
      // 4.4.1.1 range invalidation needs IDR3.RIL; TG 0b01 = 4 KiB is the
      // only granule (16/64 KiB are not in IDR5).
      if (!f.ril || tg != 0b01) return ill();
      d.span = (num + 1) << (12 + scale);
      return d;
    }
    case Opcode::kAtcInv:
      if (!f.ats) return ill();  // 4.5.1: ILLEGAL when IDR0.ATS == 0
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kAtcSid)));
      d.ssv = c.Flag(Command::kSsv);
      d.ssid = static_cast<uint32_t>(c.Get(Command::kAtcSsid));
      d.global = c.Flag(Command::kAtcGlobal);
      d.size = static_cast<uint8_t>(c.Get(Command::kAtcSize));
      d.addr = VirtAddr(c.Get(Command::kAtcAddr) << 12);
      return d;
    case Opcode::kPriResp:
      if (!f.pri) return ill();  // 4.5.2: ILLEGAL when IDR0.PRI == 0
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kPriSid)));
      d.ssv = c.Flag(Command::kSsv);
      d.ssid = static_cast<uint32_t>(c.Get(Command::kPriSsid));
      d.grpid = static_cast<uint16_t>(c.Get(Command::kPriGrpid));
      // 4.5.2: Resp 0b11 is Reserved, ILLEGAL.
      if (c.Get(Command::kPriResp) == 0b11) return ill();
      d.pri_resp = static_cast<PriResp>(c.Get(Command::kPriResp));
      return d;
    case Opcode::kResume: {
      // 4.7.1: ILLEGAL when IDR0.STALL_MODEL == 0b01.
      if (!f.stall) return ill();
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kResumeSid)));
      d.stag = static_cast<uint16_t>(c.Get(Command::kResumeStag));
      // Ac (bit 12) = 1 retries and Ab is IGNORED; else Ab picks abort or
      // a RAZ/WI completion.
      const uint64_t action = c.Get(Command::kResumeAction);
      d.action = (action & 1) != 0   ? ResumeAction::kRetry
                 : (action & 2) != 0 ? ResumeAction::kAbort
                                     : ResumeAction::kTerminate;
      return d;
    }
    case Opcode::kStallTerm:
      if (!f.stall) return ill();  // 4.7.2: as CMD_RESUME
      d.sid = StreamId(static_cast<uint32_t>(c.Get(Command::kStallTermSid)));
      return d;
    case Opcode::kSync:
      // 4.7.3: CS 0b11 is reserved.
      if (c.Get(Command::kSyncCs) == 0b11) return ill();
      d.cs = static_cast<SyncCs>(c.Get(Command::kSyncCs));
      d.msi_data = static_cast<uint32_t>(c.Get(Command::kSyncMsiData));
      d.msi_addr = PhysAddr(c.Get(Command::kSyncMsiAddr) << 2);
      return d;
    // EL2/EL3/stage-2 invalidations need features the ID registers do not
    // advertise (E2H, Secure, S2P): 4.1.2 makes them CERROR_ILL.
    case Opcode::kTlbiEl3All:
    case Opcode::kTlbiEl3Va:
    case Opcode::kTlbiEl2All:
    case Opcode::kTlbiEl2Asid:
    case Opcode::kTlbiEl2Va:
    case Opcode::kTlbiEl2Vaa:
    case Opcode::kTlbiS12Vmall:
    case Opcode::kTlbiS2Ipa:
      return ill();
  }
  return ill();  // 4.1.2: an unknown opcode is CERROR_ILL
}

}  // namespace svaemu::hw::smmuv3
