// accumulate_int4_tiles_by_lanes with AVX2: the one-row decode step that looks antiquantized values up
// instead of computing them. Included by the AVX2 matmul kernel file alone, which is built with the flags it
// needs.
//
// As in the AVX-512 kernel (matmul_avx512_lanes.h), each column's antiquantized values over a run are a
// 16-entry table, and a vector holds one column: here 8 rows of it. The family's 16 partial sums (rows
// t = r mod 16) are two vectors, one from the even 8-row blocks (r < 8) and one from the odd. Each 8-row block
// is transposed once (24 shuffles) so that vector d holds dword d of its rows: eight columns' nibbles. VPERMPS
// reads an index's low 3 bits, so a value is two lookups (nibbles 0..7 and 8..15) and a blend on its bit 3,
// then an FMA: six operations where computing it takes ten (a widening, a conversion, two roundings of two
// F16C conversions each).
#ifndef INT4PACK_KERNELS_MATMUL_AVX2_LANES_H_
#define INT4PACK_KERNELS_MATMUL_AVX2_LANES_H_

#include <immintrin.h>

#include <cstring>

#include "kernels/matmul_avx2_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

// The 8 rows at rows + t * row_bytes (32 bytes each) into out[d], lane t = dword d of row t: pairs of rows
// interleaved by dword, then by dword pair, then the 128-bit halves exchanged.
inline void transpose_block_avx2(const uint8_t *rows, int64_t row_bytes, __m256i *out) {
  __m256i r[8], t[8], u[8];
  for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(rows + j * row_bytes));
  for (int j = 0; j < 4; ++j) {
    t[2 * j] = _mm256_unpacklo_epi32(r[2 * j], r[2 * j + 1]);      // dwords 0, 1 | 4, 5 of rows 2j, 2j + 1
    t[2 * j + 1] = _mm256_unpackhi_epi32(r[2 * j], r[2 * j + 1]);  // dwords 2, 3 | 6, 7
  }
  for (int h = 0; h < 2; ++h) {  // rows 4h .. 4h + 3
    for (int e = 0; e < 2; ++e) {
      u[4 * h + 2 * e] = _mm256_unpacklo_epi64(t[4 * h + e], t[4 * h + 2 + e]);      // dword 2e | 2e + 4
      u[4 * h + 2 * e + 1] = _mm256_unpackhi_epi64(t[4 * h + e], t[4 * h + 2 + e]);  // dword 2e + 1 | 2e + 5
    }
  }
  for (int d = 0; d < 4; ++d) {
    out[d] = _mm256_permute2x128_si256(u[d], u[4 + d], 0x20);
    out[d + 4] = _mm256_permute2x128_si256(u[d], u[4 + d], 0x31);
  }
}

// table[16 c + v]: column c's antiquantized value of nibble v, by the steps of dequant_row (two vectors a
// column: nibbles 0..7, then 8..15).
template <bool kOffset, bool kScale, Rounding kR>
inline void nibble_tables_avx2_fixed(const float *offset, const float *scale, float *table) {
  for (int64_t c = 0; c < kPanelCols; ++c) {
    for (int h = 0; h < 2; ++h) {
      __m256 w = _mm256_loadu_ps(kInt4Values + 8 * h);
      if constexpr (kOffset) w = _mm256_add_ps(w, _mm256_set1_ps(offset[c]));
      if constexpr (kScale) {
        if constexpr (kOffset) w = round_to<Avx2>(w, kR);
        w = round_to<Avx2>(_mm256_mul_ps(w, _mm256_set1_ps(scale[c])), kR);
      }
      _mm256_storeu_ps(table + 16 * c + 8 * h, w);
    }
  }
}

template <bool kOffset, bool kScale>
inline void nibble_tables_avx2_rounded(const float *offset, const float *scale, Rounding r, float *table) {
  switch (r) {
    case Rounding::kHalf:
      return nibble_tables_avx2_fixed<kOffset, kScale, Rounding::kHalf>(offset, scale, table);
    case Rounding::kBFloat16:
      return nibble_tables_avx2_fixed<kOffset, kScale, Rounding::kBFloat16>(offset, scale, table);
    case Rounding::kNone:
      return nibble_tables_avx2_fixed<kOffset, kScale, Rounding::kNone>(offset, scale, table);
  }
}

inline void nibble_tables_avx2(const float *offset, const float *scale, Rounding r, float *table) {
  if (offset != nullptr) {
    if (scale != nullptr) return nibble_tables_avx2_rounded<true, true>(offset, scale, r, table);
    return nibble_tables_avx2_rounded<true, false>(offset, scale, r, table);
  }
  if (scale != nullptr) return nibble_tables_avx2_rounded<false, true>(offset, scale, r, table);
  nibble_tables_avx2_rounded<false, false>(offset, scale, r, table);
}

// The by-lanes fold (fold_lanes in matmul_kernels.h) of eight columns, col[u] lane r = p[r] + p[r + 8] of
// column u, into one vector of their sums in column order: lanes r + 4 across the 128-bit halves, then r + 2
// and r + 1 within them, each round adding two vectors that hold two columns' (or groups') sums side by side.
inline __m256 fold_eight(const __m256 *col) {
  const auto quarters = [](__m256 a, __m256 b) {  // a's 4 sums | b's 4 sums
    return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
  };
  const auto pairs = [](__m256 a, __m256 b) {
    return _mm256_add_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  };
  const auto ones = [](__m256 a, __m256 b) {
    return _mm256_add_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  };
  // Lane 4L + e of the result is column 4L + e: group e holds columns e and e + 4, one a 128-bit half.
  __m256 group[4];
  for (int e = 0; e < 4; ++e) group[e] = quarters(col[e], col[e + 4]);
  return ones(pairs(group[0], group[1]), pairs(group[2], group[3]));
}

constexpr int kAvx2LaneBlocks = static_cast<int>(kMaxFusedRows / 8);  // 8-row blocks of a run, at most

// Column 8d + u's lane sums over the blocks b = parity, parity + 2, .. of dword d (the last block's rows past
// the run masked off: those lanes keep their sums).
inline void lane_sums(const __m256i (&blocks)[kAvx2LaneBlocks][8], int d, int parity, int count, int full,
                      __m256i last_live, const float *table, const float *x, __m256 *a) {
  for (int u = 0; u < 8; ++u) a[u] = _mm256_setzero_ps();
  for (int b = parity; b < count; b += 2) {
    const __m256i v = blocks[b][d];
    const bool partial = b == full;
    const __m256 xv = partial ? _mm256_maskload_ps(x + 8 * b, last_live) : _mm256_loadu_ps(x + 8 * b);
    for (int u = 0; u < 8; ++u) {
      const float *t = table + 16 * (8 * d + u);
      const __m256i index = u == 0 ? v : _mm256_srli_epi32(v, 4 * u);
      const __m256 high = u == 7 ? _mm256_castsi256_ps(v) : _mm256_castsi256_ps(_mm256_slli_epi32(v, 28 - 4 * u));
      const __m256 w = _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(t), index),
                                        _mm256_permutevar8x32_ps(_mm256_loadu_ps(t + 8), index), high);
      const __m256 sum = _mm256_fmadd_ps(xv, w, a[u]);
      a[u] = partial ? _mm256_blendv_ps(a[u], sum, _mm256_castsi256_ps(last_live)) : sum;
    }
  }
}

// One tile's transposed blocks, one row of x: acc[c] += fold of column c's 16 lane sums over rows [0, kp),
// eight columns (one dword of the rows) a step, each step asking for its share of the tile's next rows.
inline void accumulate_transposed_avx2(const __m256i (&blocks)[kAvx2LaneBlocks][8], int64_t kp, const float *table,
                                       const float *x, float *acc, const NextRows &next) {
  const int full = static_cast<int>(kp / 8), count = static_cast<int>((kp + 7) / 8);
  const __m256i last_live =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(kp % 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int d = 0; d < 8; ++d) {
    next.ask(d);
    __m256 even[8], odd[8];
    lane_sums(blocks, d, 0, count, full, last_live, table, x, even);
    lane_sums(blocks, d, 1, count, full, last_live, table, x, odd);
    for (int u = 0; u < 8; ++u) even[u] = _mm256_add_ps(even[u], odd[u]);
    _mm256_storeu_ps(acc + 8 * d, _mm256_add_ps(_mm256_loadu_ps(acc + 8 * d), fold_eight(even)));
  }
}

// accumulate_int4_tiles_by_lanes: each tile's blocks transposed (the last rows padded with zero bytes, their
// lanes masked off in the sums), then its tables and its sums for every row of x.
inline void accumulate_int4_tiles_by_lanes_avx2(const TileRun &run) {
  const int64_t full = run.kp / 8, count = (run.kp + 7) / 8;
  alignas(32) __m256i blocks[kAvx2LaneBlocks][8];
  alignas(32) float table[16 * kPanelCols];
  for (int64_t s = 0; s < run.tiles; ++s) {
    const uint8_t *tile = run.bytes + s * run.tile_bytes;
    for (int64_t b = 0; b < full; ++b) transpose_block_avx2(tile + 8 * b * run.row_bytes, run.row_bytes, blocks[b]);
    if (count > full) {
      alignas(32) uint8_t rest[8 * 32] = {};
      for (int64_t t = 8 * full; t < run.kp; ++t) std::memcpy(rest + (t - 8 * full) * 32, tile + t * run.row_bytes, 32);
      transpose_block_avx2(rest, 32, blocks[full]);
    }
    nibble_tables_avx2(run.offset != nullptr ? run.offset + s * run.param_stride : nullptr,
                       run.scale != nullptr ? run.scale + s * run.param_stride : nullptr, run.rounding, table);
    const NextRows next(run, s);
    for (int64_t i = 0; i < run.rows; ++i) {
      accumulate_transposed_avx2(blocks, run.kp, table, run.x + i * run.x_stride,
                                 run.acc + s * run.acc_stride + i * kPanelCols, next);
    }
  }
}

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_AVX2_LANES_H_
