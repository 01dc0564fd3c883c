// Matmul steps with NEON and the half-precision arithmetic of Armv8.2 (FEAT_FP16): an INT4 or INT8 row is
// antiquantized in half precision, eight values an instruction. The golden steps round (w + offset) and
// (w + offset) * scale to FLOAT16, which is what FADD and FMUL on halves do (IEEE, round to nearest even,
// subnormals kept: Linux leaves FPCR.FZ16 clear), so the result is bit for bit the scalar one. One row of x
// multiplies straight from the registers, 32 columns at a time (their 8 accumulators, 8 decoded vectors and
// 8 of scale and offset fill the 32 registers); more rows, BFLOAT16 activations and rows without a scale
// take a decoded panel and the NEON steps.
#include <arm_neon.h>

#include "kernels/matmul_kernels.h"
#include "kernels/neon_steps.h"

namespace int4pack::kernels {
namespace {

constexpr int64_t kHalfCols = 32;  // columns decoded at a time

// 32 signed int8 values (a row's 32 columns) to halves, exactly.
inline void halves_of_int8(int8x16_t first, int8x16_t second, float16x8_t *h) {
  h[0] = vcvtq_f16_s16(vmovl_s8(vget_low_s8(first)));
  h[1] = vcvtq_f16_s16(vmovl_high_s8(first));
  h[2] = vcvtq_f16_s16(vmovl_s8(vget_low_s8(second)));
  h[3] = vcvtq_f16_s16(vmovl_high_s8(second));
}

// The stored values of 32 columns as halves: 16 bytes of int4 (column 2i in byte i's low nibble), or 32
// int8 values.
struct Int4Halves {
  static constexpr int64_t kBytes = kHalfCols / 2;
  static void load(const uint8_t *bytes, float16x8_t *h) {
    const uint8x16_t b = vld1q_u8(bytes);
    const uint8x16x2_t pairs = vzipq_u8(vandq_u8(b, vdupq_n_u8(0x0F)), vshrq_n_u8(b, 4));  // column order
    const int8x16_t eight = vdupq_n_s8(8);
    halves_of_int8(vsubq_s8(veorq_s8(vreinterpretq_s8_u8(pairs.val[0]), eight), eight),  // 0..15 to [-8, 7]
                   vsubq_s8(veorq_s8(vreinterpretq_s8_u8(pairs.val[1]), eight), eight), h);
  }
};

struct Int8Halves {
  static constexpr int64_t kBytes = kHalfCols;
  static void load(const uint8_t *bytes, float16x8_t *h) {
    halves_of_int8(vld1q_s8(reinterpret_cast<const int8_t *>(bytes)),
                   vld1q_s8(reinterpret_cast<const int8_t *>(bytes) + 16), h);
  }
};

// 32 columns' scale (and offset) in halves; decode: their stored values antiquantized, as 8 float vectors.
template <typename Values, bool kOffset>
struct HalfColumns {
  float16x8_t offset[4], scale[4];
  HalfColumns(const float *o, const float *s) {
    for (int v = 0; v < 4; ++v) {
      if constexpr (kOffset)
        offset[v] = vcombine_f16(vcvt_f16_f32(vld1q_f32(o + 8 * v)), vcvt_f16_f32(vld1q_f32(o + 8 * v + 4)));
      scale[v] = vcombine_f16(vcvt_f16_f32(vld1q_f32(s + 8 * v)), vcvt_f16_f32(vld1q_f32(s + 8 * v + 4)));
    }
  }
  void decode(const uint8_t *bytes, float32x4_t *w) const {
    float16x8_t h[4];
    Values::load(bytes, h);
    for (int v = 0; v < 4; ++v) {
      if constexpr (kOffset) h[v] = vaddq_f16(h[v], offset[v]);
      h[v] = vmulq_f16(h[v], scale[v]);
      w[2 * v] = vcvt_f32_f16(vget_low_f16(h[v]));
      w[2 * v + 1] = vcvt_high_f32_f16(h[v]);
    }
  }
};

// acc[c] += x[t] * w[t][c] over t, for one row of x, each half of the columns straight from the registers.
// second: bytes from a row's first half to its second (Values::kBytes, or an INT8 NZ tile's next block).
template <typename Values, bool kOffset>
void accumulate_one_row(const uint8_t *bytes, int64_t row_bytes, int64_t second, int64_t kp, const float *offset,
                        const float *scale, const float *x, float *acc) {
  for (int64_t c0 = 0; c0 < kPanelCols; c0 += kHalfCols) {
    const HalfColumns<Values, kOffset> d(offset + c0, scale + c0);
    const uint8_t *first = bytes + c0 / kHalfCols * second;
    float32x4_t a[8];
    for (int v = 0; v < 8; ++v) a[v] = vld1q_f32(acc + c0 + 4 * v);
    for (int64_t t = 0; t < kp; ++t) {
      float32x4_t w[8];
      d.decode(first + t * row_bytes, w);
      const float32x4_t xv = vdupq_n_f32(x[t]);
      for (int v = 0; v < 8; ++v) a[v] = vfmaq_f32(a[v], xv, w[v]);
    }
    for (int v = 0; v < 8; ++v) vst1q_f32(acc + c0 + 4 * v, a[v]);
  }
}

// One row of stored values antiquantized into out (64 floats).
template <typename Values, bool kOffset>
void dequant_half(const uint8_t *bytes, const float *offset, const float *scale, float *out,
                  int64_t second = Values::kBytes) {
  for (int64_t c0 = 0; c0 < kPanelCols; c0 += kHalfCols) {
    float32x4_t w[8];
    HalfColumns<Values, kOffset>(offset + c0, scale + c0).decode(bytes + c0 / kHalfCols * second, w);
    for (int v = 0; v < 8; ++v) vst1q_f32(out + c0 + 4 * v, w[v]);
  }
}

template <typename Values, bool kOffset>
void accumulate_half(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                     const float *x, int64_t x_stride, int64_t rows, float *acc, int64_t second = Values::kBytes) {
  if (rows == 1) return accumulate_one_row<Values, kOffset>(bytes, row_bytes, second, kp, offset, scale, x, acc);
  alignas(64) float panel[kMaxFusedRows * kPanelCols];
  for (int64_t t = 0; t < kp; ++t)
    dequant_half<Values, kOffset>(bytes + t * row_bytes, offset, scale, panel + t * kPanelCols, second);
  neon::accumulate(x, x_stride, rows, panel, kp, acc);
}

void dequant_int4_row_fp16(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  if (r != Rounding::kHalf || scale == nullptr) return matmul_neon.dequant_int4_row(bytes, offset, scale, r, out);
  if (offset != nullptr) return dequant_half<Int4Halves, true>(bytes, offset, scale, out);
  dequant_half<Int4Halves, false>(bytes, offset, scale, out);
}

template <typename Values>
void accumulate_fp16(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                     Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  if (r != Rounding::kHalf || scale == nullptr) {
    const auto neon = Values::kBytes == kHalfCols ? matmul_neon.accumulate_int8 : matmul_neon.accumulate_int4;
    return neon(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
  }
  if (offset != nullptr)
    return accumulate_half<Values, true>(bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc);
  accumulate_half<Values, false>(bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc);
}

void accumulate_int8_blocks_fp16(const uint8_t *bytes, int64_t second, int64_t kp, const float *offset,
                                 const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows,
                                 float *acc) {
  if (r != Rounding::kHalf || scale == nullptr) {
    return matmul_neon.accumulate_int8_blocks(bytes, second, kp, offset, scale, r, x, x_stride, rows, acc);
  }
  if (offset != nullptr) {
    return accumulate_half<Int8Halves, true>(bytes, kInt8BlockRowBytes, kp, offset, scale, x, x_stride, rows, acc,
                                             second);
  }
  accumulate_half<Int8Halves, false>(bytes, kInt8BlockRowBytes, kp, offset, scale, x, x_stride, rows, acc, second);
}

}  // namespace

const MatmulKernels matmul_neonfp16 = {neon::dequant_row,
                                       dequant_int4_row_fp16,
                                       neon::accumulate,
                                       neon::multiply_add,
                                       accumulate_fp16<Int4Halves>,
                                       neon::multiply_add_int4,
                                       accumulate_fp16<Int8Halves>,
                                       accumulate_int4_tiles_in_steps<accumulate_fp16<Int4Halves>>,
                                       nullptr,
                                       false,
                                       accumulate_int8_blocks_fp16};

}  // namespace int4pack::kernels
