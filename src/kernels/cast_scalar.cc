// Portable float conversions, one value at a time: the definitions of core/floats.h.
#include "core/floats.h"
#include "kernels/cast_kernels.h"

namespace int4pack::kernels {
namespace {

void float_to_half_scalar(const float *src, uint16_t *dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}
void half_to_float_scalar(const uint16_t *src, float *dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}
void float_to_bfloat16_scalar(const float *src, uint16_t *dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = float_to_bfloat16(src[i]);
}
void bfloat16_to_float_scalar(const uint16_t *src, float *dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bfloat16_to_float(src[i]);
}

}  // namespace

const CastKernels cast_scalar{float_to_half_scalar, half_to_float_scalar, float_to_bfloat16_scalar,
                              bfloat16_to_float_scalar};

}  // namespace int4pack::kernels
