// Float conversions with AVX2 and F16C.
#include "kernels/cast_kernels.h"
#include "kernels/cast_x86.h"

namespace int4pack::kernels {

const CastKernels cast_avx2{float_to_half_x86, half_to_float_x86, float_to_bfloat16_x86, bfloat16_to_float_x86};

}  // namespace int4pack::kernels
