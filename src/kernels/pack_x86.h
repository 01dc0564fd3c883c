// The ND and FRACTAL_NZ packing both x86 kernel sets share: only their 64-value step differs. Included
// by pack_avx2.cc and pack_avx512.cc alone, so it is compiled with their ISA flags and nowhere else.
#ifndef INT4PACK_KERNELS_PACK_X86_H_
#define INT4PACK_KERNELS_PACK_X86_H_

#include <immintrin.h>

#include "kernels/nz_walk.h"

namespace int4pack::kernels {
namespace {

// pack64(in) -> __m256i: 64 values packed into 32 bytes. With `streaming`, whole 64-byte lines go out
// with non-temporal stores from the first line boundary on.
template <typename Pack64>
inline void pack_nd_x86(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming, Pack64 pack64) {
  int64_t j = 0;
  if (streaming) {
    const int64_t head = static_cast<int64_t>((64 - reinterpret_cast<uintptr_t>(dst) % 64) % 64);
    j = head < bytes ? head : bytes;
    pack_pairs(src, dst, j);
    for (; j + 64 <= bytes; j += 64) {
      _mm256_stream_si256(reinterpret_cast<__m256i *>(dst + j), pack64(src + 2 * j));
      _mm256_stream_si256(reinterpret_cast<__m256i *>(dst + j + 32), pack64(src + 2 * j + 64));
    }
    _mm_sfence();
  }
  for (; j + 32 <= bytes; j += 32) _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst + j), pack64(src + 2 * j));
  pack_pairs(src + 2 * j, dst + j, bytes - j);
}

template <typename Pack64>
inline void pack_nz_x86(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                        bool streaming, Pack64 pack64) {
  const auto full = [pack64](const int32_t *in, uint8_t *out) {
    _mm256_store_si256(reinterpret_cast<__m256i *>(out), pack64(in));  // into the aligned staging area
  };
  if (streaming && reinterpret_cast<uintptr_t>(dst) % 32 == 0) {
    walk_pack_nz(src, dst, shape, rb_begin, rb_end, full, pack_tail, [](const uint8_t *staged, uint8_t *out) {
      for (int64_t i = 0; i < kBlockBytes; i += 32) {
        _mm256_stream_si256(reinterpret_cast<__m256i *>(out + i),
                            _mm256_load_si256(reinterpret_cast<const __m256i *>(staged + i)));
      }
    });
    _mm_sfence();
    return;
  }
  walk_pack_nz(src, dst, shape, rb_begin, rb_end, full, pack_tail, copy_block);
}

// OR of (v - low) over 32 values a step, in four independent accumulators so the loads stream; one test
// at the end. 256-bit registers for both kernel sets: on the CPUs measured, 512-bit loads streamed slower.
inline bool fits_int4_x86(const int32_t *src, int64_t n, int32_t low) {
  const __m256i base = _mm256_set1_epi32(low);
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + i + 8 * k));
      acc[k] = _mm256_or_si256(acc[k], _mm256_sub_epi32(v, base));
    }
  }
  const __m256i all = _mm256_or_si256(_mm256_or_si256(acc[0], acc[1]), _mm256_or_si256(acc[2], acc[3]));
  return _mm256_testz_si256(all, _mm256_set1_epi32(~0xF)) && outside_int4_bits(src + i, n - i, low) == 0;
}

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_PACK_X86_H_
