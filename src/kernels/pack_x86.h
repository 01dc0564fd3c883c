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

// FRACTAL_NZ with streaming stores, straight into the output: four rows at a time, so each step gives a
// column block 128 contiguous bytes (two whole lines of its block) from four 256-byte row segments.
// There is no staging area: the staged walk's round trip through L2 cost a core about 15% of its
// bandwidth, and that is what capped NZ at all-core memory speed (writing the staged blocks to sequential
// addresses instead was no faster, so the scattered writes were not the cost). Four rows read side by
// side lose the hardware prefetcher at every row start, so each row stream is prefetched
// kNzPrefetchValues ahead, running on into the next four rows; without it this is slower than staging.
// (Zen 5, 4096x14336, 2 threads, single passes interleaved for nine minutes: median 0.87 of a read-only
// pass, as ND; staging whole row blocks 0.80, the staged walk 0.76. Two or eight rows a step, L1
// staging of column slices, other prefetch distances and prefetching only some lines measured slower.)
//   store128(out, r0, r1, r2, r3)   four packed 32-byte rows -> 128 bytes at out (64-byte aligned)
inline constexpr int64_t kNzGroupRows = 4;
inline constexpr int64_t kNzPrefetchValues = 256;

template <typename Pack64, typename Store128>
inline void pack_nz_streaming_x86(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                                  Pack64 pack64, Store128 store128) {
  const NzGeometry g = nz_geometry(shape);
  const int64_t cols = shape.cols;
  const int64_t full_blocks = g.tail_bytes == kBlockRowBytes ? g.col_blocks : g.col_blocks - 1;
  const int64_t first_row = rb_begin * kBlockRows;
  const int64_t end_row = shape.rows < rb_end * kBlockRows ? shape.rows : rb_end * kBlockRows;
  const int64_t src_values = (end_row - first_row) * cols;
  const int64_t block_step = g.row_blocks * kBlockBytes;  // from a block to the next column block's
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t rb = rb_begin; rb < rb_end; ++rb) {
    for (int64_t r0 = 0; r0 < kBlockRows; r0 += kNzGroupRows) {
      const int64_t row = rb * kBlockRows + r0;
      const int64_t live = row >= shape.rows ? 0 : shape.rows - row < kNzGroupRows ? shape.rows - row : kNzGroupRows;
      const int64_t in_offset = (row - first_row) * cols;  // meaningful only for live rows
      const int32_t *in = live > 0 ? src + in_offset : src;
      uint8_t *out = dst + rb * kBlockBytes + r0 * kBlockRowBytes;
      if (live == kNzGroupRows) {
        for (int64_t b = 0; b < full_blocks; ++b) {
          // The lines kNzPrefetchValues ahead in each of the four rows, or in the next four rows.
          const int64_t ahead = 64 * b + kNzPrefetchValues;
          const int64_t pf = in_offset + (ahead < cols ? ahead : 3 * cols + ahead);
          if (pf + 3 * cols + 64 <= src_values) {
            for (int64_t k = 0; k < kNzGroupRows; ++k) {
              for (int64_t line = 0; line < 64; line += 16) {
                _mm_prefetch(reinterpret_cast<const char *>(src + pf + k * cols + line), _MM_HINT_T0);
              }
            }
          }
          const int32_t *seg = in + 64 * b;
          store128(out + b * block_step, pack64(seg), pack64(seg + cols), pack64(seg + 2 * cols),
                   pack64(seg + 3 * cols));
        }
      } else {  // the last row block's padding rows are zeros
        for (int64_t b = 0; b < full_blocks; ++b) {
          __m256i v[kNzGroupRows];
          for (int64_t k = 0; k < kNzGroupRows; ++k) v[k] = k < live ? pack64(in + k * cols + 64 * b) : zero;
          store128(out + b * block_step, v[0], v[1], v[2], v[3]);
        }
      }
      if (full_blocks < g.col_blocks) {  // the partial last column block, zero-filled
        alignas(32) uint8_t chunk[kNzGroupRows * kBlockRowBytes];
        for (int64_t k = 0; k < kNzGroupRows; ++k) {
          if (k < live) {
            pack_tail(in + k * cols + 64 * full_blocks, chunk + k * kBlockRowBytes, g.tail_bytes);
          } else {
            std::memset(chunk + k * kBlockRowBytes, 0, kBlockRowBytes);
          }
        }
        const auto row_of = [&chunk](int64_t k) {
          return _mm256_load_si256(reinterpret_cast<const __m256i *>(chunk + k * kBlockRowBytes));
        };
        store128(out + full_blocks * block_step, row_of(0), row_of(1), row_of(2), row_of(3));
      }
    }
  }
  _mm_sfence();
}

template <typename Pack64, typename Store128>
inline void pack_nz_x86(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                        bool streaming, Pack64 pack64, Store128 store128) {
  if (streaming && reinterpret_cast<uintptr_t>(dst) % 64 == 0) {
    pack_nz_streaming_x86(src, dst, shape, rb_begin, rb_end, pack64, store128);
    return;
  }
  walk_pack_nz(
      src, dst, shape, rb_begin, rb_end,
      [pack64](const int32_t *in, uint8_t *out) {
        _mm256_store_si256(reinterpret_cast<__m256i *>(out), pack64(in));  // into the aligned staging area
      },
      pack_tail);
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
