// Portable matmul steps, one value at a time: the golden steps as written (core/floats.h rounding), and
// products summed over k with std::fma (which rounds exactly as the vector FMAs do).
#include <cmath>

#include "core/floats.h"
#include "kernels/matmul_kernels.h"

namespace int4pack::kernels {
namespace {

float round_to(float v, Rounding r) {
  switch (r) {
    case Rounding::kHalf:
      return round_to_half(v);
    case Rounding::kBFloat16:
      return round_to_bfloat16(v);
    case Rounding::kNone:
      break;
  }
  return v;
}

void dequant_row_scalar(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  for (int64_t c = 0; c < kPanelCols; ++c) {
    float w = static_cast<float>(q[c]);
    if (offset != nullptr) w = w + offset[c];
    if (scale == nullptr) {
      out[c] = w;
      continue;
    }
    if (offset != nullptr) w = round_to(w, r);
    out[c] = round_to(w * scale[c], r);
  }
}

void dequant_int4_row_scalar(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  int8_t q[kPanelCols];
  for (int64_t i = 0; i < kPanelCols / 2; ++i) {
    q[2 * i] = static_cast<int8_t>(static_cast<int8_t>(bytes[i] << 4) >> 4);
    q[2 * i + 1] = static_cast<int8_t>(static_cast<int8_t>(bytes[i]) >> 4);
  }
  dequant_row_scalar(q, offset, scale, r, out);
}

void accumulate_scalar(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc) {
  for (int64_t i = 0; i < rows; ++i) {
    float *a = acc + i * kPanelCols;
    for (int64_t t = 0; t < kp; ++t) {
      const float xv = x[i * x_stride + t];
      const float *wr = w + t * kPanelCols;
      for (int64_t c = 0; c < kPanelCols; ++c) a[c] = std::fma(xv, wr[c], a[c]);
    }
  }
}

void multiply_add_scalar(const float *x, const float *w, float *acc) {
  for (int64_t c = 0; c < kPanelCols; ++c) acc[c] = std::fma(x[c], w[c], acc[c]);
}

// The plain steps, and the by-lanes order as its definition reads (the reference the vector kernels of that
// order are compared with).
constexpr MatmulKernels scalar_table() {
  MatmulKernels t =
      kernels_in_steps<dequant_row_scalar, dequant_int4_row_scalar, accumulate_scalar, multiply_add_scalar>();
  t.accumulate_int4_tiles_by_lanes = accumulate_int4_tiles_by_lanes_in_steps<dequant_int4_row_scalar>;
  return t;
}

}  // namespace

const MatmulKernels matmul_scalar = scalar_table();

}  // namespace int4pack::kernels
