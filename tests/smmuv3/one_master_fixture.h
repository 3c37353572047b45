// A test fixture for SMMUv3 entry and configuration tests: one machine
// (smmu_testutil.h) with one master at kSid whose SVA CD at kSsid maps a
// populated page of an mm; helpers rewrite one field of its STE or CD (with
// the CFGI that makes the model see it), one bit of a descriptor on the
// walk of that page, and issue one DMA and return the event it recorded.
#ifndef SVAEMU_TESTS_SMMUV3_ONE_MASTER_FIXTURE_H_
#define SVAEMU_TESTS_SMMUV3_ONE_MASTER_FIXTURE_H_

#include <memory>
#include <optional>

#include "gtest/gtest.h"
#include "smmuv3/smmu_testutil.h"

namespace svaemu::hw::smmuv3 {

inline constexpr uint32_t kSid = 0x10;
inline constexpr uint32_t kSsid = 1;

class SmmuOneMasterTest : public ::testing::Test {
 protected:
  // A machine with `cfg`, one master at kSid with an SVA CD at kSsid.
  void Build(SmmuV3Config cfg = {}, bool stall = false) {
    m_ = std::make_unique<SmmuMachine>(cfg);
    mm_ = &m_->NewMm();
    va_ = m_->Populated(*mm_);
    ASSERT_TRUE(
        m_->driver->AttachMaster({.sid = StreamId(kSid), .ssid_bits = 8, .stall = stall}).ok());
    ASSERT_TRUE(m_->driver->WriteSvaCd(StreamId(kSid), kSsid, mm_->pgd(), Asid(9)).ok());
  }
  // Rewrites dword `i` of the master's STE and invalidates it.
  void SetSte(const Field& f, uint64_t v) {
    Ste ste = *m_->driver->ReadSte(StreamId(kSid));
    ste.Set(f, v);
    const PhysAddr pa = *m_->driver->SteAddress(StreamId(kSid));
    for (int i = 0; i < 8; ++i) m_->mem.Write64(pa + 8ull * i, ste.dw[i], mem::Access::Cpu());
    ASSERT_TRUE(m_->driver->Submit({MakeCfgiSte(StreamId(kSid), true)}).ok());
  }
  void SetCd(const Field& f, uint64_t v) {
    Cd cd = *m_->driver->ReadCd(StreamId(kSid), kSsid);
    cd.Set(f, v);
    const PhysAddr pa = *m_->driver->CdAddressOf(StreamId(kSid), kSsid);
    for (int i = 0; i < 8; ++i) m_->mem.Write64(pa + 8ull * i, cd.dw[i], mem::Access::Cpu());
    ASSERT_TRUE(m_->driver->Submit({MakeCfgiCd(StreamId(kSid), kSsid, true)}).ok());
  }
  // One DMA; the event it recorded (nullopt: none) and its status.
  std::optional<EventType> EventOf(std::optional<uint32_t> ssid, TransStatus* status = nullptr,
                                   uint32_t sid = kSid) {
    const size_t before = m_->driver->events_seen().size();
    const TransResult r = m_->Dma(sid, ssid, va_);
    if (status != nullptr) *status = r.status;
    m_->Run();
    const auto& seen = m_->driver->events_seen();
    EXPECT_LE(seen.size(), before + 1);
    if (seen.size() == before) return std::nullopt;
    return seen.back().type;
  }
  // The address of the descriptor at arm level `arm_level` (0 = L0) on
  // the walk of va_ from the mm's pgd.
  PhysAddr DescriptorOf(int arm_level) {
    PhysAddr table = mm_->pgd();
    for (int l = 0;; ++l) {
      const PhysAddr pa = table + 8 * ((va_.value() >> (39 - 9 * l)) & 511);
      if (l == arm_level) return pa;
      uint64_t e = 0;
      m_->mem.Read64(pa, mem::Access::Cpu(), &e);
      table = PhysAddr(e & BitMask(47, 12));
    }
  }
  void SetDescriptorBit(int arm_level, unsigned bit, bool on) {
    const PhysAddr pa = DescriptorOf(arm_level);
    uint64_t e = 0;
    m_->mem.Read64(pa, mem::Access::Cpu(), &e);
    m_->mem.Write64(pa, SetBit(e, bit, on), mem::Access::Cpu());
    ASSERT_TRUE(m_->driver->Submit({MakeTlbiNhAll()}).ok());
  }
  // The events the driver has seen, and the last of them.
  size_t Events() { return m_->driver->events_seen().size(); }
  Event LastEvent() {
    const auto& seen = m_->driver->events_seen();
    EXPECT_FALSE(seen.empty());
    return seen.empty() ? Event{} : seen.back();
  }
  bool Translates(std::optional<uint32_t> ssid = kSsid) {
    TransStatus s{};
    const std::optional<EventType> e = EventOf(ssid, &s);
    return s == TransStatus::kTranslated && !e.has_value();
  }

  std::unique_ptr<SmmuMachine> m_;
  kernel::Mm* mm_ = nullptr;
  VirtAddr va_;
};

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_TESTS_SMMUV3_ONE_MASTER_FIXTURE_H_
