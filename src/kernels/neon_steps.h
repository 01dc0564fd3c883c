// The NEON kernel tables' entries by name, for the set that shares them (neonfp16), as avx512_steps.h is for
// the AVX-512 sets: a table built from these addresses is constant-initialized, where a copy of the NEON
// table would be made at start-up by code compiled with neonfp16's ISA flags. Included by the NEON kernel
// files alone.
#ifndef INT4PACK_KERNELS_NEON_STEPS_H_
#define INT4PACK_KERNELS_NEON_STEPS_H_

#include <cstdint>

#include "core/layout.h"
#include "kernels/cast_kernels.h"
#include "kernels/matmul_kernels.h"
#include "kernels/pack_kernels.h"

namespace int4pack::kernels::neon {

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

// The matmul steps neonfp16 keeps as they are.
void dequant_row(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out);
void accumulate(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc);
void multiply_add(const float *x, const float *w, float *acc);
void multiply_add_int4(const uint8_t *bytes, int64_t row_bytes, int64_t columns, const float *table, const float *x,
                       int64_t x_stride, int64_t rows, float *lanes);

}  // namespace int4pack::kernels::neon

#endif  // INT4PACK_KERNELS_NEON_STEPS_H_
