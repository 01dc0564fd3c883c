// The reference: the packing rule written as plainly as possible, one value at a time, straight from
// the definition (nibble 2j low, 2j+1 high; NZ byte (i, j) at nz_offset). Every other kernel is tested
// against it byte for byte. Slow on purpose; never used on a hot path.
#ifndef INT4PACK_KERNELS_REFERENCE_H_
#define INT4PACK_KERNELS_REFERENCE_H_

#include "core/pack.h"

namespace int4pack::reference {

void pack(const PackPlan &plan);
void unpack(const UnpackPlan &plan);

}  // namespace int4pack::reference

#endif  // INT4PACK_KERNELS_REFERENCE_H_
