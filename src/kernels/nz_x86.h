// The FRACTAL_NZ pack both x86 kernel sets share: only their 64-value step differs. Included by
// pack_avx2.cc and pack_avx512.cc alone, so it is compiled with their ISA flags and nowhere else.
#ifndef INT4PACK_KERNELS_NZ_X86_H_
#define INT4PACK_KERNELS_NZ_X86_H_

#include <immintrin.h>

#include "kernels/nz_walk.h"

namespace int4pack::kernels {
namespace {

// pack64(in) -> __m256i: 64 values packed into 32 bytes.
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

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_NZ_X86_H_
