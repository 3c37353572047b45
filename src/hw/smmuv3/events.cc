#include "svaemu/hw/smmuv3/events.h"

namespace svaemu::hw::smmuv3 {

const char* EventTypeName(EventType t) {
  switch (t) {
    case EventType::kFUut: return "F_UUT";
    case EventType::kCBadStreamid: return "C_BAD_STREAMID";
    case EventType::kFSteFetch: return "F_STE_FETCH";
    case EventType::kCBadSte: return "C_BAD_STE";
    case EventType::kFBadAtsTreq: return "F_BAD_ATS_TREQ";
    case EventType::kFStreamDisabled: return "F_STREAM_DISABLED";
    case EventType::kFTranslForbidden: return "F_TRANSL_FORBIDDEN";
    case EventType::kCBadSubstreamid: return "C_BAD_SUBSTREAMID";
    case EventType::kFCdFetch: return "F_CD_FETCH";
    case EventType::kCBadCd: return "C_BAD_CD";
    case EventType::kFWalkEabt: return "F_WALK_EABT";
    case EventType::kFTranslation: return "F_TRANSLATION";
    case EventType::kFAddrSize: return "F_ADDR_SIZE";
    case EventType::kFAccess: return "F_ACCESS";
    case EventType::kFPermission: return "F_PERMISSION";
    case EventType::kFTlbConflict: return "F_TLB_CONFLICT";
    case EventType::kFCfgConflict: return "F_CFG_CONFLICT";
    case EventType::kEPageRequest: return "E_PAGE_REQUEST";
  }
  return "EVENT_UNKNOWN";
}

namespace {
bool HasSubstream(EventType t) {
  // 7.3: events that carry SSV/SubstreamID (F_TRANSL_FORBIDDEN does not,
  // 7.3.8).
  switch (t) {
    case EventType::kCBadStreamid:
    case EventType::kCBadSte:
    case EventType::kCBadSubstreamid:
    case EventType::kFCdFetch:
    case EventType::kCBadCd:
    case EventType::kFWalkEabt:
    case EventType::kFTranslation:
    case EventType::kFAddrSize:
    case EventType::kFAccess:
    case EventType::kFPermission:
    case EventType::kFBadAtsTreq:
      return true;
    default:
      return false;
  }
}
bool HasFetchAddr(EventType t) {
  return t == EventType::kFSteFetch || t == EventType::kFCdFetch ||
         t == EventType::kFWalkEabt;
}
bool HasAccessInfo(EventType t) {
  return IsTranslationRelated(t) || t == EventType::kFWalkEabt;
}
}  // namespace

EventRecord EncodeEvent(const Event& e) {
  EventRecord r;
  r.Set(EventRecord::kType, static_cast<uint64_t>(e.type));
  r.Set(EventRecord::kSid, e.sid.value());
  if (HasSubstream(e.type)) {
    // 7.3.9: C_BAD_SUBSTREAMID has no SSV (the SubstreamID is always valid).
    if (e.type != EventType::kCBadSubstreamid) r.Set(EventRecord::kSsv, e.ssv);
    r.Set(EventRecord::kSsid, e.ssid);
  }
  if (HasAccessInfo(e.type)) {
    r.Set(EventRecord::kStag, e.stag);
    r.Set(EventRecord::kStall, e.stall);
    r.Set(EventRecord::kPnU, e.pnu);
    r.Set(EventRecord::kInD, e.ind);
    r.Set(EventRecord::kRnW, e.rnw);
    r.Set(EventRecord::kClass, static_cast<uint64_t>(e.cls));
  }
  if (HasAccessInfo(e.type) || e.type == EventType::kFTranslForbidden ||
      e.type == EventType::kFBadAtsTreq) {
    r.Set(EventRecord::kInputAddr, e.input_addr.value());
  }
  // 7.3.8: F_TRANSL_FORBIDDEN carries RnW (bit 99) beside the address.
  if (e.type == EventType::kFTranslForbidden) r.Set(EventRecord::kRnW, e.rnw);
  if (HasFetchAddr(e.type)) {
    r.Set(EventRecord::kFetchAddr, e.fetch_addr.value() >> 3);
  }
  return r;
}

Event DecodeEvent(const EventRecord& r) {
  Event e;
  e.type = static_cast<EventType>(r.Get(EventRecord::kType));
  e.sid = StreamId(static_cast<uint32_t>(r.Get(EventRecord::kSid)));
  if (HasSubstream(e.type)) {
    e.ssv = e.type == EventType::kCBadSubstreamid || r.Flag(EventRecord::kSsv);
    e.ssid = static_cast<uint32_t>(r.Get(EventRecord::kSsid));
  }
  if (HasAccessInfo(e.type)) {
    e.stag = static_cast<uint16_t>(r.Get(EventRecord::kStag));
    e.stall = r.Flag(EventRecord::kStall);
    e.pnu = r.Flag(EventRecord::kPnU);
    e.ind = r.Flag(EventRecord::kInD);
    e.rnw = r.Flag(EventRecord::kRnW);
    e.cls = static_cast<EventClass>(r.Get(EventRecord::kClass));
  }
  if (HasAccessInfo(e.type) || e.type == EventType::kFTranslForbidden ||
      e.type == EventType::kFBadAtsTreq) {
    e.input_addr = VirtAddr(r.Get(EventRecord::kInputAddr));
  }
  if (e.type == EventType::kFTranslForbidden) e.rnw = r.Flag(EventRecord::kRnW);
  if (HasFetchAddr(e.type)) {
    e.fetch_addr = PhysAddr(r.Get(EventRecord::kFetchAddr) << 3);
  }
  return e;
}

// 8: PRI queue entry.
PriRecord EncodePri(const PriEntry& e) {
  PriRecord r;
  r.Set(PriRecord::kSid, e.sid.value());
  r.Set(PriRecord::kSsid, e.ssid);
  r.Set(PriRecord::kSsv, e.ssv);
  r.Set(PriRecord::kPriv, e.priv);
  r.Set(PriRecord::kExec, e.exec);
  r.Set(PriRecord::kRead, e.read);
  r.Set(PriRecord::kWrite, e.write);
  r.Set(PriRecord::kLast, e.last);
  r.Set(PriRecord::kPrgIndex, e.prgi);
  r.Set(PriRecord::kAddr, e.addr.value() >> 12);
  return r;
}

PriEntry DecodePri(const PriRecord& r) {
  PriEntry e;
  e.sid = StreamId(static_cast<uint32_t>(r.Get(PriRecord::kSid)));
  e.ssid = static_cast<uint32_t>(r.Get(PriRecord::kSsid));
  e.ssv = r.Flag(PriRecord::kSsv);
  e.priv = r.Flag(PriRecord::kPriv);
  e.exec = r.Flag(PriRecord::kExec);
  e.read = r.Flag(PriRecord::kRead);
  e.write = r.Flag(PriRecord::kWrite);
  e.last = r.Flag(PriRecord::kLast);
  e.prgi = static_cast<uint16_t>(r.Get(PriRecord::kPrgIndex));
  e.addr = VirtAddr(r.Get(PriRecord::kAddr) << 12);
  return e;
}

}  // namespace svaemu::hw::smmuv3
