// MmioDevice: the register interface of a hardware model, the only way a
// driver configures it.
//
// A driver holds an MmioDevice& and reads and writes registers by offset,
// as Linux does with readl()/writeq() on an ioremapped BAR. Sizes are 4 or 8
// bytes. A guest access the model does not decode (an unknown offset, a
// reserved width) reads as zero and is ignored on write, as the
// specifications require of reserved register space — never a crash.
//
// Thread-safety: per model; the models of this project are thread-compatible.
#ifndef SVAEMU_HW_MMIO_H_
#define SVAEMU_HW_MMIO_H_

#include <cstdint>

namespace svaemu::hw {

class MmioDevice {
 public:
  virtual ~MmioDevice() = default;
  virtual uint64_t MmioRead(uint64_t offset, unsigned size) = 0;
  virtual void MmioWrite(uint64_t offset, uint64_t value, unsigned size) = 0;

  uint32_t Read32(uint64_t offset) { return static_cast<uint32_t>(MmioRead(offset, 4)); }
  uint64_t Read64(uint64_t offset) { return MmioRead(offset, 8); }
  void Write32(uint64_t offset, uint32_t v) { MmioWrite(offset, v, 4); }
  void Write64(uint64_t offset, uint64_t v) { MmioWrite(offset, v, 8); }
};

}  // namespace svaemu::hw

#endif  // SVAEMU_HW_MMIO_H_
