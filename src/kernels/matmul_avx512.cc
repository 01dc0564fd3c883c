// Matmul steps with AVX-512 (and F16C's 512-bit form): sixteen floats a vector, four rows of x at a time
// (16 of the 32 registers hold 4 x 64 accumulators).
#include <immintrin.h>

#include "kernels/avx512_steps.h"
#include "kernels/matmul_avx512_lanes.h"
#include "kernels/matmul_avx512_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_split.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

void dequant_row_avx512(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_row_x86<Avx512>(q, offset, scale, r, out);
}

void dequant_int4_row_avx512(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_int4_row_x86<Avx512>(bytes, offset, scale, r, out);
}

void accumulate_avx512(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc) {
  accumulate_x86<Avx512>(x, x_stride, rows, w, kp, acc);
}

void multiply_add_avx512(const float *x, const float *w, float *acc) { multiply_add_x86<Avx512>(x, w, acc); }

// FLOAT16 and BFLOAT16 rows that split rounding serves take it (matmul_split.h); the rest the steps over Ops.
void accumulate_int4_avx512(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset,
                            const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows,
                            float *acc) {
  if (accumulate_split<false>(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc)) return;
  accumulate_fused_x86<Avx512, Int4Values<Avx512>, 4>(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
}

void accumulate_int4_tiles_avx512(const TileRun &run) {
  if (!accumulate_int4_tiles_split(run)) accumulate_int4_tiles_in_steps<accumulate_int4_avx512>(run);
}

// accumulate_int8, or with `second` (the second block's distance) accumulate_int8_blocks.
void accumulate_int8_avx512(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset,
                            const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc,
                            int64_t second = 0) {
  if (accumulate_split<true>(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc, second)) return;
  accumulate_fused_x86<Avx512, Int8Values<Avx512>, 4>(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc,
                                                      second);
}

}  // namespace

namespace avx512 {

void dequant_row(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_row_avx512(q, offset, scale, r, out);
}
void dequant_int4_row(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_int4_row_avx512(bytes, offset, scale, r, out);
}
void accumulate(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc) {
  accumulate_avx512(x, x_stride, rows, w, kp, acc);
}
void multiply_add(const float *x, const float *w, float *acc) { multiply_add_avx512(x, w, acc); }
void accumulate_int4(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                     Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  accumulate_int4_avx512(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
}
void multiply_add_int4(const uint8_t *bytes, int64_t row_bytes, int64_t columns, const float *table, const float *x,
                       int64_t x_stride, int64_t rows, float *lanes) {
  multiply_add_int4_x86<Avx512>(bytes, row_bytes, columns, table, x, x_stride, rows, lanes);
}
void accumulate_int8(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                     Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  accumulate_int8_avx512(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
}
void accumulate_int8_blocks(const uint8_t *bytes, int64_t second, int64_t kp, const float *offset, const float *scale,
                            Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  accumulate_int8_avx512(bytes, kInt8BlockRowBytes, kp, offset, scale, r, x, x_stride, rows, acc, second);
}
void accumulate_int4_tiles(const TileRun &run) { accumulate_int4_tiles_avx512(run); }
void accumulate_int4_tiles_by_lanes(const TileRun &run) { accumulate_int4_tiles_by_lanes_avx512(run); }

}  // namespace avx512

const MatmulKernels matmul_avx512 = avx512::matmul_table();

}  // namespace int4pack::kernels
