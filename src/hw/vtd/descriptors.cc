#include "svaemu/hw/vtd/descriptors.h"

#include "svaemu/base/bits.h"

namespace svaemu::hw::vtd {
namespace {

uint64_t TypeBits(DescType t) { return static_cast<uint64_t>(t) & 0xf; }
bool UpperZero(const RawDesc& r) { return r[2] == 0 && r[3] == 0; }

}  // namespace

// 6.5.2.1 context-cache invalidate descriptor.
RawDesc ContextCacheDesc::Encode() const {
  uint64_t q0 = TypeBits(DescType::kContextCache);
  q0 = SetBits(q0, 5, 4, g);
  q0 = SetBits(q0, 31, 16, did);
  q0 = SetBits(q0, 47, 32, sid);
  q0 = SetBits(q0, 49, 48, fm);
  return {q0, 0, 0, 0};
}
bool ContextCacheDesc::Decode(const RawDesc& r, ContextCacheDesc* out) {
  out->g = static_cast<uint8_t>(Bits(r[0], 5, 4));
  out->did = static_cast<uint16_t>(Bits(r[0], 31, 16));
  out->sid = static_cast<uint16_t>(Bits(r[0], 47, 32));
  out->fm = static_cast<uint8_t>(Bits(r[0], 49, 48));
  return (r[0] & (BitMask(8, 6) | BitMask(15, 12) | BitMask(63, 50))) == 0 &&
         r[1] == 0 && UpperZero(r) && out->g != 0;
}

// 6.5.2.2 PASID-cache invalidate descriptor.
RawDesc PasidCacheDesc::Encode() const {
  uint64_t q0 = TypeBits(DescType::kPasidCache);
  q0 = SetBits(q0, 5, 4, g);
  q0 = SetBits(q0, 31, 16, did);
  q0 = SetBits(q0, 51, 32, pasid);
  return {q0, 0, 0, 0};
}
bool PasidCacheDesc::Decode(const RawDesc& r, PasidCacheDesc* out) {
  out->g = static_cast<uint8_t>(Bits(r[0], 5, 4));
  out->did = static_cast<uint16_t>(Bits(r[0], 31, 16));
  out->pasid = static_cast<uint32_t>(Bits(r[0], 51, 32));
  return (r[0] & (BitMask(8, 6) | BitMask(15, 12) | BitMask(63, 52))) == 0 &&
         r[1] == 0 && UpperZero(r) && out->g != 2;  // G=2 is reserved
}

// 6.5.2.3 IOTLB invalidate descriptor.
RawDesc IotlbDesc::Encode() const {
  uint64_t q0 = TypeBits(DescType::kIotlb);
  q0 = SetBits(q0, 5, 4, g);
  q0 = SetBit(q0, 6, dw);
  q0 = SetBit(q0, 7, dr);
  q0 = SetBits(q0, 31, 16, did);
  uint64_t q1 = (addr & BitMask(63, 12)) | SetBits(0, 5, 0, am);
  q1 = SetBit(q1, 6, ih);
  return {q0, q1, 0, 0};
}
bool IotlbDesc::Decode(const RawDesc& r, IotlbDesc* out) {
  out->g = static_cast<uint8_t>(Bits(r[0], 5, 4));
  out->dw = Bit(r[0], 6);
  out->dr = Bit(r[0], 7);
  out->did = static_cast<uint16_t>(Bits(r[0], 31, 16));
  out->am = static_cast<uint8_t>(Bits(r[1], 5, 0));
  out->ih = Bit(r[1], 6);
  out->addr = r[1] & BitMask(63, 12);
  return (r[0] & (BitMask(8, 8) | BitMask(15, 12) | BitMask(63, 32))) == 0 &&
         (r[1] & BitMask(11, 7)) == 0 && UpperZero(r) && out->g != 0;
}

// 6.5.2.4 PASID-based IOTLB invalidate descriptor.
RawDesc PiotlbDesc::Encode() const {
  uint64_t q0 = TypeBits(DescType::kPiotlb);
  q0 = SetBits(q0, 5, 4, g);
  q0 = SetBits(q0, 31, 16, did);
  q0 = SetBits(q0, 51, 32, pasid);
  uint64_t q1 = (addr & BitMask(63, 12)) | SetBits(0, 5, 0, am);
  q1 = SetBit(q1, 6, ih);
  return {q0, q1, 0, 0};
}
bool PiotlbDesc::Decode(const RawDesc& r, PiotlbDesc* out) {
  out->g = static_cast<uint8_t>(Bits(r[0], 5, 4));
  out->did = static_cast<uint16_t>(Bits(r[0], 31, 16));
  out->pasid = static_cast<uint32_t>(Bits(r[0], 51, 32));
  out->am = static_cast<uint8_t>(Bits(r[1], 5, 0));
  out->ih = Bit(r[1], 6);
  out->addr = r[1] & BitMask(63, 12);
  // G=0 and G=1 are reserved.
  return (r[0] & (BitMask(8, 6) | BitMask(15, 12) | BitMask(63, 52))) == 0 &&
         (r[1] & BitMask(11, 7)) == 0 && UpperZero(r) && out->g >= 2;
}

namespace {
// PCIe r6 10.3.1 / VT-d 6.5.2.5: with S=1 the lowest clear bit of
// ADDR[63:12] gives the size: ADDR bit n clear and bits [n-1:12] set ->
// 2^(n+1) bytes.
void AtsRange(uint64_t addr, bool s, uint64_t* base, uint64_t* size) {
  if (!s) {
    *base = addr & BitMask(63, 12);
    *size = 4096;
    return;
  }
  unsigned n = 12;
  while (n < 63 && Bit(addr, n)) ++n;
  *size = n >= 63 ? 0 : (1ull << (n + 1));
  *base = *size == 0 ? 0 : (addr & ~(*size - 1));
}
}  // namespace

// 6.5.2.5 device-TLB invalidate descriptor.
RawDesc DevTlbDesc::Encode() const {
  uint64_t q0 = TypeBits(DescType::kDevTlb);
  q0 = SetBits(q0, 15, 12, pfsid & 0xf);
  q0 = SetBits(q0, 20, 16, mip);
  q0 = SetBits(q0, 47, 32, sid);
  q0 = SetBits(q0, 63, 52, pfsid >> 4);
  const uint64_t q1 = (addr & BitMask(63, 12)) | uint64_t{s};
  return {q0, q1, 0, 0};
}
bool DevTlbDesc::Decode(const RawDesc& r, DevTlbDesc* out) {
  out->pfsid = static_cast<uint16_t>(Bits(r[0], 15, 12) | (Bits(r[0], 63, 52) << 4));
  out->mip = static_cast<uint8_t>(Bits(r[0], 20, 16));
  out->sid = static_cast<uint16_t>(Bits(r[0], 47, 32));
  out->s = Bit(r[1], 0);
  out->addr = r[1] & BitMask(63, 12);
  return (r[0] & (BitMask(8, 4) | BitMask(31, 21) | BitMask(51, 48))) == 0 &&
         (r[1] & BitMask(11, 1)) == 0 && UpperZero(r);
}
void DevTlbDesc::Range(uint64_t* base, uint64_t* size) const { AtsRange(addr, s, base, size); }

// 6.5.2.6 PASID-based device-TLB invalidate descriptor.
RawDesc PdevTlbDesc::Encode() const {
  uint64_t q0 = TypeBits(DescType::kPdevTlb);
  q0 = SetBits(q0, 8, 4, mip);
  q0 = SetBits(q0, 15, 12, pfsid & 0xf);
  q0 = SetBits(q0, 31, 16, sid);
  q0 = SetBits(q0, 51, 32, pasid);
  q0 = SetBits(q0, 63, 52, pfsid >> 4);
  uint64_t q1 = (addr & BitMask(63, 12)) | uint64_t{g};
  q1 = SetBit(q1, 11, s);
  return {q0, q1, 0, 0};
}
bool PdevTlbDesc::Decode(const RawDesc& r, PdevTlbDesc* out) {
  out->mip = static_cast<uint8_t>(Bits(r[0], 8, 4));
  out->pfsid = static_cast<uint16_t>(Bits(r[0], 15, 12) | (Bits(r[0], 63, 52) << 4));
  out->sid = static_cast<uint16_t>(Bits(r[0], 31, 16));
  out->pasid = static_cast<uint32_t>(Bits(r[0], 51, 32));
  out->g = Bit(r[1], 0);
  out->s = Bit(r[1], 11);
  out->addr = r[1] & BitMask(63, 12);
  return (r[1] & BitMask(10, 1)) == 0 && UpperZero(r);
}
void PdevTlbDesc::Range(uint64_t* base, uint64_t* size) const { AtsRange(addr, s, base, size); }

// 6.5.2.8 invalidation wait descriptor.
RawDesc WaitDesc::Encode() const {
  uint64_t q0 = TypeBits(DescType::kWait);
  q0 = SetBit(q0, 4, iflag);
  q0 = SetBit(q0, 5, sw);
  q0 = SetBit(q0, 6, fn);
  q0 = SetBit(q0, 7, pd);
  q0 = SetBits(q0, 63, 32, status_data);
  return {q0, status_addr & BitMask(63, 2), 0, 0};
}
bool WaitDesc::Decode(const RawDesc& r, WaitDesc* out) {
  out->iflag = Bit(r[0], 4);
  out->sw = Bit(r[0], 5);
  out->fn = Bit(r[0], 6);
  out->pd = Bit(r[0], 7);
  out->status_data = static_cast<uint32_t>(Bits(r[0], 63, 32));
  out->status_addr = r[1] & BitMask(63, 2);
  return (r[0] & (BitMask(8, 8) | BitMask(31, 12))) == 0 &&
         (r[1] & BitMask(1, 0)) == 0 && UpperZero(r);
}

// 7.7.1 page group response descriptor.
RawDesc PageGroupResponseDesc::Encode() const {
  uint64_t q0 = TypeBits(DescType::kPageGroupResponse);
  q0 = SetBit(q0, 4, pasid_present);
  q0 = SetBit(q0, 5, pdp);
  q0 = SetBits(q0, 15, 12, code);
  q0 = SetBits(q0, 31, 16, rid);
  q0 = SetBits(q0, 51, 32, pasid);
  uint64_t q1 = SetBit(0, 2, lpig);
  q1 = SetBits(q1, 11, 3, prgi);
  return {q0, q1, pdp ? priv_data[0] : 0, pdp ? priv_data[1] : 0};
}
bool PageGroupResponseDesc::Decode(const RawDesc& r, PageGroupResponseDesc* out) {
  out->pasid_present = Bit(r[0], 4);
  out->pdp = Bit(r[0], 5);
  out->code = static_cast<uint8_t>(Bits(r[0], 15, 12));
  out->rid = static_cast<uint16_t>(Bits(r[0], 31, 16));
  out->pasid = static_cast<uint32_t>(Bits(r[0], 51, 32));
  out->lpig = Bit(r[1], 2);
  out->prgi = static_cast<uint16_t>(Bits(r[1], 11, 3));
  out->priv_data[0] = r[2];
  out->priv_data[1] = r[3];
  const bool code_ok = out->code == kSuccess || out->code == kInvalidRequest ||
                       out->code == kResponseFailure;
  return (r[0] & (BitMask(8, 6) | BitMask(63, 52))) == 0 &&
         (r[1] & (BitMask(1, 0) | BitMask(63, 12))) == 0 && code_ok &&
         (out->pdp || UpperZero(r));
}

// 7.5.1 page request descriptor.
RawDesc PageRequestDesc::Encode() const {
  uint64_t q0 = kType;
  q0 = SetBit(q0, 8, pasid_present);
  q0 = SetBit(q0, 9, pdp);
  q0 = SetBits(q0, 31, 16, rid);
  q0 = SetBits(q0, 51, 32, pasid);
  q0 = SetBit(q0, 52, exe);
  q0 = SetBit(q0, 53, priv);
  uint64_t q1 = (addr & BitMask(63, 12));
  q1 = SetBit(q1, 0, rd);
  q1 = SetBit(q1, 1, wr);
  q1 = SetBit(q1, 2, lpig);
  q1 = SetBits(q1, 11, 3, prgi);
  return {q0, q1, priv_data[0], priv_data[1]};
}
PageRequestDesc PageRequestDesc::Decode(const RawDesc& r) {
  PageRequestDesc d;
  d.pasid_present = Bit(r[0], 8);
  d.pdp = Bit(r[0], 9);
  d.rid = static_cast<uint16_t>(Bits(r[0], 31, 16));
  d.pasid = static_cast<uint32_t>(Bits(r[0], 51, 32));
  d.exe = Bit(r[0], 52);
  d.priv = Bit(r[0], 53);
  d.rd = Bit(r[1], 0);
  d.wr = Bit(r[1], 1);
  d.lpig = Bit(r[1], 2);
  d.prgi = static_cast<uint16_t>(Bits(r[1], 11, 3));
  d.addr = r[1] & BitMask(63, 12);
  d.priv_data[0] = r[2];
  d.priv_data[1] = r[3];
  return d;
}

}  // namespace svaemu::hw::vtd
