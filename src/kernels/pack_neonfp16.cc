// NEON CPUs with half-precision arithmetic pack with the NEON kernels: packing is integer work. (The table
// is built from their names; neon_steps.h says why.)
#include "kernels/neon_steps.h"
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {

const PackKernels pack_neonfp16 = neon::pack_table();

}  // namespace int4pack::kernels
