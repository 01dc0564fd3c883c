// Matmul steps with AVX2, FMA and F16C: eight floats a vector. A weight row decoded straight into registers
// serves one row of x (64 columns of accumulators take 8 of the 16 registers); more rows go through a
// decoded panel, 6 rows by 16 columns at a time (Avx2::kAccRows, kStripVectors).
#include <immintrin.h>

#include "kernels/matmul_avx2_lanes.h"
#include "kernels/matmul_avx2_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

void dequant_row_avx2(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_row_x86<Avx2>(q, offset, scale, r, out);
}

void dequant_int4_row_avx2(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_int4_row_x86<Avx2>(bytes, offset, scale, r, out);
}

void accumulate_avx2(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc) {
  accumulate_x86<Avx2>(x, x_stride, rows, w, kp, acc);
}

void multiply_add_avx2(const float *x, const float *w, float *acc) { multiply_add_x86<Avx2>(x, w, acc); }

// One row of x keeps 8 accumulators, the row's 8 decoded vectors and the 16 of scale and offset in the 16
// registers only just: more rows go through a decoded panel.
void accumulate_int4_avx2(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  accumulate_fused_x86<Avx2, Int4Values<Avx2>, 1>(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
}

void accumulate_int8_avx2(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  accumulate_fused_x86<Avx2, Int8Values<Avx2>, 1>(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
}

void accumulate_int8_blocks_avx2(const uint8_t *bytes, int64_t second, int64_t kp, const float *offset,
                                 const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows,
                                 float *acc) {
  accumulate_fused_x86<Avx2, Int8Values<Avx2>, 1>(bytes, kInt8BlockRowBytes, kp, offset, scale, r, x, x_stride, rows,
                                                  acc, second);
}

}  // namespace

const MatmulKernels matmul_avx2{dequant_row_avx2,
                                dequant_int4_row_avx2,
                                accumulate_avx2,
                                multiply_add_avx2,
                                accumulate_int4_avx2,
                                multiply_add_int4_x86<Avx2>,
                                accumulate_int8_avx2,
                                accumulate_int4_tiles_in_steps<accumulate_int4_avx2>,
                                accumulate_int4_tiles_by_lanes_avx2,
                                true,
                                accumulate_int8_blocks_avx2};

}  // namespace int4pack::kernels
