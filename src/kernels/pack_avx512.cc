// AVX-512 kernels (F + BW + VL). Compiled with those flags; called only when the CPU and OS support them.
#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/nz_walk.h"

namespace int4pack::kernels {
namespace {

// 16 int32 values -> 8 packed bytes (low half of the result). Seen as 64-bit lanes, each lane holds one
// pair: shifting the lane right by 28 brings the odd value's low nibble to bits 4..7 next to the even
// value's in bits 0..3; vpmovqb keeps each lane's low byte.
inline __m128i pack16(const int32_t *src) {
  const __m512i x = _mm512_loadu_si512(src);
  const __m512i odd_nibble_up = _mm512_srli_epi64(x, 28);
  const __m512i low_nibble = _mm512_set1_epi64(0x0F);
  const __m512i pairs = _mm512_ternarylogic_epi64(x, odd_nibble_up, low_nibble, 0xE4);  // (x & m) | (y & ~m)
  return _mm512_cvtepi64_epi8(pairs);
}

// 64 int32 values -> 32 packed bytes.
inline __m256i pack64(const int32_t *src) {
  const __m128i first = _mm_unpacklo_epi64(pack16(src), pack16(src + 16));
  const __m128i second = _mm_unpacklo_epi64(pack16(src + 32), pack16(src + 48));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(first), second, 1);
}

// 128 int32 values -> 64 packed bytes (one cache line).
inline __m512i pack128(const int32_t *src) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(pack64(src)), pack64(src + 64), 1);
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

inline bool aligned(const void *p, uintptr_t n) { return reinterpret_cast<uintptr_t>(p) % n == 0; }

}  // namespace

void pack_nd_avx512(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming) {
  int64_t j = 0;
  if (streaming) {
    const int64_t head = static_cast<int64_t>((64 - reinterpret_cast<uintptr_t>(dst) % 64) % 64);
    j = head < bytes ? head : bytes;
    pack_pairs(src, dst, j);
    for (; j + 64 <= bytes; j += 64) _mm512_stream_si512(reinterpret_cast<__m512i *>(dst + j), pack128(src + 2 * j));
    _mm_sfence();
  } else {
    for (; j + 64 <= bytes; j += 64) _mm512_storeu_si512(dst + j, pack128(src + 2 * j));
  }
  for (; j + 32 <= bytes; j += 32) _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst + j), pack64(src + 2 * j));
  pack_pairs(src + 2 * j, dst + j, bytes - j);
}

void pack_nz_avx512(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                    bool streaming) {
  if (streaming && aligned(dst, 32)) {
    walk_pack_nz(
        src, dst, shape, rb_begin, rb_end,
        [](const int32_t *in, uint8_t *out) { _mm256_stream_si256(reinterpret_cast<__m256i *>(out), pack64(in)); },
        pack_tail,
        [](uint8_t *out) { _mm256_stream_si256(reinterpret_cast<__m256i *>(out), _mm256_setzero_si256()); });
    _mm_sfence();
    return;
  }
  walk_pack_nz(
      src, dst, shape, rb_begin, rb_end,
      [](const int32_t *in, uint8_t *out) { _mm256_storeu_si256(reinterpret_cast<__m256i *>(out), pack64(in)); },
      pack_tail, [](uint8_t *out) { _mm256_storeu_si256(reinterpret_cast<__m256i *>(out), _mm256_setzero_si256()); });
}

void unpack_nd_avx512(const uint8_t *src, int32_t *dst, int64_t bytes) {
  int64_t j = 0;
  for (; j + 16 <= bytes; j += 16) unpack16(src + j, dst + 2 * j);
  unpack_pairs(src + j, dst + 2 * j, bytes - j);
}

void unpack_nz_avx512(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end) {
  walk_unpack_nz(
      src, dst, shape, rb_begin, rb_end,
      [](const uint8_t *in, int32_t *out) {
        unpack16(in, out);
        unpack16(in + 16, out + 32);
      },
      unpack_pairs);
}

}  // namespace int4pack::kernels
