// NEON CPUs with half-precision arithmetic convert floats with the NEON kernels (FCVTN/FCVTL already take
// a vector a step). (The table is built from their names; neon_steps.h says why.)
#include "kernels/cast_kernels.h"
#include "kernels/neon_steps.h"

namespace int4pack::kernels {

const CastKernels cast_neonfp16 = neon::cast_table();

}  // namespace int4pack::kernels
