// PagingDomain: an iommu_domain of type IOMMU_DOMAIN_PAGING — an IO
// virtual address space whose page table the IOMMU owns (Linux's DMA and
// UNMANAGED domains, with io-pgtable / generic_pt as the table code).
//
// The driver allocates it (IommuOps::AllocPagingDomain, Linux
// ops->domain_alloc_paging): its tag (VT-d domain ID / SMMUv3 ASID) and a
// root in the format the unit's first stage walks — x86-64 4-level for VT-d
// (SDM 4.5, VT-d 3.6), arm64 4 KiB granule with 48-bit input for SMMUv3
// stage 1 (Arm ARM D8, SMMUv3 5.4 T0SZ = 16). The table is an
// arch::PageTableBuilder whose frames come from the kernel's frame
// allocator and carry the domain's own SpaceId in the frame shadow, so the
// checker can tell a walk through a freed IOMMU table from a legal one.
//
// The core edits the table (IommuCore::Map/Unmap, Linux iommu_map /
// iommu_unmap) and asks the driver to flush (IommuOps::IotlbSync, Linux
// iotlb_sync); tables an unmap emptied are freed only after that flush (the
// iommu_iotlb_gather freelist rule).
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_IOMMU_PAGING_DOMAIN_H_
#define SVAEMU_KERNEL_IOMMU_PAGING_DOMAIN_H_

#include <cstdint>
#include <utility>

#include "svaemu/arch/pt_builder.h"
#include "svaemu/kernel/iommu/device.h"

namespace svaemu::mem {
class FrameAllocator;
}

namespace svaemu::kernel {

// iommu_map() prot bits (include/linux/iommu.h IOMMU_READ / IOMMU_WRITE /
// IOMMU_NOEXEC).
inline constexpr int kIommuRead = 1 << 0;
inline constexpr int kIommuWrite = 1 << 1;
inline constexpr int kIommuNoExec = 1 << 3;

// What the core hands a driver's AllocPagingDomain: the allocator of the
// page-table frames and the shadow space the tables are tagged with.
struct PagingDomainArgs {
  mem::FrameAllocator* alloc = nullptr;
  SpaceId space;
};

// struct iommu_iotlb_gather: the IOVA range an unmap touched, [start, end)
// with end exclusive, and whether page-table pages were detached (then
// walk caches must go too: VT-d IH = 0, SMMUv3 non-leaf TLBI).
struct IotlbGather {
  VirtAddr start;
  VirtAddr end;
  bool freed_tables = false;
};

class PagingDomain : public Domain {
 public:
  // `aperture_end` is the last IOVA the table can translate
  // (domain->geometry.aperture_end); the aperture starts at 0.
  PagingDomain(sim::Simulation& sim, IommuOps* ops, arch::PageTableBuilder pt,
               VirtAddr aperture_end, const char* site)
      : Domain(sim, DomainType::kPaging, ops, nullptr, site),
        pt_(std::move(pt)),
        aperture_end_(aperture_end) {}

  arch::PageTableBuilder& pt() { return pt_; }
  const arch::PageTableBuilder& pt() const { return pt_; }
  // The root the hardware is pointed at (FSPTPTR / CD.TTB0).
  PhysAddr pgd() const { return pt_.root(); }
  arch::PtFormat format() const { return pt_.format(); }
  SpaceId space() const { return pt_.space(); }
  VirtAddr aperture_start() const { return VirtAddr(0); }
  VirtAddr aperture_end() const { return aperture_end_; }
  // domain->pgsize_bitmap: 4 KiB, 2 MiB and 1 GiB leaves.
  static constexpr uint64_t kPgsizeBitmap = (1ull << 12) | (1ull << 21) | (1ull << 30);

 private:
  arch::PageTableBuilder pt_;
  VirtAddr aperture_end_;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOMMU_PAGING_DOMAIN_H_
