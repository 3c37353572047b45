// The driver's page request path: PRQ interrupt -> threaded handler -> the
// IO page-fault core (a double that resolves with Mm::HandleFault) -> page
// group response through the IQ -> the endpoint.
#include <vector>

#include "gtest/gtest.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::kPasid;
using testing::kSid;
using testing::VtdMachine;

class RecordingEndpoint : public pci::EndpointPort {
 public:
  StreamId rid() const override { return StreamId(kSid); }
  void ReceivePageResponse(const pci::PageResponse& r) override { responses.push_back(r); }
  bool ReceiveAtcInvalidation(const pci::AtcInvalidation&) override { return true; }
  std::vector<pci::PageResponse> responses;
};

// The IOPF core double: handle each fault on the mm, answer the group once.
class ResolvingSink : public kernel::IopfSink {
 public:
  ResolvingSink(kernel::Mm& mm, kernel::IopfResponder& resp) : mm_(mm), resp_(resp) {}
  void ReportFault(const kernel::FaultSource& src, const kernel::IopfFault& f) override {
    ++reported;
    const arch::AccessType acc{.write = (f.perm & kernel::kIopfPermWrite) != 0};
    const bool ok = mm_.HandleFault(f.addr, acc) == kernel::FaultResult::kHandled;
    if (f.flags & kernel::kIopfLastPage) {
      resp_.PageResponse(src, f, ok ? kernel::PageResponseCode::kSuccess
                                    : kernel::PageResponseCode::kInvalid);
    }
  }
  int reported = 0;

 private:
  kernel::Mm& mm_;
  kernel::IopfResponder& resp_;
};

TEST(VtdDriverPrq, PageRequestIsReportedResolvedAndAnsweredOnce) {
  VtdMachine m;
  RecordingEndpoint ep;
  ASSERT_TRUE(m.vtd->AttachEndpoint(&ep).ok());
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kernel::kProtRead | kernel::kProtWrite, /*populate=*/false);
  m.Bind(mm, {}, {.ats = true, .pri = true});
  ResolvingSink sink(mm, *m.drv);
  m.drv->set_iopf_sink(&sink);

  EXPECT_EQ(m.Dma(va.value(), true).fault, FaultReason::kFsNotPresent);
  m.vtd->SendPageRequest(pci::PageRequest{.rid = StreamId(kSid), .has_pasid = true,
                                          .pasid = Pasid(kPasid), .addr = va, .write = true,
                                          .last = true, .prgi = 42});
  m.sim.RunUntilIdle(1000);
  EXPECT_EQ(sink.reported, 1);
  ASSERT_EQ(ep.responses.size(), 1u) << "one response per group";
  EXPECT_EQ(ep.responses[0].code, pci::PageResponse::Code::kSuccess);
  EXPECT_EQ(ep.responses[0].prgi, 42);
  EXPECT_TRUE(ep.responses[0].has_pasid);
  EXPECT_EQ(m.vtd->Read64(kPqhReg), m.vtd->Read64(kPqtReg)) << "queue consumed";
  EXPECT_TRUE(m.Dma(va.value(), true).ok) << "the retried access now translates";
}

TEST(VtdDriverPrq, RequestWithoutSinkIsAnsweredInvalid) {
  VtdMachine m;
  RecordingEndpoint ep;
  ASSERT_TRUE(m.vtd->AttachEndpoint(&ep).ok());
  kernel::Mm& mm = m.NewMm();
  m.Bind(mm, {}, {.pri = true});
  m.vtd->SendPageRequest(pci::PageRequest{.rid = StreamId(kSid), .has_pasid = true,
                                          .pasid = Pasid(kPasid), .addr = VirtAddr(0x1000),
                                          .read = true, .last = true, .prgi = 3});
  m.sim.RunUntilIdle(1000);
  ASSERT_EQ(ep.responses.size(), 1u);
  EXPECT_EQ(ep.responses[0].code, pci::PageResponse::Code::kInvalidRequest);
}

TEST(VtdDriverPrq, DrainPasidPrqConsumesPendingRequestsAndCompletesWithPd) {
  VtdMachine m;
  RecordingEndpoint ep;
  ASSERT_TRUE(m.vtd->AttachEndpoint(&ep).ok());
  kernel::Mm& mm = m.NewMm();
  m.Bind(mm, {}, {.pri = true});
  ResolvingSink sink(mm, *m.drv);
  m.drv->set_iopf_sink(&sink);
  m.vtd->SendPageRequest(pci::PageRequest{.rid = StreamId(kSid), .has_pasid = true,
                                          .pasid = Pasid(kPasid), .addr = VirtAddr(0x1000),
                                          .read = true, .last = true});
  ASSERT_TRUE(m.drv->DrainPasidPrq(StreamId(kSid), Pasid(kPasid)).ok());
  EXPECT_EQ(sink.reported, 1);
  EXPECT_EQ(ep.responses.size(), 1u);
  EXPECT_EQ(m.vtd->Read64(kPqhReg), m.vtd->Read64(kPqtReg));
}

TEST(VtdDriverApi, MisuseReturnsPreciseStatus) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  EXPECT_EQ(m.drv->SetupFirstStagePasid(StreamId(kSid), Pasid(1), mm.pgd(), DomainId(1)).code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(m.drv->AttachDevice(StreamId(kSid), {.pasid_bits = 8}).ok());
  EXPECT_EQ(m.drv->AttachDevice(StreamId(kSid), {}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(m.drv->SetupFirstStagePasid(StreamId(kSid), Pasid(256), mm.pgd(), DomainId(1)).code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(m.drv->SetupFirstStagePasid(StreamId(kSid), Pasid(1), mm.pgd(), DomainId(1)).ok());
  EXPECT_EQ(m.drv->SetupFirstStagePasid(StreamId(kSid), Pasid(1), mm.pgd(), DomainId(1)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(m.drv->SetupFirstStagePasid(StreamId(kSid), Pasid(2), mm.pgd(), DomainId(1),
                                        {.levels = 3}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.drv->TearDownPasid(StreamId(kSid), Pasid(3), true).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(m.drv->FlushPasidRange(DomainId(1), Pasid(1), VirtAddr(0x2000), VirtAddr(0x1000), true)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.drv->AttachDevice(StreamId(kSid + 1), {.pasid_bits = 21}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace svaemu::hw::vtd
