// NEON CPUs with half-precision arithmetic convert floats with the NEON kernels (FCVTN/FCVTL already take
// a vector a step). (Copied at start-up from the constant-initialized NEON table.)
#include "kernels/cast_kernels.h"

namespace int4pack::kernels {

const CastKernels cast_neonfp16 = cast_neon;

}  // namespace int4pack::kernels
