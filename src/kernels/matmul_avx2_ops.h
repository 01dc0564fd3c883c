// The AVX2 vector operations of the matmul steps (matmul_x86.h's Ops). Included by the AVX2 matmul kernel
// file alone, which is built with the flags it needs.
#ifndef INT4PACK_KERNELS_MATMUL_AVX2_OPS_H_
#define INT4PACK_KERNELS_MATMUL_AVX2_OPS_H_

#include <immintrin.h>

#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

struct Avx2 {
  using V = __m256;
  using I = __m256i;
  static constexpr int64_t kLanes = 8;
  // A decoded panel's blocking (accumulate_x86): 6 rows of x by 2 vectors, 12 accumulators (enough to hide
  // the FMA latency), the strip's 2 weight vectors and a broadcast in the 16 registers; 8 loads a 12 FMAs.
  static constexpr int kAccRows = 6;
  static constexpr int kStripVectors = 2;
  static V load(const float *p) { return _mm256_loadu_ps(p); }
  static void store(float *p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V from_int8(const int8_t *q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(q))));
  }
  static V round_half(V v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static I to_bits(V v) { return _mm256_castps_si256(v); }
  static V from_bits(I i) { return _mm256_castsi256_ps(i); }
  static I iset1(int v) { return _mm256_set1_epi32(v); }
  static I iand(I a, I b) { return _mm256_and_si256(a, b); }
  static I ior(I a, I b) { return _mm256_or_si256(a, b); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static I isrl16(I a) { return _mm256_srli_epi32(a, 16); }
  static I iselect_nan(I bits, I if_nan, I otherwise) {
    const I nan = _mm256_cmpgt_epi32(_mm256_and_si256(bits, iset1(0x7FFFFFFF)), iset1(0x7F800000));
    return _mm256_blendv_epi8(otherwise, if_nan, nan);
  }
  static V round_bf16(V v) { return _mm256_castsi256_ps(bf16_round_bits<I, Avx2>(_mm256_castps_si256(v))); }
  // 64 int4 values (32 bytes, value 2i in the low nibble of byte i) as eight vectors of floats in column
  // order: the nibbles spread to one signed byte each, then widened eight at a time.
  static void int4_to_float(const uint8_t *bytes, V *out) {
    const __m256i eight = _mm256_set1_epi8(8);
    for (int h = 0; h < 2; ++h) {
      const __m256i words = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(bytes + 16 * h)));
      const __m256i ordered = _mm256_or_si256(_mm256_and_si256(words, _mm256_set1_epi16(0x000F)),
                                              _mm256_and_si256(_mm256_slli_epi16(words, 4), _mm256_set1_epi16(0x0F00)));
      const __m256i q = _mm256_sub_epi8(_mm256_xor_si256(ordered, eight), eight);  // 0..15 to [-8, 7]
      const __m128i low = _mm256_castsi256_si128(q), high = _mm256_extracti128_si256(q, 1);
      out[4 * h] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low));
      out[4 * h + 1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(low, 8)));
      out[4 * h + 2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(high));
      out[4 * h + 3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(high, 8)));
    }
  }
  // The 64 nibbles each replaced by table[nibble], in nibble order: two 8-entry lookups, the nibble's bit 3
  // choosing (VPERMPS reads an index's low 3 bits).
  static void int4_lookup(const uint8_t *bytes, const float *table, V *out) {
    const V low_half = _mm256_loadu_ps(table), high_half = _mm256_loadu_ps(table + 8);
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 2; ++s) {
        for (int e = 0; e < 2; ++e) {
          const __m256i bytes8 =
              _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(bytes + 16 * h + 8 * e)));
          const __m256i index = s == 0 ? bytes8 : _mm256_srli_epi32(bytes8, 4);
          const V from_low = _mm256_permutevar8x32_ps(low_half, index);
          const V from_high = _mm256_permutevar8x32_ps(high_half, index);
          out[4 * h + 2 * s + e] =
              _mm256_blendv_ps(from_low, from_high, _mm256_castsi256_ps(_mm256_slli_epi32(index, 28)));
        }
      }
    }
  }
};

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_AVX2_OPS_H_
