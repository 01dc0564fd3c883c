// Float conversions with the AVX-512 build of the 256-bit steps (conversions stream from memory; wider registers gain
// nothing).
#include "kernels/avx512_steps.h"
#include "kernels/cast_kernels.h"
#include "kernels/cast_x86.h"

namespace int4pack::kernels {

namespace avx512 {

void float_to_half(const float *src, uint16_t *dst, int64_t n) { float_to_half_x86(src, dst, n); }
void half_to_float(const uint16_t *src, float *dst, int64_t n) { half_to_float_x86(src, dst, n); }
void float_to_bfloat16(const float *src, uint16_t *dst, int64_t n) { float_to_bfloat16_x86(src, dst, n); }
void bfloat16_to_float(const uint16_t *src, float *dst, int64_t n) { bfloat16_to_float_x86(src, dst, n); }

}  // namespace avx512

const CastKernels cast_avx512 = avx512::cast_table();

}  // namespace int4pack::kernels
