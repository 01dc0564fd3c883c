// Float conversions with the AVX-512 build of the 256-bit steps (conversions stream from memory; wider registers gain
// nothing).
#include "kernels/cast_kernels.h"
#include "kernels/cast_x86.h"

namespace int4pack::kernels {

const CastKernels cast_avx512{float_to_half_x86, half_to_float_x86, float_to_bfloat16_x86, bfloat16_to_float_x86};

}  // namespace int4pack::kernels
