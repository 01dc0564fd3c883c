// AVX-512 FP16 CPUs convert floats with the AVX-512 kernels (F16C's conversions already take a vector a
// step). (Copied at start-up from the constant-initialized AVX-512 table.)
#include "kernels/cast_kernels.h"

namespace int4pack::kernels {

const CastKernels cast_avx512fp16 = cast_avx512;

}  // namespace int4pack::kernels
