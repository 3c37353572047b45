// Who touches emulated memory, and why.
//
// Every access to PhysMem names an Agent (CPU, IOMMU unit n, device n, the
// kernel model acting as CPU) and a Purpose. The checker uses both: a
// page-table walk is checked against the frame shadow, an A/D update must land
// in a page table, DMA data is checked against the device's address space.
#ifndef SVAEMU_BASE_AGENT_H_
#define SVAEMU_BASE_AGENT_H_

#include <cstdint>
#include <string>

namespace svaemu {

enum class AgentKind : uint8_t {
  kCpu,     // a CPU core (index = core number)
  kIommu,   // an IOMMU unit (index = unit number)
  kDevice,  // a DMA-issuing endpoint (index = device number)
};

struct Agent {
  AgentKind kind = AgentKind::kCpu;
  uint16_t index = 0;

  static constexpr Agent Cpu(uint16_t n = 0) { return {AgentKind::kCpu, n}; }
  static constexpr Agent Iommu(uint16_t n) { return {AgentKind::kIommu, n}; }
  static constexpr Agent Device(uint16_t n) { return {AgentKind::kDevice, n}; }
  friend constexpr bool operator==(Agent, Agent) = default;
};

// "cpu0", "iommu1", "dev3".
std::string AgentName(Agent a);

enum class Purpose : uint8_t {
  kData,          // CPU load/store of ordinary data
  kPageTableWalk,  // hardware walk read of a paging entry (level in Access)
  kAdUpdate,       // hardware write of Accessed/Dirty (or AF/DBM) bits
  kPageTableUpdate,  // software (kernel model) write of a paging entry
  kTableFetch,     // IOMMU configuration structure read (root/context/PASID
                   // table, STE, CD)
  kQueueRead,      // command/invalidation queue read by hardware
  kQueueWrite,     // event/fault/page-request queue write by hardware
  kDmaRead,        // device DMA read of data
  kDmaWrite,       // device DMA write of data
  kKernelObject,   // kernel model access to a tracked object's backing frame
};

const char* PurposeName(Purpose p);

}  // namespace svaemu

#endif  // SVAEMU_BASE_AGENT_H_
