// AVX-512 FP16 CPUs convert floats with the AVX-512 kernels (F16C's conversions already take a vector a
// step). (The table is built from their names; avx512_steps.h says why.)
#include "kernels/avx512_steps.h"
#include "kernels/cast_kernels.h"

namespace int4pack::kernels {

const CastKernels cast_avx512fp16 = avx512::cast_table();

}  // namespace int4pack::kernels
