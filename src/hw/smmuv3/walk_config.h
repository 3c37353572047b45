// Internal to the SMMUv3 model (config.cc, translate.cc): the stage-1
// configuration and walk options a configuration entry's walker is built
// from (WalkArm64's), also used for the walks that fault before any read,
// and what every walk of a request takes from it and the request.
#ifndef SVAEMU_HW_SMMUV3_WALK_CONFIG_H_
#define SVAEMU_HW_SMMUV3_WALK_CONFIG_H_

#include <cstdint>

#include "svaemu/arch/arm64.h"
#include "svaemu/hw/smmuv3/caches.h"
#include "svaemu/hw/smmuv3/smmuv3.h"

namespace svaemu::hw::smmuv3 {

// The configuration and options `c`'s walker was built from
// (WalkArm64's), for the walks that fault before any read.
inline arch::Arm64Stage1Config Stage1Of(const CfgEntry& c) {
  return arch::Arm64Stage1Config{.ttbr0 = c.ttb0,
                                 .ttbr1 = c.ttb1,
                                 .epd0 = c.epd0,
                                 .epd1 = c.epd1,
                                 .ha = c.ha,
                                 .hd = c.hd,
                                 .hpd0 = c.had0,
                                 .hpd1 = c.had1,
                                 .affd = c.affd,
                                 .tbi0 = c.tbi0,
                                 .tbi1 = c.tbi1,
                                 .pan = c.pan,
                                 .wxn = c.wxn};
}
// The request as given: TransReq::tbi_tag put back into VA[63:56].
inline TransReq AsGiven(const TransReq& r) {
  TransReq g = r;
  if (r.tbi_tag) {
    g.va = VirtAddr((r.va.value() & BitMask(55, 0)) | (uint64_t{*r.tbi_tag} << 56));
    g.tbi_tag.reset();
  }
  return g;
}
// The request as `c` translates it (3.4.1): with TBI for the half VA[55]
// selects, VA[63:56] replaced by copies of VA[55] (and the given ones kept
// in tbi_tag for the event record); else unchanged.
inline TransReq WithTbi(const CfgEntry& c, const TransReq& r) {
  const uint64_t given = r.va.value();
  const uint64_t va = arch::Arm64EffectiveVa(c.tbi0, c.tbi1, given);
  TransReq t = r;
  if (va != given) {
    t.va = VirtAddr(va);
    t.tbi_tag = static_cast<uint8_t>(given >> 56);
  }
  return t;
}

// The frame-shadow space of the table the walk of `va` starts from (TTB1
// for VA[63] = 1; a canonical VA is assumed).
inline SpaceId SpaceOf(const CfgEntry& c, uint64_t va) {
  return (va >> 63) != 0 ? c.space1 : c.space0;
}
// The access a request makes, as the walker checks it.
inline arch::AccessType AccessOf(const TransReq& r) {
  return arch::AccessType{
      .write = r.write, .exec = IsInstruction(r.write, r.exec), .user = !r.priv};
}
// The request with the STE's attribute overrides applied (5.2 PRIVCFG,
// INSTCFG; INSTCFG affects reads only, as IsInstruction() has it).
inline TransReq WithOverrides(const CfgEntry& c, const TransReq& r) {
  TransReq t = r;
  if (c.privcfg != Ste::kCfgIncoming) t.priv = c.privcfg == Ste::kPrivPrivileged;
  if (c.instcfg != Ste::kCfgIncoming) t.exec = c.instcfg == Ste::kInstInstruction;
  return t;
}
// The request as `c` translates it: overrides, then TBI (WithTbi).
inline TransReq AsTranslated(const CfgEntry& c, const TransReq& r) {
  const TransReq t = c.OverridesAttrs() ? WithOverrides(c, r) : r;
  return c.tbi0 || c.tbi1 ? WithTbi(c, t) : t;
}
inline arch::WalkOptions WalkOptionsOf(const CfgEntry& c, Agent agent, uint64_t va) {
  arch::WalkOptions opts;
  opts.agent = agent;
  opts.space = SpaceOf(c, va);
  opts.max_phys_bits = c.oa_bits;
  return opts;
}

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_HW_SMMUV3_WALK_CONFIG_H_
