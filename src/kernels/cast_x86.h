// The float conversions both x86 kernel sets share, in 256-bit steps (F16C for halves, integer rounding for
// bfloat16), each tail through the scalar definitions. Included by cast_avx2.cc and cast_avx512.cc alone.
#ifndef INT4PACK_KERNELS_CAST_X86_H_
#define INT4PACK_KERNELS_CAST_X86_H_

#include <immintrin.h>

#include "core/floats.h"

namespace int4pack::kernels {
namespace {

inline void float_to_half_x86(const float *src, uint16_t *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = float_to_half(src[i]);
}

inline void half_to_float_x86(const uint16_t *src, float *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i))));
  }
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

// Eight floats to bfloat16 in the low 16 bits of each 32-bit lane: to nearest even by adding 0x7FFF and the
// lowest kept bit; a NaN keeps its top bits with the quiet bit set.
inline __m256i bfloat16_lanes(__m256 v) {
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7FFF)), lsb), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x0040));
  const __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7FFFFFFF));
  const __m256i nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F800000));
  return _mm256_and_si256(_mm256_blendv_epi8(rounded, quiet, nan), _mm256_set1_epi32(0xFFFF));
}

inline void float_to_bfloat16_x86(const float *src, uint16_t *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i lo = bfloat16_lanes(_mm256_loadu_ps(src + i));
    const __m256i hi = bfloat16_lanes(_mm256_loadu_ps(src + i + 8));
    // packus works within 128-bit lanes: words 0-3 lo, 0-3 hi, 4-7 lo, 4-7 hi; permute the quarters back.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst + i), packed);
  }
  for (; i < n; ++i) dst[i] = float_to_bfloat16(src[i]);
}

inline void bfloat16_to_float_x86(const uint16_t *src, float *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i)));
    const __m256i bits = _mm256_slli_epi32(wide, 16);
    const __m256i nan =
        _mm256_cmpgt_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x7FFFFFFF)), _mm256_set1_epi32(0x7F800000));
    const __m256i quiet = _mm256_and_si256(nan, _mm256_set1_epi32(0x00400000));  // a NaN made quiet
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_or_si256(bits, quiet)));
  }
  for (; i < n; ++i) dst[i] = bfloat16_to_float(src[i]);
}

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_CAST_X86_H_
