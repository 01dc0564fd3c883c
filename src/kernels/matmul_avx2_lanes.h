// accumulate_int4_tiles_by_lanes with AVX2: the one-row decode step that looks antiquantized values up
// instead of computing them. Included by the AVX2 matmul kernel file alone, which is built with the flags it
// needs.
//
// As in the AVX-512 kernel (matmul_avx512_lanes.h), each column's antiquantized values over a run are a
// 16-entry table. AVX2's one-instruction lookup in 16 entries is VPSHUFB, a byte from 16 in each 128-bit
// half, so a column's table is kept as four byte planes (byte k of each of its 16 floats) and a float is
// four lookups put together by two rounds of unpacking: 12 byte shuffles for 32 values, where two VPERMPS
// lookups and a blend a vector took half as long again on AMD Zen 3. A 128-bit half holds one column: each
// 16-row block of a tile is transposed by bytes (64 unpacks) so that half h of vector j holds byte 16h + j
// of the 16 rows, the nibbles of columns 32h + 2j and 32h + 2j + 1. The unpacking leaves rows 4q .. 4q + 3
// in vector q, which are the family's lane sums r = 4q + e: four accumulators a column pair.
#ifndef INT4PACK_KERNELS_MATMUL_AVX2_LANES_H_
#define INT4PACK_KERNELS_MATMUL_AVX2_LANES_H_

#include <immintrin.h>

#include <cstring>

#include "kernels/matmul_avx2_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

// The 16 rows at rows + t * row_bytes (32 bytes each) into out[j]: in each 128-bit half h, byte 16h + j of
// rows 0 .. 15. Four rounds of unpacking pairs (bytes, words, dwords, qwords); round n's pair differs in bit
// n - 1 of the row, and its low or high half adds a bit to the byte index, from the top.
inline void transpose_block_avx2(const uint8_t *rows, int64_t row_bytes, __m256i *out) {
  __m256i a[16], b[16];
  for (int t = 0; t < 16; ++t) a[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(rows + t * row_bytes));
  for (int i = 0; i < 8; ++i) {  // b[8 h1 + i]: rows 2i, 2i + 1 of bytes 8 h1 ..
    b[i] = _mm256_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
    b[8 + i] = _mm256_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
  }
  for (int h1 = 0; h1 < 2; ++h1) {  // a[8 h1 + 4 h2 + p]: rows 4p .. 4p + 3 of bytes 8 h1 + 4 h2 ..
    for (int p = 0; p < 4; ++p) {
      a[8 * h1 + p] = _mm256_unpacklo_epi16(b[8 * h1 + 2 * p], b[8 * h1 + 2 * p + 1]);
      a[8 * h1 + 4 + p] = _mm256_unpackhi_epi16(b[8 * h1 + 2 * p], b[8 * h1 + 2 * p + 1]);
    }
  }
  for (int h = 0; h < 4; ++h) {  // b[4 h + 2 h3 + p]: rows 8p .. 8p + 7 of bytes 4 h + 2 h3 ..
    for (int p = 0; p < 2; ++p) {
      b[4 * h + p] = _mm256_unpacklo_epi32(a[4 * h + 2 * p], a[4 * h + 2 * p + 1]);
      b[4 * h + 2 + p] = _mm256_unpackhi_epi32(a[4 * h + 2 * p], a[4 * h + 2 * p + 1]);
    }
  }
  for (int h = 0; h < 8; ++h) {  // all 16 rows of bytes 2 h, 2 h + 1
    out[2 * h] = _mm256_unpacklo_epi64(b[2 * h], b[2 * h + 1]);
    out[2 * h + 1] = _mm256_unpackhi_epi64(b[2 * h], b[2 * h + 1]);
  }
}

// Column c's 16 table values (w[0]: nibbles 0 .. 7, w[1]: 8 .. 15) as byte planes: planes[0] holds planes 0
// and 2 (128-bit halves), planes[1] planes 1 and 3; plane k is byte k of the 16 floats, in nibble order.
inline void byte_planes(const __m256 *w, __m256i *planes) {
  const __m128i by_plane = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m256i group = _mm256_broadcastsi128_si256(by_plane);  // each half: planes 0..3 of its 4 floats
  const __m256i pair_halves = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256i z[2];
  for (int i = 0; i < 2; ++i) {  // z[i]: plane k of nibbles 8i .. 8i + 3, then of 8i + 4 .. 8i + 7, for each k
    z[i] = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(_mm256_castps_si256(w[i]), group), pair_halves);
  }
  planes[0] = _mm256_unpacklo_epi64(z[0], z[1]);
  planes[1] = _mm256_unpackhi_epi64(z[0], z[1]);
}

// The tables of a tile: tables[4 (2 j + h) + k] is byte plane k of column 2j + h (low 128-bit half) and of
// column 32 + 2j + h (high half), by the steps of dequant_row.
template <bool kOffset, bool kScale, Rounding kR>
inline void lookup_tables_fixed(const float *offset, const float *scale, __m256i *tables) {
  __m256i planes[kPanelCols][2];
  for (int64_t c = 0; c < kPanelCols; ++c) {
    __m256 w[2];
    for (int h = 0; h < 2; ++h) {
      w[h] = _mm256_loadu_ps(kInt4Values + 8 * h);
      if constexpr (kOffset) w[h] = _mm256_add_ps(w[h], _mm256_set1_ps(offset[c]));
      if constexpr (kScale) {
        if constexpr (kOffset) w[h] = round_to<Avx2>(w[h], kR);
        w[h] = round_to<Avx2>(_mm256_mul_ps(w[h], _mm256_set1_ps(scale[c])), kR);
      }
    }
    byte_planes(w, planes[c]);
  }
  for (int c = 0; c < 32; ++c) {
    __m256i *t = tables + 4 * c;
    t[0] = _mm256_permute2x128_si256(planes[c][0], planes[32 + c][0], 0x20);
    t[2] = _mm256_permute2x128_si256(planes[c][0], planes[32 + c][0], 0x31);
    t[1] = _mm256_permute2x128_si256(planes[c][1], planes[32 + c][1], 0x20);
    t[3] = _mm256_permute2x128_si256(planes[c][1], planes[32 + c][1], 0x31);
  }
}

inline void lookup_tables(const float *offset, const float *scale, Rounding r, __m256i *tables) {
  with_modes(offset, scale, r, [&](auto has_offset, auto has_scale, auto rounding) {
    lookup_tables_fixed<decltype(has_offset)::value, decltype(has_scale)::value, decltype(rounding)::value>(
        offset, scale, tables);
  });
}

constexpr int kAvx2LaneBlocks = static_cast<int>(kMaxFusedRows / 16);  // 16-row blocks of a run, at most

// The rows of a run's last, partial block that lie in the run, by accumulator q (rows 4q .. 4q + 3 in each
// 128-bit half), and x's values of that block with zeros past the run.
struct PartialBlock {
  __m256i live[4];
  alignas(16) float x[16] = {};
  PartialBlock(int64_t kp, const float *xrow) {
    const int64_t first = kp / 16 * 16, rows = kp - first;
    for (int q = 0; q < 4; ++q) {
      const __m256i row =
          _mm256_setr_epi32(4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3, 4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3);
      live[q] = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rows)), row);
    }
    if (rows > 0) std::memcpy(x, xrow + first, static_cast<size_t>(rows) * sizeof(float));
  }
};

// One block's step of pair_sums: a[q] lane e += x[4q + e] * the value of row 4q + e (kPartial: only the rows
// that lie in the run).
template <int kH, bool kPartial>
[[gnu::always_inline]] inline void block_step(__m256i bytes, const __m256i *table, const float *x, const __m256i *live,
                                              __m256 *a) {
  const __m256i index = _mm256_and_si256(kH == 0 ? bytes : _mm256_srli_epi16(bytes, 4), _mm256_set1_epi8(0x0F));
  __m256i plane[4];
  for (int k = 0; k < 4; ++k) plane[k] = _mm256_shuffle_epi8(table[k], index);
  const __m256i b01[2] = {_mm256_unpacklo_epi8(plane[0], plane[1]), _mm256_unpackhi_epi8(plane[0], plane[1])};
  const __m256i b23[2] = {_mm256_unpacklo_epi8(plane[2], plane[3]), _mm256_unpackhi_epi8(plane[2], plane[3])};
  for (int q = 0; q < 4; ++q) {
    const __m256i w =
        q % 2 == 0 ? _mm256_unpacklo_epi16(b01[q / 2], b23[q / 2]) : _mm256_unpackhi_epi16(b01[q / 2], b23[q / 2]);
    const __m256 xv = _mm256_broadcast_ps(reinterpret_cast<const __m128 *>(x + 4 * q));
    const __m256 sum = _mm256_fmadd_ps(xv, _mm256_castsi256_ps(w), a[q]);
    a[q] = kPartial ? _mm256_blendv_ps(a[q], sum, _mm256_castsi256_ps(live[q])) : sum;
  }
}

// Column pair (2j + h, 32 + 2j + h)'s 16 lane sums over the run's blocks, folded to r + 8 and r + 4 (fold_lanes):
// lane e of each half is v[e] = p[e] + p[e + 8] + (p[e + 4] + p[e + 12]).
template <int kH>
inline __m256 pair_sums(const __m256i (&blocks)[kAvx2LaneBlocks][16], int j, int full, int count, const __m256i *table,
                        const float *x, const PartialBlock &partial) {
  __m256 a[4];
  for (int q = 0; q < 4; ++q) a[q] = _mm256_setzero_ps();
  for (int b = 0; b < full; ++b) block_step<kH, false>(blocks[b][j], table, x + 16 * b, partial.live, a);
  if (count > full) block_step<kH, true>(blocks[full][j], table, partial.x, partial.live, a);
  return _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3]));
}

// The last rounds of fold_lanes (r + 2, r + 1) of four column pairs' v, each 128-bit half on its own: lane
// 4L + i of the result is the sum of v[i]'s half L.
inline __m256 fold_four(const __m256 *v) {
  const auto pairs = [](__m256 a, __m256 b) {
    return _mm256_add_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  };
  const __m256 p = pairs(v[0], v[1]), q = pairs(v[2], v[3]);
  return _mm256_add_ps(_mm256_shuffle_ps(p, q, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm256_shuffle_ps(p, q, _MM_SHUFFLE(3, 1, 3, 1)));
}

// One tile's transposed blocks, one row of x: acc[c] += fold of column c's 16 lane sums over rows [0, kp),
// columns 2j .. 2j + 3 and 32 + 2j .. 32 + 2j + 3 a step, each of the eight asking for its share of the
// tile's next rows.
inline void accumulate_transposed_avx2(const __m256i (&blocks)[kAvx2LaneBlocks][16], int64_t kp, const __m256i *tables,
                                       const float *x, float *acc, const NextRows &next) {
  const int full = static_cast<int>(kp / 16), count = static_cast<int>((kp + 15) / 16);
  const PartialBlock partial(kp, x);
  for (int j = 0; j < 16; j += 2) {
    next.ask(j / 2, 0, 1);
    __m256 v[4];
    for (int i = 0; i < 2; ++i) {
      v[2 * i] = pair_sums<0>(blocks, j + i, full, count, tables + 4 * (2 * (j + i)), x, partial);
      v[2 * i + 1] = pair_sums<1>(blocks, j + i, full, count, tables + 4 * (2 * (j + i) + 1), x, partial);
    }
    const __m256 sums = fold_four(v);
    float *low = acc + 2 * j, *high = acc + 32 + 2 * j;
    _mm_storeu_ps(low, _mm_add_ps(_mm_loadu_ps(low), _mm256_castps256_ps128(sums)));
    _mm_storeu_ps(high, _mm_add_ps(_mm_loadu_ps(high), _mm256_extractf128_ps(sums, 1)));
  }
}

// The AVX2 lanes of accumulate_tiles_by_lanes.
struct Avx2Lanes {
  static constexpr int64_t kBlockRows = 16;
  using Blocks = __m256i[kAvx2LaneBlocks][16];
  using Table = __m256i[4 * kPanelCols / 2];
  static void transpose(const uint8_t *rows, int64_t row_bytes, __m256i *out) {
    transpose_block_avx2(rows, row_bytes, out);
  }
  static void make_tables(const float *offset, const float *scale, Rounding r, __m256i *tables) {
    lookup_tables(offset, scale, r, tables);
  }
  static void accumulate(const Blocks &blocks, int64_t kp, const __m256i *tables, const float *x, float *acc,
                         const NextRows &next) {
    accumulate_transposed_avx2(blocks, kp, tables, x, acc, next);
  }
};

inline void accumulate_int4_tiles_by_lanes_avx2(const TileRun &run) { accumulate_tiles_by_lanes(Avx2Lanes{}, run); }

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_AVX2_LANES_H_
