// MMU notifiers: secondary TLBs (an IOMMU bound to an mm) follow the CPU's
// page-table changes of that mm.
//
// Linux: mmu_notifier_register()/unregister(); the ops used for SVA are
// arch_invalidate_secondary_tlbs (called from the CPU TLB flush of a range)
// and release (called once from exit_mmap(), before the address space is
// torn down; the subscription is unlinked as it is called).
//
// Subscriptions are linked into the mm with a Boost.Intrusive list hook, as
// the kernel links them with an hlist: no allocation on register/unregister.
// A notifier that is destroyed while registered unlinks itself.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_MMU_NOTIFIER_H_
#define SVAEMU_KERNEL_MMU_NOTIFIER_H_

#include "boost/intrusive/list.hpp"
#include "svaemu/base/strong_types.h"

namespace svaemu::kernel {

class Mm;

using MmuNotifierHook = boost::intrusive::list_base_hook<
    boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class MmuNotifier : public MmuNotifierHook {
 public:
  virtual ~MmuNotifier() = default;
  // arch_invalidate_secondary_tlbs(): [start, end) of `mm` changed and the
  // CPU TLBs were flushed; drop cached translations of that range.
  virtual void InvalidateSecondaryTlbs(Mm& mm, VirtAddr start,
                                       VirtAddr end) = 0;
  // mmu_notifier_ops.release: `mm` is exiting; stop using it. After this the
  // user half of its page tables is torn down.
  virtual void Release(Mm& mm) = 0;
  bool registered() const { return is_linked(); }
};

using MmuNotifierList =
    boost::intrusive::list<MmuNotifier,
                           boost::intrusive::constant_time_size<false>>;

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_MMU_NOTIFIER_H_
