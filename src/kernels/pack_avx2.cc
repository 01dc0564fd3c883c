// AVX2 kernels. Compiled with -mavx2; called only when the CPU and OS support AVX2.
#include <immintrin.h>

#include "kernels/nz_walk.h"
#include "kernels/pack_kernels.h"
#include "kernels/pack_x86.h"

namespace int4pack::kernels {
namespace {

// 64 int32 values -> 32 packed bytes, in order.
inline __m256i pack64(const int32_t *src) {
  const __m256i nibble = _mm256_set1_epi32(0xF);
  const __m256i low_plus_16_high = _mm256_set1_epi32(0x00100001);  // madd weights: (a, b) -> a + 16 * b
  __m256i pairs[4];
  for (int i = 0; i < 4; ++i) {
    const __m256i a = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + 16 * i)), nibble);
    const __m256i b = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + 16 * i + 8)), nibble);
    pairs[i] = _mm256_madd_epi16(_mm256_packus_epi32(a, b), low_plus_16_high);  // one packed byte per int32
  }
  const __m256i bytes =
      _mm256_packus_epi16(_mm256_packus_epi32(pairs[0], pairs[1]), _mm256_packus_epi32(pairs[2], pairs[3]));
  // The in-lane packs leave 16-bit words 0, 2, .., 14 of the result in the low lane and 1, 3, .., 15 in
  // the high lane: interleave the two lanes' words.
  const __m256i swapped = _mm256_permute4x64_epi64(bytes, 0x4E);
  const __m256i first = _mm256_unpacklo_epi16(bytes, swapped);
  const __m256i second = _mm256_unpackhi_epi16(bytes, swapped);
  return _mm256_permute2x128_si256(first, second, 0x20);
}

// Four packed rows of a block -> 128 bytes, streaming stores.
inline void store128(uint8_t *out, __m256i r0, __m256i r1, __m256i r2, __m256i r3) {
  auto *o = reinterpret_cast<__m256i *>(out);
  _mm256_stream_si256(o + 0, r0);
  _mm256_stream_si256(o + 1, r1);
  _mm256_stream_si256(o + 2, r2);
  _mm256_stream_si256(o + 3, r3);
}

// 16 packed bytes -> 32 int32 values, sign-extended.
inline void unpack16(const uint8_t *src, int32_t *dst) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src));
  const __m128i low_nibbles = _mm_set1_epi8(0x0F);
  const __m128i eight = _mm_set1_epi8(8);
  const __m128i lo = _mm_and_si128(x, low_nibbles);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), low_nibbles);
  // (n ^ 8) - 8 sign-extends a nibble within its byte.
  const __m128i first = _mm_sub_epi8(_mm_xor_si128(_mm_unpacklo_epi8(lo, hi), eight), eight);
  const __m128i second = _mm_sub_epi8(_mm_xor_si128(_mm_unpackhi_epi8(lo, hi), eight), eight);
  auto *out = reinterpret_cast<__m256i *>(dst);
  _mm256_storeu_si256(out + 0, _mm256_cvtepi8_epi32(first));
  _mm256_storeu_si256(out + 1, _mm256_cvtepi8_epi32(_mm_srli_si128(first, 8)));
  _mm256_storeu_si256(out + 2, _mm256_cvtepi8_epi32(second));
  _mm256_storeu_si256(out + 3, _mm256_cvtepi8_epi32(_mm_srli_si128(second, 8)));
}

void pack_nd_avx2(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming) {
  pack_nd_x86(src, dst, bytes, streaming, pack64);
}

void pack_nz_avx2(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                  bool streaming) {
  pack_nz_x86(src, dst, shape, rb_begin, rb_end, streaming, pack64, store128);
}

bool fits_int4_avx2(const int32_t *src, int64_t n, int32_t low) { return fits_int4_x86(src, n, low); }

void unpack_nd_avx2(const uint8_t *src, int32_t *dst, int64_t bytes) { unpack_nd_by_16(src, dst, bytes, unpack16); }

void unpack_nz_avx2(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end) {
  unpack_nz_by_16(src, dst, shape, rb_begin, rb_end, unpack16);
}

}  // namespace

const PackKernels pack_avx2{pack_nd_avx2, unpack_nd_avx2, pack_nz_avx2, unpack_nz_avx2, fits_int4_avx2};

}  // namespace int4pack::kernels
