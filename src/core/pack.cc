#include "core/pack.h"

#include "kernels/kernels.h"

namespace int4pack {

void pack(const PackPlan &plan) {
  const kernels::KernelTable &k = kernels::active_kernels();
  if (plan.layout == PackedLayout::kNd) {
    k.pack_nd(plan.src, plan.dst, plan.shape);
  } else {
    k.pack_nz(plan.src, plan.dst, plan.shape);
  }
}

void unpack(const UnpackPlan &plan) {
  const kernels::KernelTable &k = kernels::active_kernels();
  if (plan.layout == PackedLayout::kNd) {
    k.unpack_nd(plan.src, plan.dst, plan.shape);
  } else {
    k.unpack_nz(plan.src, plan.dst, plan.shape);
  }
}

}  // namespace int4pack
