// Float conversions with NEON: FCVTN / FCVTL for halves (IEEE, to nearest even), integer rounding for
// bfloat16.
#include <arm_neon.h>

#include "core/floats.h"
#include "kernels/cast_kernels.h"
#include "kernels/neon_steps.h"

namespace int4pack::kernels {
namespace {

void float_to_half_neon(const float *src, uint16_t *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
  for (; i < n; ++i) dst[i] = float_to_half(src[i]);
}

void half_to_float_neon(const uint16_t *src, float *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

void float_to_bfloat16_neon(const float *src, uint16_t *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32x4_t bits = vreinterpretq_u32_f32(vld1q_f32(src + i));
    const uint32x4_t lsb = vandq_u32(vshrq_n_u32(bits, 16), vdupq_n_u32(1));
    const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(bits, vdupq_n_u32(0x7FFF)), lsb), 16);
    const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(bits, 16), vdupq_n_u32(0x0040));
    const uint32x4_t nan = vcgtq_u32(vandq_u32(bits, vdupq_n_u32(0x7FFFFFFF)), vdupq_n_u32(0x7F800000));
    vst1_u16(dst + i, vmovn_u32(vbslq_u32(nan, quiet, rounded)));
  }
  for (; i < n; ++i) dst[i] = float_to_bfloat16(src[i]);
}

void bfloat16_to_float_neon(const uint16_t *src, float *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32x4_t bits = vshll_n_u16(vld1_u16(src + i), 16);
    const uint32x4_t nan = vcgtq_u32(vandq_u32(bits, vdupq_n_u32(0x7FFFFFFF)), vdupq_n_u32(0x7F800000));
    vst1q_f32(dst + i, vreinterpretq_f32_u32(vorrq_u32(bits, vandq_u32(nan, vdupq_n_u32(0x00400000)))));  // NaN quiet
  }
  for (; i < n; ++i) dst[i] = bfloat16_to_float(src[i]);
}

}  // namespace

namespace neon {

void float_to_half(const float *src, uint16_t *dst, int64_t n) { float_to_half_neon(src, dst, n); }
void half_to_float(const uint16_t *src, float *dst, int64_t n) { half_to_float_neon(src, dst, n); }
void float_to_bfloat16(const float *src, uint16_t *dst, int64_t n) { float_to_bfloat16_neon(src, dst, n); }
void bfloat16_to_float(const uint16_t *src, float *dst, int64_t n) { bfloat16_to_float_neon(src, dst, n); }

}  // namespace neon

const CastKernels cast_neon = neon::cast_table();

}  // namespace int4pack::kernels
