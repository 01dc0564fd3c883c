// Matmul steps with AVX-512 and AVX512-BF16, for CPUs without AVX-512 FP16 (AMD Zen 4 and 5, Intel Cooper
// Lake): BFLOAT16 INT4 rows rounded by VCVTNE2PS2BF16 where that is exact (matmul_avx512bf16.h); everything
// else the AVX-512 steps. (Copied at start-up from the constant-initialized AVX-512 table.)
#include "kernels/matmul_avx512bf16.h"

#include <immintrin.h>

#include "kernels/matmul_kernels.h"

namespace int4pack::kernels {
namespace {

void accumulate_int4_avx512bf16(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset,
                                const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows,
                                float *acc) {
  if (!accumulate_int4_bf16(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc))
    matmul_avx512.accumulate_int4(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
}

void accumulate_int4_tiles_avx512bf16(const TileRun &run) {
  if (!accumulate_int4_tiles_bf16(run)) accumulate_int4_tiles_in_steps<accumulate_int4_avx512bf16>(run);
}

}  // namespace

const MatmulKernels matmul_avx512bf16 = {matmul_avx512.dequant_row,     matmul_avx512.dequant_int4_row,
                                         matmul_avx512.accumulate,      matmul_avx512.multiply_add,
                                         accumulate_int4_avx512bf16,    matmul_avx512.multiply_add_int4,
                                         matmul_avx512.accumulate_int8, accumulate_int4_tiles_avx512bf16};

}  // namespace int4pack::kernels
