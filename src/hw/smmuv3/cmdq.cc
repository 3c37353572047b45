// SmmuV3 command queue (IHI 0070 chapter 4, 3.5): one command per
// simulation event, in order; CMD_SYNC completes after every earlier
// command and after the invalidation wait; errors stop the queue with
// CMDQ_CONS.ERR and GERROR.CMDQ_ERR until software acknowledges.
#include <utility>

#include "absl/strings/str_cat.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::smmuv3 {

void SmmuV3::KickCmdq() { ScheduleCmdq(sim_.cost().command); }

void SmmuV3::ScheduleCmdq(sim::Cycles delay) {
  if (cmdq_event_ != sim::kNoEvent || cmdq_error_ || !Cr0(cr0::kCmdqen)) return;
  const QueueView q = View(kCmdqBase, config_.cmdq_log2_max, 16);
  const uint32_t prod = static_cast<uint32_t>(Reg(kCmdqProd)) & q.ptr_mask();
  const uint32_t cons = static_cast<uint32_t>(Reg(kCmdqCons)) & q.ptr_mask();
  if (q.Empty(prod, cons)) return;
  cmdq_event_ = sim_.events().Schedule(delay, "smmuv3.cmdq", [this] {
    cmdq_event_ = sim::kNoEvent;
    ProcessCommand();
  });
}

void SmmuV3::AdvanceCmdqCons() {
  const QueueView q = View(kCmdqBase, config_.cmdq_log2_max, 16);
  uint64_t& cons = Reg(kCmdqCons);
  const uint32_t c = static_cast<uint32_t>(cons) & q.ptr_mask();
  // 6.3.28: ERR keeps its last value; the RD pointer moves on.
  cons = (cons & ~uint64_t{q.ptr_mask()}) | q.Next(c);
}

void SmmuV3::ProcessCommand() {
  if (cmdq_error_ || !Cr0(cr0::kCmdqen)) return;
  const QueueView q = View(kCmdqBase, config_.cmdq_log2_max, 16);
  const uint32_t prod = static_cast<uint32_t>(Reg(kCmdqProd)) & q.ptr_mask();
  const uint32_t cons = static_cast<uint32_t>(Reg(kCmdqCons)) & q.ptr_mask();
  if (q.Empty(prod, cons)) return;
  mem::Access a;
  a.agent = agent_;
  a.purpose = Purpose::kQueueRead;
  Command cmd;
  const PhysAddr slot = q.base + 16ull * q.index(cons);
  if (!mem_.Read64(slot, a, &cmd.dw[0]) || !mem_.Read64(slot + 8, a, &cmd.dw[1])) {
    CommandError(CmdError::kAbt);  // 4.7: CERROR_ABT
    return;
  }
  commands_->Inc();
  const DecodedCommand d =
      DecodeCommand(cmd, {.ril = true,
                          .stall = config_.stall_model != StallModel::kTerminateOnly,
                          .ats = config_.ats,
                          .pri = config_.pri});
  sim_.Trace(name_, OpcodeName(d.op));
  if (d.error != CmdError::kNone) {
    CommandError(d.error);
    return;
  }
  if (d.op == Opcode::kSync) {
    // 4.7.3: an ATC invalidation that timed out fails the next CMD_SYNC.
    if (atc_timeout_) {
      atc_timeout_ = false;
      CommandError(CmdError::kAtcInvSync);
      return;
    }
    // The SYNC completes after the invalidation wait, then the queue moves
    // on: SYNCs complete in queue order.
    const sim::Cycles wait = sim_.cost().invalidation_wait;
    cmd_cycles_->Inc(wait);
    cmdq_event_ = sim_.events().Schedule(wait, "smmuv3.sync", [this, d] {
      cmdq_event_ = sim::kNoEvent;
      CompleteSync(d);
      AdvanceCmdqCons();
      KickCmdq();
    });
    return;
  }
  const sim::Cycles extra = Execute(d);
  AdvanceCmdqCons();
  cmd_cycles_->Inc(sim_.cost().command + extra);
  ScheduleCmdq(sim_.cost().command + extra);
}

void SmmuV3::CompleteSync(const DecodedCommand& d) {
  switch (d.cs) {
    case SyncCs::kNone:
      break;  // software polls CMDQ_CONS
    case SyncCs::kIrq:
      // 4.7.3: with IDR0.MSI and a non-zero MSIAddress, an MSI write of
      // MSIData; and, the model having wired interrupts, an edge on the
      // CMD_SYNC output "regardless of the value of MSIAddress".
      if (config_.msi && d.msi_addr.value() != 0) {
        mem::Access a;
        a.agent = agent_;
        a.purpose = Purpose::kQueueWrite;
        if (!mem_.Write32(d.msi_addr, d.msi_data, a)) {
          RaiseGerror(1u << gerror::kMsiCmdqAbtErr.lo);
        }
      }
      SignalIrq(Irq::kCmdSync);
      break;
    case SyncCs::kSev:
      sev_->Inc();  // a send-event to the PEs
      break;
  }
}

void SmmuV3::CommandError(CmdError err) {
  // 4.7 / 6.3.28: CONS stays on the failing command, ERR records why.
  Reg(kCmdqCons) = queue_idx::kCmdqConsErr.Set(Reg(kCmdqCons),
                                                static_cast<uint64_t>(err));
  cmdq_error_ = true;
  sim_.Trace(name_, "cmdq_error");
  RaiseGerror(1u << gerror::kCmdqErr.lo);
}

uint64_t SmmuV3::InvalidateVa(const DecodedCommand& d, bool any_asid) {
  // 4.4.2: TBI may be applied to the address: VA[63:56] are taken as
  // copies of VA[55] (the TLB holds addresses that way).
  const uint64_t first = arch::Arm64EffectiveVa(true, true, d.addr.value()) & ~0xfffull;
  // A single-address TLBI covers the whole leaf containing it.
  const uint64_t last = d.span == 0 ? first : first + d.span - 1;
  const uint16_t asid = d.asid.value();
  // 4.4.1.1 TTL: when non-zero, only leaves of that level (0b01 L1, 0b10 L2,
  // 0b11 L3) are guaranteed invalidated; the model invalidates exactly
  // those, so a wrong hint is visible.
  const uint8_t ttl_level = d.ttl == 0 ? 0 : static_cast<uint8_t>(4 - d.ttl);
  const auto va_of = [](uint64_t tag, unsigned shift) {
    const uint64_t half = (tag >> 36) & 1;
    const uint64_t va = (tag & ((1ull << (48 - shift)) - 1)) << shift;
    return half ? (va | 0xffff000000000000ull) : va;
  };
  uint64_t n = tlb_.InvalidateIf([&](const TlbEntry& e) {
    if (!any_asid && e.asid != asid && !e.global) return false;
    if (ttl_level != 0 && e.leaf_level != ttl_level) return false;
    const uint64_t cov = 1ull << (12 + 9 * (e.leaf_level - 1));
    const uint64_t base = va_of(e.tag, 12) & ~(cov - 1);
    return base <= last && first <= base + cov - 1;
  });
  tlb_stats_.invalidations.Inc(n);
  if (!d.leaf) {
    // 4.4.1: without Leaf, walk-cache entries of the range go too.
    for (uint8_t level = 2; level <= 4; ++level) {
      const unsigned shift = WalkShift(level);
      const uint64_t m = walk_[level - 2].InvalidateIf([&](const WalkEntry& e) {
        if (!any_asid && e.asid != asid) return false;
        const uint64_t base = va_of(e.tag, shift);
        return base <= last && first <= base + (1ull << shift) - 1;
      });
      walk_stats_[level - 2].invalidations.Inc(m);
      n += m;
    }
  }
  return n;
}

sim::Cycles SmmuV3::Execute(const DecodedCommand& d) {
  const sim::Cycles per_entry = cache_lookup_cycles_;
  uint64_t n = 0;
  const uint32_t sid = d.sid.value();
  auto all_walks = [&](auto pred) {
    uint64_t m = 0;
    for (int i = 0; i < 3; ++i) {
      const uint64_t k = walk_[i].InvalidateIf(pred);
      walk_stats_[i].invalidations.Inc(k);
      m += k;
    }
    return m;
  };
  switch (d.op) {
    case Opcode::kPrefetchConfig:
    case Opcode::kPrefetchAddr:
      return 0;  // hints; not modelled
    case Opcode::kCfgiSte:
      // 4.3.1 (Leaf only limits L1STD invalidation; L1STDs are not cached).
      n = cfg_.InvalidateIf([&](const CfgEntry& e) { return e.sid == sid; });
      cfg_stats_.invalidations.Inc(n);
      break;
    case Opcode::kCfgiSteRange: {
      // 4.3.2: 2^(Range+1) StreamIDs from SID aligned down; Range 31: all.
      const uint64_t count = d.range >= 31 ? (1ull << 32) : (2ull << d.range);
      const uint64_t lo = uint64_t{sid} & ~(count - 1);
      n = cfg_.InvalidateIf([&](const CfgEntry& e) {
        return e.sid >= lo && e.sid - lo < count;
      });
      cfg_stats_.invalidations.Inc(n);
      break;
    }
    case Opcode::kCfgiCd:
      // 4.3.4: the CD of (SID, SSID); also the no-SSID traffic that uses it.
      n = cfg_.InvalidateIf([&](const CfgEntry& e) {
        return e.sid == sid && e.with_cd && e.cd_index == d.ssid;
      });
      cfg_stats_.invalidations.Inc(n);
      break;
    case Opcode::kCfgiCdAll:
      n = cfg_.InvalidateIf(
          [&](const CfgEntry& e) { return e.sid == sid && e.with_cd; });
      cfg_stats_.invalidations.Inc(n);
      break;
    case Opcode::kTlbiNhAll:
    case Opcode::kTlbiNsnhAll:
      // 4.4.1, 4.4.9: every stage-1 entry (there is no stage 2).
      n = tlb_.InvalidateIf([](const TlbEntry&) { return true; });
      tlb_stats_.invalidations.Inc(n);
      n += all_walks([](const WalkEntry&) { return true; });
      break;
    case Opcode::kTlbiNhAsid: {
      // 4.4.2: non-global entries of the ASID, and its walk-cache entries.
      const uint16_t asid = d.asid.value();
      n = tlb_.InvalidateIf(
          [&](const TlbEntry& e) { return e.asid == asid && !e.global; });
      tlb_stats_.invalidations.Inc(n);
      n += all_walks([&](const WalkEntry& e) { return e.asid == asid; });
      break;
    }
    case Opcode::kTlbiNhVa:
      n = InvalidateVa(d, /*any_asid=*/false);
      break;
    case Opcode::kTlbiNhVaa:
      n = InvalidateVa(d, /*any_asid=*/true);
      break;
    case Opcode::kAtcInv: {
      // 4.5.1: forward an ATS invalidation to the endpoint; a missing
      // completion fails the next CMD_SYNC. IGNORED while SMMUEN is 0.
      if (!enabled_) return config_.latency.atc_inv;
      auto it = endpoints_.find(sid);
      if (it != endpoints_.end()) {
        pci::AtcInvalidation inv;
        inv.rid = d.sid;
        inv.has_pasid = d.ssv;
        inv.pasid = Pasid(d.ssid);
        inv.size = d.size >= 52 ? 0 : (kPageSize4K << d.size);
        inv.addr = VirtAddr(d.addr.value() & ~(inv.size == 0 ? 0 : inv.size - 1));
        if (!it->second->ReceiveAtcInvalidation(inv)) atc_timeout_ = true;
      }
      return config_.latency.atc_inv;
    }
    case Opcode::kPriResp: {
      // 4.5.2: send the PRG response to the endpoint. IGNORED while SMMUEN
      // is 0.
      if (!enabled_) return 0;
      const auto key = std::make_tuple(sid, d.ssv ? d.ssid : ~0u, d.grpid);
      if (open_prgs_.erase(key) == 0) {
        Report(check::ViolationKind::kFaultAnsweredTwice,
               absl::StrCat(name_, ": CMD_PRI_RESP for SID ", sid, " PRGI ",
                            d.grpid, " with no outstanding page request group"));
      }
      auto it = endpoints_.find(sid);
      if (it != endpoints_.end()) {
        pci::PageResponse resp;
        resp.rid = d.sid;
        resp.has_pasid = d.ssv;
        resp.pasid = Pasid(d.ssid);
        resp.prgi = d.grpid;
        resp.code = d.pri_resp == PriResp::kSuccess ? pci::PageResponse::Code::kSuccess
                    : d.pri_resp == PriResp::kInvalidRequest
                        ? pci::PageResponse::Code::kInvalidRequest
                        : pci::PageResponse::Code::kResponseFailure;
        it->second->ReceivePageResponse(resp);
      }
      return 0;
    }
    case Opcode::kResume:
      Resume(d.sid, d.stag, d.action);
      return config_.latency.resume;
    case Opcode::kStallTerm: {
      // 4.7.1: terminate every stalled transaction of the StreamID.
      const uint64_t lo = uint64_t{sid} << 16;
      std::vector<uint64_t> keys;
      for (auto it = stalls_.lower_bound(lo);
           it != stalls_.end() && it->first < lo + 0x10000; ++it) {
        keys.push_back(it->first);
      }
      for (uint64_t k : keys) {
        Resume(d.sid, static_cast<uint16_t>(k & 0xffff), ResumeAction::kAbort);
      }
      return 0;
    }
    default:
      return 0;
  }
  return per_entry * n;
}

}  // namespace svaemu::hw::smmuv3
