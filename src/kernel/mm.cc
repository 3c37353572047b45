#include "svaemu/kernel/mm.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "svaemu/base/bits.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {
namespace {

// First address of anonymous mappings, and TASK_SIZE per format.
constexpr VirtAddr kMmapBase{0x10000000};

VirtAddr TaskSize(arch::PtFormat f) {
  switch (f) {
    case arch::PtFormat::kX86_4Level: return VirtAddr(0x00007ffffffff000ull);
    case arch::PtFormat::kX86_5Level: return VirtAddr(0x00fffffffffff000ull);
    case arch::PtFormat::kArm64_4K48: return VirtAddr(1ull << 48);
  }
  return VirtAddr(0);
}

arch::MapAttrs UserAttrs(uint8_t prot) {
  arch::MapAttrs a;
  a.write = (prot & kProtWrite) != 0;
  a.user = true;
  a.exec = (prot & kProtExec) != 0;
  a.global = false;
  a.accessed = true;  // set at fault-in, as pte_mkyoung() does
  a.dirty = false;
  return a;
}

// PROT_WRITE and PROT_EXEC imply read on both architectures' Linux.
bool Permits(uint8_t prot, arch::AccessType access) {
  if (access.write) return (prot & kProtWrite) != 0;
  if (access.exec) return (prot & kProtExec) != 0;
  return prot != kProtNone;
}

}  // namespace

Mm::Mm(Kernel& kernel, SpaceId space, PhysAddr pgd)
    : KObject(kernel.sim(), "mm", "mm_alloc"),
      kernel_(kernel),
      space_(space),
      builder_(kernel.alloc(), kernel.format(), space, pgd),
      va_(kMmapBase, TaskSize(kernel.format()) - kMmapBase) {}

Mm::~Mm() { notifiers_.clear(); }

absl::Status Mm::Get() {
  if (!Use(Agent::Cpu(), "mmget")) {
    return absl::FailedPreconditionError("mmget on a freed mm");
  }
  if (users_ == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("mmget on ", name(), " whose mm_users is 0"));
  }
  ++users_;
  return absl::OkStatus();
}

bool Mm::GetNotZero() {
  if (!Use(Agent::Cpu(), "mmget_not_zero") || users_ == 0) return false;
  ++users_;
  return true;
}

absl::Status Mm::Put() {
  if (!Use(Agent::Cpu(), "mmput")) {
    return absl::FailedPreconditionError("mmput on a freed mm");
  }
  if (users_ == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("unbalanced mmput on ", name()));
  }
  if (--users_ > 0) return absl::OkStatus();
  // __mmput(): tear down the address space, then drop the users' mm_count.
  ExitMmap();
  for (auto& hook : exit_hooks_) hook(*this);
  exit_hooks_.clear();
  return Drop();
}

absl::Status Mm::Grab() {
  if (!Use(Agent::Cpu(), "mmgrab")) {
    return absl::FailedPreconditionError("mmgrab on a freed mm");
  }
  ++count_;
  return absl::OkStatus();
}

absl::Status Mm::Drop() {
  if (!Use(Agent::Cpu(), "mmdrop")) {
    return absl::FailedPreconditionError("mmdrop on a freed mm");
  }
  if (count_ == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("unbalanced mmdrop on ", name()));
  }
  if (--count_ == 0) FreeMm();
  return absl::OkStatus();
}

void Mm::ExitMmap() {
  sim().Trace("kernel", "exit_mmap", name());
  exited_ = true;
  // mmu_notifier_release(): each subscriber is unlinked, then told.
  while (!notifiers_.empty()) {
    MmuNotifier& n = notifiers_.front();
    notifiers_.pop_front();
    n.Release(*this);
  }
  // unmap_vmas() + free_pgtables() over the whole user range.
  ZapRange(VirtAddr(0), TaskSize(format()), /*free_tables=*/true);
  vmas_.clear();
}

void Mm::FreeMm() {
  // __mmdrop(): mm_pasid_drop() and friends, pgd_free(), free the mm.
  for (auto& hook : drop_hooks_) hook(*this);
  drop_hooks_.clear();
  if (user_root_.value() != 0) kernel_.alloc().Free(user_root_, "pti_pgd_free");
  kernel_.alloc().Free(pgd(), "pgd_free");
  Kfree("__mmdrop");
}

absl::Status Mm::CheckRange(VirtAddr va, uint64_t len) const {
  if (len == 0 || !va.IsAligned(kPageSize4K)) {
    return absl::InvalidArgumentError(
        "address must be page aligned and length non-zero");
  }
  if (va >= TaskSize(format()) || TaskSize(format()) - va < len) {
    return absl::InvalidArgumentError("range is outside the user half");
  }
  return absl::OkStatus();
}

absl::StatusOr<VirtAddr> Mm::Mmap(uint64_t len, uint8_t prot, bool populate,
                                  std::optional<VirtAddr> fixed) {
  if (!Use(Agent::Cpu(), "mmap") || exited_) {
    return absl::FailedPreconditionError("mmap on an exited mm");
  }
  if (len == 0) return absl::InvalidArgumentError("mmap of 0 bytes");
  len = (len + kPageSize4K - 1) & ~(kPageSize4K - 1);
  VirtAddr va;
  if (fixed) {
    absl::Status s = CheckRange(*fixed, len);
    if (!s.ok()) return s;
    s = va_.Reserve(*fixed, len);
    if (!s.ok()) return s;
    va = *fixed;
  } else {
    absl::StatusOr<VirtAddr> got = va_.Allocate(len, kPageSize4K);
    if (!got.ok()) return got.status();
    va = *got;
  }
  vmas_.emplace(va, Vma{va, va + len, prot});
  sim().Trace("kernel", "mmap",
                     absl::StrCat(name(), " ", Hex(va.value()), "+", len));
  if (populate && prot != kProtNone) {
    for (uint64_t off = 0; off < len; off += kPageSize4K) {
      if (MapPage(va + off, prot) == FaultResult::kOom) {
        return absl::ResourceExhaustedError("mmap populate: out of frames");
      }
    }
  }
  return va;
}

void Mm::SplitVmaAt(VirtAddr va) {
  auto it = vmas_.upper_bound(va);
  if (it == vmas_.begin()) return;
  --it;
  Vma& v = it->second;
  if (va <= v.start || va >= v.end) return;
  Vma tail{va, v.end, v.prot};
  v.end = va;
  vmas_.emplace(va, tail);
}

absl::Status Mm::Munmap(VirtAddr va, uint64_t len) {
  if (!Use(Agent::Cpu(), "munmap") || exited_) {
    return absl::FailedPreconditionError("munmap on an exited mm");
  }
  len = (len + kPageSize4K - 1) & ~(kPageSize4K - 1);
  absl::Status s = CheckRange(va, len);
  if (!s.ok()) return s;
  const VirtAddr end = va + len;
  SplitVmaAt(va);
  SplitVmaAt(end);
  ZapRange(va, end, /*free_tables=*/true);
  for (auto it = vmas_.lower_bound(va); it != vmas_.end() && it->first < end;) {
    (void)va_.Release(it->second.start, it->second.end - it->second.start);
    it = vmas_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status Mm::Mprotect(VirtAddr va, uint64_t len, uint8_t prot) {
  if (!Use(Agent::Cpu(), "mprotect") || exited_) {
    return absl::FailedPreconditionError("mprotect on an exited mm");
  }
  len = (len + kPageSize4K - 1) & ~(kPageSize4K - 1);
  absl::Status s = CheckRange(va, len);
  if (!s.ok()) return s;
  const VirtAddr end = va + len;
  // Every page of the range must be inside some VMA (ENOMEM in Linux).
  for (VirtAddr p = va; p < end;) {
    auto it = vmas_.upper_bound(p);
    if (it == vmas_.begin() || std::prev(it)->second.end <= p) {
      return absl::NotFoundError(
          absl::StrCat("mprotect: ", Hex(p.value()), " is not mapped"));
    }
    p = std::prev(it)->second.end;
  }
  SplitVmaAt(va);
  SplitVmaAt(end);
  for (auto it = vmas_.lower_bound(va); it != vmas_.end() && it->first < end;
       ++it) {
    it->second.prot = prot;
  }
  // change_protection(): rewrite present PTEs, then flush. A page that
  // becomes PROT_NONE is unmapped here (its frame kept until munmap would be
  // Linux's choice; the model frees on unmap below instead).
  for (VirtAddr p = va; p < end; p += kPageSize4K) {
    std::optional<arch::Translation> t = builder_.Lookup(p);
    if (!t) continue;
    const PhysAddr frame = t->pa.AlignDown(kPageSize4K);
    (void)builder_.Unmap(p, kPageSize4K);
    if (prot == kProtNone) {
      kernel_.alloc().Free(frame, "mprotect_none");
      --resident_pages_;
    } else {
      (void)builder_.Map(p, frame, kPageSize4K, kPageSize4K, UserAttrs(prot));
    }
  }
  FlushTlbRange(va, end);
  return absl::OkStatus();
}

void Mm::ZapRange(VirtAddr start, VirtAddr end, bool free_tables) {
  // zap_page_range(): clear the leaves, remember the frames.
  std::vector<PhysAddr> frames;
  for (const auto& [base, vma] : vmas_) {
    const VirtAddr lo = std::max(base, start);
    const VirtAddr hi = std::min(vma.end, end);
    for (VirtAddr p = lo; p < hi; p += kPageSize4K) {
      if (std::optional<arch::Translation> t = builder_.Lookup(p)) {
        frames.push_back(t->pa.AlignDown(kPageSize4K));
      }
    }
    if (lo < hi) (void)builder_.Unmap(lo, hi - lo);
  }
  // tlb_finish_mmu(): flush (secondary TLBs follow), then free pages and
  // the page-table pages that no remaining VMA uses.
  FlushTlbRange(start, end);
  for (PhysAddr f : frames) kernel_.alloc().Free(f, "zap_pte_range");
  resident_pages_ -= frames.size();
  if (free_tables) {
    std::vector<PhysAddr> tables;
    (void)builder_.FreeTables(start, end, &tables);
    SyncUserRoot();
    for (PhysAddr t : tables) kernel_.alloc().Free(t, "free_pgtables");
  }
}

absl::StatusOr<PhysAddr> Mm::EnableUserOnlyRoot() {
  if (format() == arch::PtFormat::kArm64_4K48) {
    return absl::FailedPreconditionError(
        "arm64 user trees hold no kernel mappings; use pgd()");
  }
  if (exited_ || !Use(Agent::Cpu(), "pti_clone_pgd")) {
    return absl::FailedPreconditionError("mm has exited");
  }
  if (user_root_.value() != 0) return user_root_;
  absl::StatusOr<PhysAddr> root = kernel_.alloc().AllocatePageTable(
      {.space = space_,
       .level = arch::PtFormatTopLevel(format()),
       .va_base = VirtAddr(0),
       .flags = mem::kFrameRoot},
      "pti_pgd_alloc");
  if (!root.ok()) return root.status();
  user_root_ = *root;
  SyncUserRoot();
  return user_root_;
}

void Mm::SyncUserRoot() {
  if (user_root_.value() == 0) return;
  const mem::Access a = mem::Access::Cpu(Purpose::kPageTableUpdate);
  mem::PhysMem& m = kernel_.alloc().mem();
  for (uint64_t i = 0; i < 256; ++i) {
    m.Write64(user_root_ + i * 8, m.Read64(pgd() + i * 8, a), a);
  }
}

FaultResult Mm::MapPage(VirtAddr page, uint8_t prot) {
  if (builder_.Lookup(page)) return FaultResult::kHandled;
  absl::StatusOr<PhysAddr> f = kernel_.alloc().Allocate(
      mem::FrameUse::kData, "do_anonymous_page", space_, /*zero=*/true);
  if (!f.ok()) return FaultResult::kOom;
  absl::Status s =
      builder_.Map(page, *f, kPageSize4K, kPageSize4K, UserAttrs(prot));
  if (!s.ok()) {
    kernel_.alloc().Free(*f, "do_anonymous_page_unwind");
    return FaultResult::kOom;
  }
  ++resident_pages_;
  SyncUserRoot();
  return FaultResult::kHandled;
}

FaultResult Mm::HandleFault(VirtAddr va, arch::AccessType access) {
  if (!Use(Agent::Cpu(), "handle_mm_fault") || exited_) {
    return FaultResult::kSegv;
  }
  auto it = vmas_.upper_bound(va);
  if (it == vmas_.begin()) return FaultResult::kSegv;
  const Vma& vma = std::prev(it)->second;
  if (va >= vma.end || !Permits(vma.prot, access)) return FaultResult::kSegv;
  sim().Trace("kernel", "handle_mm_fault",
                     absl::StrCat(name(), " ", Hex(va.value())));
  return MapPage(va.AlignDown(kPageSize4K), vma.prot);
}

absl::Status Mm::Access(VirtAddr va, std::span<uint8_t> buf, bool write) {
  size_t done = 0;
  while (done < buf.size()) {
    const VirtAddr at = va + done;
    std::optional<arch::Translation> t = builder_.Lookup(at);
    if (!t || (write && !t->perms.write)) {
      arch::AccessType acc;
      acc.write = write;
      if (HandleFault(at, acc) != FaultResult::kHandled) {
        return absl::PermissionDeniedError(
            absl::StrCat("user access to ", Hex(at.value()), " faults"));
      }
      t = builder_.Lookup(at);
    }
    const uint64_t off = at.value() & (kPageSize4K - 1);
    const size_t n = std::min<uint64_t>(kPageSize4K - off, buf.size() - done);
    mem::PhysMem& m = kernel_.alloc().mem();
    if (write) {
      m.WriteBytes(t->pa, buf.subspan(done, n), mem::Access::Cpu());
    } else {
      m.ReadBytes(t->pa, buf.subspan(done, n), mem::Access::Cpu());
    }
    done += n;
  }
  return absl::OkStatus();
}

absl::Status Mm::Write(VirtAddr va, std::span<const uint8_t> data) {
  std::vector<uint8_t> copy(data.begin(), data.end());
  return Access(va, copy, /*write=*/true);
}

absl::Status Mm::Read(VirtAddr va, std::span<uint8_t> out) {
  return Access(va, out, /*write=*/false);
}

absl::Status Mm::RegisterNotifier(MmuNotifier* n) {
  if (n->registered()) {
    return absl::AlreadyExistsError("notifier is already registered");
  }
  if (!Use(Agent::Cpu(), "mmu_notifier_register") || exited_) {
    return absl::FailedPreconditionError("mm has exited");
  }
  notifiers_.push_back(*n);
  return absl::OkStatus();
}

absl::Status Mm::UnregisterNotifier(MmuNotifier* n) {
  for (auto it = notifiers_.begin(); it != notifiers_.end(); ++it) {
    if (&*it == n) {
      notifiers_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError("notifier is not registered on this mm");
}

void Mm::FlushTlbRange(VirtAddr start, VirtAddr end) {
  sim().Trace("kernel", "flush_tlb_mm_range",
                     absl::StrCat(name(), " ", Hex(start.value()), "-",
                                  Hex(end.value())));
  for (MmuNotifier& n : notifiers_) n.InvalidateSecondaryTlbs(*this, start, end);
}

}  // namespace svaemu::kernel
