// The AVX-512 kernel tables' entries by name, for the sets that share them (avx512bf16 and avx512fp16). A
// table built from these addresses is constant-initialized; a copy of another table would be made at
// start-up, by code compiled with the copying file's ISA flags, which runs on every CPU (and a CPU without
// AVX-512 faults on it). tests/core checks that no file compiled with ISA flags has start-up code.
// Included by the AVX-512 kernel files alone.
#ifndef INT4PACK_KERNELS_AVX512_STEPS_H_
#define INT4PACK_KERNELS_AVX512_STEPS_H_

#include <cstdint>

#include "core/layout.h"
#include "kernels/cast_kernels.h"
#include "kernels/matmul_kernels.h"
#include "kernels/pack_kernels.h"

namespace int4pack::kernels::avx512 {

void pack_nd(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming);
void unpack_nd(const uint8_t *src, int32_t *dst, int64_t bytes);
void pack_nz(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end, bool streaming);
void unpack_nz(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end);
bool fits_int4(const int32_t *src, int64_t n, int32_t low);

constexpr PackKernels pack_table() { return {pack_nd, unpack_nd, pack_nz, unpack_nz, fits_int4}; }

void float_to_half(const float *src, uint16_t *dst, int64_t n);
void half_to_float(const uint16_t *src, float *dst, int64_t n);
void float_to_bfloat16(const float *src, uint16_t *dst, int64_t n);
void bfloat16_to_float(const uint16_t *src, float *dst, int64_t n);

constexpr CastKernels cast_table() { return {float_to_half, half_to_float, float_to_bfloat16, bfloat16_to_float}; }

void dequant_row(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out);
void dequant_int4_row(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out);
void accumulate(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc);
void multiply_add(const float *x, const float *w, float *acc);
void accumulate_int4(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                     Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc);
void multiply_add_int4(const uint8_t *bytes, int64_t row_bytes, int64_t columns, const float *table, const float *x,
                       int64_t x_stride, int64_t rows, float *lanes);
void accumulate_int8(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                     Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc);
void accumulate_int8_blocks(const uint8_t *bytes, int64_t second, int64_t kp, const float *offset, const float *scale,
                            Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc);
void accumulate_int4_tiles(const TileRun &run);
void accumulate_int4_tiles_by_lanes(const TileRun &run);

constexpr MatmulKernels matmul_table() {
  return {dequant_row,     dequant_int4_row,      accumulate,
          multiply_add,    accumulate_int4,       multiply_add_int4,
          accumulate_int8, accumulate_int4_tiles, accumulate_int4_tiles_by_lanes,
          false,           accumulate_int8_blocks};
}

}  // namespace int4pack::kernels::avx512

#endif  // INT4PACK_KERNELS_AVX512_STEPS_H_
