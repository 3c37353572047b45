// SMMUv3 event records (IHI 0070 chapter 7, 32 bytes each) and PRI queue
// entries (chapter 8, 16 bytes each).
//
// Thread-safety: value types.
#ifndef SVAEMU_HW_SMMUV3_EVENTS_H_
#define SVAEMU_HW_SMMUV3_EVENTS_H_

#include <cstdint>

#include "svaemu/base/strong_types.h"
#include "svaemu/hw/smmuv3/fields.h"

namespace svaemu::hw::smmuv3 {

// 7.3 event numbers.
enum class EventType : uint8_t {
  kFUut = 0x01,
  kCBadStreamid = 0x02,
  kFSteFetch = 0x03,
  kCBadSte = 0x04,
  kFBadAtsTreq = 0x05,
  kFStreamDisabled = 0x06,
  kFTranslForbidden = 0x07,
  kCBadSubstreamid = 0x08,
  kFCdFetch = 0x09,
  kCBadCd = 0x0a,
  kFWalkEabt = 0x0b,
  kFTranslation = 0x10,
  kFAddrSize = 0x11,
  kFAccess = 0x12,
  kFPermission = 0x13,
  kFTlbConflict = 0x20,
  kFCfgConflict = 0x21,
  kEPageRequest = 0x24,
};
const char* EventTypeName(EventType t);

// True for the translation-related faults (7.3.13-7.3.16: F_TRANSLATION,
// F_ADDR_SIZE, F_ACCESS, F_PERMISSION), the only ones that can stall
// (3.12.2) and that CD.R can suppress.
constexpr bool IsTranslationRelated(EventType t) {
  return t == EventType::kFTranslation || t == EventType::kFAddrSize ||
         t == EventType::kFAccess || t == EventType::kFPermission;
}

// EVENT.CLASS (7.3.13): what the failing access was.
enum class EventClass : uint8_t { kCd = 0b00, kTtd = 0b01, kIn = 0b10 };

// 7.3: the raw record and its fields (the union of the modelled events).
struct EventRecord : Words<4> {
  static constexpr Field kType{0, 7, 0};
  static constexpr Field kSsv{0, 11, 11};
  static constexpr Field kSsid{0, 31, 12};
  static constexpr Field kSid{0, 63, 32};
  static constexpr Field kStag{1, 15, 0};
  static constexpr Field kStall{1, 31, 31};
  static constexpr Field kPnU{1, 33, 33};
  static constexpr Field kInD{1, 34, 34};
  static constexpr Field kRnW{1, 35, 35};
  static constexpr Field kS2{1, 39, 39};
  static constexpr Field kClass{1, 41, 40};
  static constexpr Field kTtRead{1, 44, 44};  // F_WALK_EABT / F_TLB_CONFLICT
  static constexpr Field kInputAddr{2, 63, 0};
  static constexpr Field kFetchAddr{3, 51, 3};  // F_STE_FETCH etc. use dw2
  static constexpr Field kIpa{3, 51, 12};
};

// The decoded view the model builds and the driver reads.
struct Event {
  EventType type{};
  StreamId sid;
  bool ssv = false;
  uint32_t ssid = 0;
  bool stall = false;
  uint16_t stag = 0;
  bool pnu = false;   // privileged (1) / unprivileged (0)
  bool ind = false;   // instruction (1) / data (0)
  bool rnw = false;   // read (1) / write (0)
  EventClass cls = EventClass::kIn;
  VirtAddr input_addr;
  PhysAddr fetch_addr;  // F_STE_FETCH, F_CD_FETCH, F_WALK_EABT
  friend bool operator==(const Event&, const Event&) = default;
};

// 7.3.x layouts: F_STE_FETCH / F_CD_FETCH carry FetchAddr in dword 3 bits
// [51:3] (F_CD_FETCH also SSV/SSID); F_WALK_EABT carries the input address
// in dword 2 and FetchAddr in dword 3; the translation-related faults carry
// STAG/Stall/PnU/InD/RnW/CLASS in dword 1 and the input address in dword 2.
EventRecord EncodeEvent(const Event& e);
Event DecodeEvent(const EventRecord& r);

// 8 PRI queue entry.
struct PriRecord : Words<2> {
  static constexpr Field kSid{0, 31, 0};
  static constexpr Field kSsid{0, 51, 32};
  static constexpr Field kPriv{0, 58, 58};
  static constexpr Field kExec{0, 59, 59};
  static constexpr Field kRead{0, 60, 60};
  static constexpr Field kWrite{0, 61, 61};
  static constexpr Field kLast{0, 62, 62};
  static constexpr Field kSsv{0, 63, 63};
  static constexpr Field kPrgIndex{1, 8, 0};
  static constexpr Field kAddr{1, 63, 12};
};

struct PriEntry {
  StreamId sid;
  bool ssv = false;
  uint32_t ssid = 0;
  bool priv = false, exec = false, read = false, write = false, last = false;
  uint16_t prgi = 0;
  VirtAddr addr;
  friend bool operator==(const PriEntry&, const PriEntry&) = default;
};
PriRecord EncodePri(const PriEntry& e);
PriEntry DecodePri(const PriRecord& r);

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_HW_SMMUV3_EVENTS_H_
