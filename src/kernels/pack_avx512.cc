// AVX-512 kernels (F + BW + VL). Compiled with those flags; called only when the CPU and OS support them.
#include <immintrin.h>

#include "kernels/avx512_steps.h"
#include "kernels/nz_walk.h"
#include "kernels/pack_kernels.h"
#include "kernels/pack_x86.h"

namespace int4pack::kernels {
namespace {

// Reads are 256 bits wide on purpose: on some AVX-512 CPUs (AMD Zen 5, measured with scripts/bench)
// 512-bit loads stream from memory about a third slower than 256-bit ones, and this kernel is bound by
// reading. AVX-512 contributes the one-instruction word permute.

// 64 int32 values -> 32 packed bytes. Mask to nibbles, pack to 16 bits, multiply-add each pair into its
// byte (low + 16 * high), pack twice more; the packs work within 128-bit lanes, leaving result word q at
// word q / 2 (q even) or 8 + q / 2 (q odd), which one vpermw undoes.
inline __m256i pack64(const int32_t *src) {
  const __m256i nibble = _mm256_set1_epi32(0xF);
  const __m256i low_plus_16_high = _mm256_set1_epi32(0x00100001);
  __m256i pairs[4];
  for (int i = 0; i < 4; ++i) {
    const __m256i a = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + 16 * i)), nibble);
    const __m256i b = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + 16 * i + 8)), nibble);
    pairs[i] = _mm256_madd_epi16(_mm256_packus_epi32(a, b), low_plus_16_high);
  }
  const __m256i bytes =
      _mm256_packus_epi16(_mm256_packus_epi32(pairs[0], pairs[1]), _mm256_packus_epi32(pairs[2], pairs[3]));
  const __m256i order = _mm256_setr_epi16(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  return _mm256_permutexvar_epi16(order, bytes);
}

// Four packed rows of a block -> 128 bytes: two whole-line streaming stores (measured a few percent
// faster than four 256-bit ones).
inline void store128(uint8_t *out, __m256i r0, __m256i r1, __m256i r2, __m256i r3) {
  _mm512_stream_si512(reinterpret_cast<__m512i *>(out), _mm512_inserti64x4(_mm512_castsi256_si512(r0), r1, 1));
  _mm512_stream_si512(reinterpret_cast<__m512i *>(out + 64), _mm512_inserti64x4(_mm512_castsi256_si512(r2), r3, 1));
}

// 16 packed bytes -> 32 int32 values, sign-extended.
inline void unpack16(const uint8_t *src, int32_t *dst) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src));
  const __m128i low_nibbles = _mm_set1_epi8(0x0F);
  const __m128i eight = _mm_set1_epi8(8);
  const __m128i lo = _mm_and_si128(x, low_nibbles);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), low_nibbles);
  const __m128i first = _mm_sub_epi8(_mm_xor_si128(_mm_unpacklo_epi8(lo, hi), eight), eight);
  const __m128i second = _mm_sub_epi8(_mm_xor_si128(_mm_unpackhi_epi8(lo, hi), eight), eight);
  _mm512_storeu_si512(dst, _mm512_cvtepi8_epi32(first));
  _mm512_storeu_si512(dst + 16, _mm512_cvtepi8_epi32(second));
}

void pack_nd_avx512(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming) {
  pack_nd_x86(src, dst, bytes, streaming, pack64);
}

void pack_nz_avx512(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                    bool streaming) {
  pack_nz_x86(src, dst, shape, rb_begin, rb_end, streaming, pack64, store128);
}

bool fits_int4_avx512(const int32_t *src, int64_t n, int32_t low) { return fits_int4_x86(src, n, low); }

void unpack_nd_avx512(const uint8_t *src, int32_t *dst, int64_t bytes) { unpack_nd_by_16(src, dst, bytes, unpack16); }

void unpack_nz_avx512(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end) {
  unpack_nz_by_16(src, dst, shape, rb_begin, rb_end, unpack16);
}

}  // namespace

namespace avx512 {

void pack_nd(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming) {
  pack_nd_avx512(src, dst, bytes, streaming);
}
void unpack_nd(const uint8_t *src, int32_t *dst, int64_t bytes) { unpack_nd_avx512(src, dst, bytes); }
void pack_nz(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end, bool streaming) {
  pack_nz_avx512(src, dst, shape, rb_begin, rb_end, streaming);
}
void unpack_nz(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end) {
  unpack_nz_avx512(src, dst, shape, rb_begin, rb_end);
}
bool fits_int4(const int32_t *src, int64_t n, int32_t low) { return fits_int4_avx512(src, n, low); }

}  // namespace avx512

const PackKernels pack_avx512 = avx512::pack_table();

}  // namespace int4pack::kernels
