// Matmul steps with AVX-512 (and F16C's 512-bit form): sixteen floats a vector, four rows of x at a time
// (16 of the 32 registers hold 4 x 64 accumulators).
#include <immintrin.h>

#include "kernels/matmul_kernels.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

struct Avx512 {
  using V = __m512;
  using I = __m512i;
  static constexpr int64_t kLanes = 16;
  static V load(const float *p) { return _mm512_loadu_ps(p); }
  static void store(float *p, V v) { _mm512_storeu_ps(p, v); }
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V from_int8(const int8_t *q) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(q))));
  }
  static V round_half(V v) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static I iset1(int v) { return _mm512_set1_epi32(v); }
  static I iand(I a, I b) { return _mm512_and_si512(a, b); }
  static I ior(I a, I b) { return _mm512_or_si512(a, b); }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static I isrl16(I a) { return _mm512_srli_epi32(a, 16); }
  static I iselect_nan(I bits, I if_nan, I otherwise) {
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, iset1(0x7FFFFFFF)), iset1(0x7F800000));
    return _mm512_mask_blend_epi32(nan, otherwise, if_nan);
  }
  static V round_bf16(V v) { return _mm512_castsi512_ps(bf16_round_bits<I, Avx512>(_mm512_castps_si512(v))); }
};

void dequant_row_avx512(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_row_x86<Avx512>(q, offset, scale, r, out);
}

void dequant_int4_row_avx512(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  dequant_int4_row_x86<Avx512>(bytes, offset, scale, r, out);
}

void accumulate_avx512(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc) {
  accumulate_x86<Avx512, 4>(x, x_stride, rows, w, kp, acc);
}

void multiply_add_avx512(const float *x, const float *w, float *acc) { multiply_add_x86<Avx512>(x, w, acc); }

}  // namespace

const MatmulKernels matmul_avx512{dequant_row_avx512, dequant_int4_row_avx512, accumulate_avx512, multiply_add_avx512};

}  // namespace int4pack::kernels
