// The AVX-512 vector operations of the matmul steps (matmul_x86.h's Ops), shared by the AVX-512 and the
// AVX-512 FP16 tables. Included by their kernel files alone, which are built with the flags it needs.
#ifndef INT4PACK_KERNELS_MATMUL_AVX512_OPS_H_
#define INT4PACK_KERNELS_MATMUL_AVX512_OPS_H_

#include <immintrin.h>

#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

struct Avx512 {
  using V = __m512;
  using I = __m512i;
  static constexpr int64_t kLanes = 16;
  // A decoded panel's blocking (accumulate_x86): 4 rows of x by the whole 64 columns, 16 accumulators.
  static constexpr int kAccRows = 4;
  static constexpr int kStripVectors = 4;
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
  static I to_bits(V v) { return _mm512_castps_si512(v); }
  static V from_bits(I i) { return _mm512_castsi512_ps(i); }
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
  // 64 int4 values (32 bytes, value 2i in the low nibble of byte i) as four vectors of floats in column
  // order: the nibbles are spread to one byte each in place, then each is looked up in a 16-float table.
  static void int4_to_float(const uint8_t *bytes, V *out) { lookup(bytes, _mm512_loadu_ps(kInt4Values), out); }
  // The 64 nibbles each replaced by table[nibble], in nibble order: VPERMPS reads an index's low 4 bits.
  static void int4_lookup(const uint8_t *bytes, const float *table, V *out) {
    const __m512 values = _mm512_loadu_ps(table);
    for (int h = 0; h < 2; ++h) {
      const __m512i index = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(bytes + 16 * h)));
      out[2 * h] = _mm512_permutexvar_ps(index, values);
      out[2 * h + 1] = _mm512_permutexvar_ps(_mm512_srli_epi32(index, 4), values);
    }
  }
  static void lookup(const uint8_t *bytes, __m512 values, V *out) {
    const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(bytes)));
    const __m512i ordered = _mm512_or_si512(_mm512_and_si512(words, _mm512_set1_epi16(0x000F)),
                                            _mm512_and_si512(_mm512_slli_epi16(words, 4), _mm512_set1_epi16(0x0F00)));
    out[0] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm512_castsi512_si128(ordered)), values);
    out[1] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(ordered, 1)), values);
    out[2] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(ordered, 2)), values);
    out[3] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(ordered, 3)), values);
  }
};

// Columns in the order the bytes hold them, which spares the interleaving: the even columns (low
// nibbles) and the odd ones (high nibbles), as floats [0, 2 .. 30], [32 .. 62], [1, 3 .. 31], [33 .. 63].
// The accumulators enter and leave that order once a call (load_acc, store_acc).
struct SplitColumns {
  static void load_acc(const float *natural, __m512 *split) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 n0 = _mm512_loadu_ps(natural), n1 = _mm512_loadu_ps(natural + 16);
    const __m512 n2 = _mm512_loadu_ps(natural + 32), n3 = _mm512_loadu_ps(natural + 48);
    split[0] = _mm512_permutex2var_ps(n0, even, n1);
    split[1] = _mm512_permutex2var_ps(n2, even, n3);
    split[2] = _mm512_permutex2var_ps(n0, odd, n1);
    split[3] = _mm512_permutex2var_ps(n2, odd, n3);
  }
  static void store_acc(const __m512 *split, float *natural) {
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
    _mm512_storeu_ps(natural, _mm512_permutex2var_ps(split[0], low, split[2]));
    _mm512_storeu_ps(natural + 16, _mm512_permutex2var_ps(split[0], high, split[2]));
    _mm512_storeu_ps(natural + 32, _mm512_permutex2var_ps(split[1], low, split[3]));
    _mm512_storeu_ps(natural + 48, _mm512_permutex2var_ps(split[1], high, split[3]));
  }
};

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_AVX512_OPS_H_
