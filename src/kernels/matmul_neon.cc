// Matmul steps with NEON: four floats a vector, FCVTN/FCVTL for the half rounding, integer rounding for
// bfloat16, one row of x at a time (64 columns of accumulators take 16 of the 32 registers).
#include <arm_neon.h>

#include "kernels/matmul_kernels.h"
#include "kernels/neon_steps.h"

namespace int4pack::kernels {
namespace {

float32x4_t round_half(float32x4_t v) { return vcvt_f32_f16(vcvt_f16_f32(v)); }

float32x4_t round_bf16(float32x4_t v) {
  const uint32x4_t bits = vreinterpretq_u32_f32(v);
  const uint32x4_t lsb = vandq_u32(vshrq_n_u32(bits, 16), vdupq_n_u32(1));
  const uint32x4_t top = vdupq_n_u32(0xFFFF0000u);
  const uint32x4_t rounded = vandq_u32(vaddq_u32(vaddq_u32(bits, vdupq_n_u32(0x7FFF)), lsb), top);
  const uint32x4_t quiet = vandq_u32(vorrq_u32(bits, vdupq_n_u32(0x00400000)), top);
  const uint32x4_t nan = vcgtq_u32(vandq_u32(bits, vdupq_n_u32(0x7FFFFFFF)), vdupq_n_u32(0x7F800000));
  return vreinterpretq_f32_u32(vbslq_u32(nan, quiet, rounded));
}

float32x4_t round_to(float32x4_t v, Rounding r) {
  if (r == Rounding::kHalf) return round_half(v);
  if (r == Rounding::kBFloat16) return round_bf16(v);
  return v;
}

void dequant_row_neon(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  for (int64_t c = 0; c < kPanelCols; c += 8) {
    const int16x8_t wide = vmovl_s8(vld1_s8(q + c));
    float32x4_t w[2] = {vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide))), vcvtq_f32_s32(vmovl_high_s16(wide))};
    for (int h = 0; h < 2; ++h) {
      if (offset != nullptr) w[h] = vaddq_f32(w[h], vld1q_f32(offset + c + 4 * h));
      if (scale != nullptr) {
        if (offset != nullptr) w[h] = round_to(w[h], r);
        w[h] = round_to(vmulq_f32(w[h], vld1q_f32(scale + c + 4 * h)), r);
      }
      vst1q_f32(out + c + 4 * h, w[h]);
    }
  }
}

void dequant_int4_row_neon(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  int8_t q[kPanelCols];
  const uint8x16_t low_bits = vdupq_n_u8(0x0F);
  const int8x16_t eight = vdupq_n_s8(8);
  for (int h = 0; h < 2; ++h) {
    const uint8x16_t b = vld1q_u8(bytes + 16 * h);
    const uint8x16x2_t pairs = vzipq_u8(vandq_u8(b, low_bits), vshrq_n_u8(b, 4));  // column order
    for (int z = 0; z < 2; ++z) {
      const int8x16_t v = vreinterpretq_s8_u8(pairs.val[z]);
      vst1q_s8(q + 32 * h + 16 * z, vsubq_s8(veorq_s8(v, eight), eight));  // 0..15 to [-8, 7]
    }
  }
  dequant_row_neon(q, offset, scale, r, out);
}

void accumulate_neon(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc) {
  constexpr int kVectors = static_cast<int>(kPanelCols / 4);
  for (int64_t i = 0; i < rows; ++i) {
    float32x4_t a[kVectors];
    for (int v = 0; v < kVectors; ++v) a[v] = vld1q_f32(acc + i * kPanelCols + 4 * v);
    for (int64_t t = 0; t < kp; ++t) {
      const float32x4_t xv = vdupq_n_f32(x[i * x_stride + t]);
      for (int v = 0; v < kVectors; ++v) a[v] = vfmaq_f32(a[v], xv, vld1q_f32(w + t * kPanelCols + 4 * v));
    }
    for (int v = 0; v < kVectors; ++v) vst1q_f32(acc + i * kPanelCols + 4 * v, a[v]);
  }
}

void multiply_add_neon(const float *x, const float *w, float *acc) {
  for (int64_t c = 0; c < kPanelCols; c += 4)
    vst1q_f32(acc + c, vfmaq_f32(vld1q_f32(acc + c), vld1q_f32(x + c), vld1q_f32(w + c)));
}

}  // namespace

namespace neon {

void dequant_row(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_row_neon(q, offset, scale, r, out);
}
void accumulate(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc) {
  accumulate_neon(x, x_stride, rows, w, kp, acc);
}
void multiply_add(const float *x, const float *w, float *acc) { multiply_add_neon(x, w, acc); }
void multiply_add_int4(const uint8_t *bytes, int64_t row_bytes, int64_t columns, const float *table, const float *x,
                       int64_t x_stride, int64_t rows, float *lanes) {
  multiply_add_int4_in_steps<multiply_add_neon>(bytes, row_bytes, columns, table, x, x_stride, rows, lanes);
}

}  // namespace neon

const MatmulKernels matmul_neon =
    kernels_in_steps<dequant_row_neon, dequant_int4_row_neon, accumulate_neon, multiply_add_neon>();

}  // namespace int4pack::kernels
