#include "svaemu/arch/walk.h"

namespace svaemu::arch {

const char* FaultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kNone: return "none";
    case FaultKind::kNonCanonical: return "non_canonical";
    case FaultKind::kNotPresent: return "not_present";
    case FaultKind::kReservedBit: return "reserved_bit";
    case FaultKind::kAccessFlag: return "access_flag";
    case FaultKind::kAddressSize: return "address_size";
    case FaultKind::kPermission: return "permission";
    case FaultKind::kBusError: return "bus_error";
    case FaultKind::kUpdateFailed:
      return "update_failed";
    case FaultKind::kRootDisabled: return "root_disabled";
  }
  return "?";
}

const char* PermFaultName(PermFault p) {
  switch (p) {
    case PermFault::kNone: return "none";
    case PermFault::kWrite: return "write";
    case PermFault::kUser: return "user";
    case PermFault::kExec: return "exec";
    case PermFault::kPan:
      return "pan";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, FaultKind k) {
  return os << FaultKindName(k);
}

std::ostream& operator<<(std::ostream& os, PermFault p) {
  return os << PermFaultName(p);
}

}  // namespace svaemu::arch
