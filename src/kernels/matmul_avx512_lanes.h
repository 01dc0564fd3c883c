// accumulate_int4_tiles_by_lanes with AVX-512F: the one-row decode step that looks antiquantized values up
// instead of computing them. Included by the AVX-512 matmul kernel file alone, which is built with the flags
// it needs.
//
// A tile's 64 columns each have one scale and offset over a run, so each column's antiquantized value is a
// function of its nibble: a 16-entry table, made once a run (64 columns x 16 values, the golden steps on 16
// lanes at a time). VPERMPS looks a vector up in one table, so a vector holds one column: 16 rows of it,
// which is why the sum over k is taken as 16 interleaved partial sums (the kernel family's by-lanes order).
// Each 16-row block of the tile is transposed once (24 VPERMT2D) so that vector d holds dword d of every
// row: eight columns' nibbles, each reached with one shift, as VPERMPS reads only an index's low 4 bits.
// A value then costs a shift, a lookup and an FMA where computing it costs a lookup and three roundings.
#ifndef INT4PACK_KERNELS_MATMUL_AVX512_LANES_H_
#define INT4PACK_KERNELS_MATMUL_AVX512_LANES_H_

#include <immintrin.h>

#include <array>

#include "kernels/matmul_avx512_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_split.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

// The transposition of a block (16 rows of 8 dwords, two rows a vector: z[j] = rows 2j, 2j + 1) into
// out[d], lane r = dword d of row r, in three rounds of two-source permutations. Round 1 pairs rows
// {2j, 2j+1} with {2j+8, 2j+9} and halves the dwords (h: 4h .. 4h+3); round 2 pairs those of j and j + 2
// and halves again (g); round 3 pairs the two halves of the rows. Each round's index depends only on which
// half it keeps, so a round needs two of them.
struct BlockTranspose {
  using Index = std::array<int32_t, 16>;
  // Round 1, dword half h: lane p holds row pair p / 8 (0: z[j], 1: z[j+4]), row (p / 4) % 2 of it.
  static constexpr Index round1(int h) {
    Index idx{};
    for (int p = 0; p < 16; ++p) {
      const int rho = p >> 2;
      idx[p] = 16 * (rho >> 1) + 8 * (rho & 1) + 4 * h + (p & 3);
    }
    return idx;
  }
  // Round 2, dword pair g of the half: lane p holds row p / 2 of the eight, dword 2g + p % 2.
  static constexpr Index round2(int g) {
    Index idx{};
    for (int p = 0; p < 16; ++p) {
      const int rho = p >> 1;
      idx[p] = 16 * (rho >> 2) + 4 * (rho & 3) + 2 * g + (p & 1);
    }
    return idx;
  }
  // Round 3, dword e of the pair: lane r holds row r (rows with bit 1 clear came from the first source).
  static constexpr Index round3(int e) {
    Index idx{};
    for (int r = 0; r < 16; ++r) {
      const int rho = (r & 1) | (((r >> 3) & 1) << 1) | (((r >> 2) & 1) << 2);
      idx[r] = 16 * ((r >> 1) & 1) + 2 * rho + e;
    }
    return idx;
  }
  static __m512i load(const Index &idx) { return _mm512_loadu_si512(idx.data()); }

  __m512i r1[2], r2[2], r3[2];
  BlockTranspose() {
    static constexpr Index k1[2] = {round1(0), round1(1)}, k2[2] = {round2(0), round2(1)};
    static constexpr Index k3[2] = {round3(0), round3(1)};
    for (int i = 0; i < 2; ++i) {
      r1[i] = load(k1[i]);
      r2[i] = load(k2[i]);
      r3[i] = load(k3[i]);
    }
  }

  // The 16 rows at rows + t * row_bytes (32 bytes each) into out[0 .. 7].
  void operator()(const uint8_t *rows, int64_t row_bytes, __m512i *out) const {
    __m512i z[8];
    for (int j = 0; j < 8; ++j) {
      const uint8_t *a = rows + 2 * j * row_bytes;
      z[j] = row_bytes == 32
                 ? _mm512_loadu_si512(a)
                 : _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(a))),
                                      _mm256_loadu_si256(reinterpret_cast<const __m256i *>(a + row_bytes)), 1);
    }
    __m512i s1[4][2], s2[2][2][2];
    for (int j = 0; j < 4; ++j)
      for (int h = 0; h < 2; ++h) s1[j][h] = _mm512_permutex2var_epi32(z[j], r1[h], z[j + 4]);
    for (int j = 0; j < 2; ++j)
      for (int h = 0; h < 2; ++h)
        for (int g = 0; g < 2; ++g) s2[j][h][g] = _mm512_permutex2var_epi32(s1[j][h], r2[g], s1[j + 2][h]);
    for (int h = 0; h < 2; ++h)
      for (int g = 0; g < 2; ++g)
        for (int e = 0; e < 2; ++e) out[4 * h + 2 * g + e] = _mm512_permutex2var_epi32(s2[0][h][g], r3[e], s2[1][h][g]);
  }
};

// table[16 c + v]: column c's antiquantized value of nibble v, by the steps of dequant_row (Ops' roundings),
// one column's 16 values a vector.
template <bool kOffset, bool kScale, Rounding kR>
inline void nibble_tables_fixed(const float *offset, const float *scale, float *table) {
  const __m512 nibble_values = _mm512_loadu_ps(kInt4Values);
  for (int64_t c = 0; c < kPanelCols; ++c) {
    __m512 w = nibble_values;
    if constexpr (kOffset) w = _mm512_add_ps(w, _mm512_set1_ps(offset[c]));
    if constexpr (kScale) {
      if constexpr (kOffset) w = round_to<Avx512>(w, kR);
      w = round_to<Avx512>(_mm512_mul_ps(w, _mm512_set1_ps(scale[c])), kR);
    }
    _mm512_storeu_ps(table + 16 * c, w);
  }
}

// The same by split rounding (matmul_split.h), for scale and offset rows it serves: fewer operations.
template <bool kOffset, Rounding kR>
inline void nibble_tables_split(const float *offset, const float *scale, float *table) {
  const __m512 nibble_values = _mm512_loadu_ps(kInt4Values);
  for (int64_t c = 0; c < kPanelCols; ++c) {
    __m512 w = nibble_values;
    if constexpr (kOffset) w = split_round<kR>(_mm512_add_round_ps(w, _mm512_set1_ps(offset[c]), kNearest));
    const __m512 s = _mm512_set1_ps(scale[c]);
    const __m512 spread = _mm512_mul_round_ps(s, _mm512_set1_ps(SplitFormat<kR>::kSplit), kNearest);
    _mm512_storeu_ps(table + 16 * c, split_product(w, s, spread));
  }
}

template <bool kOffset, Rounding kR>
inline void nibble_tables_scaled(const float *offset, const float *scale, float *table) {
  if (split_rounding_is_exact<kR, 3>(offset, scale)) return nibble_tables_split<kOffset, kR>(offset, scale, table);
  nibble_tables_fixed<kOffset, true, kR>(offset, scale, table);
}

inline void nibble_tables(const float *offset, const float *scale, Rounding r, float *table) {
  with_modes(offset, scale, r, [&](auto has_offset, auto has_scale, auto rounding) {
    constexpr bool kOffset = decltype(has_offset)::value, kScale = decltype(has_scale)::value;
    constexpr Rounding kR = decltype(rounding)::value;
    if constexpr (kScale && kR != Rounding::kNone) {
      nibble_tables_scaled<kOffset, kR>(offset, scale, table);
    } else {
      nibble_tables_fixed<kOffset, kScale, kR>(offset, scale, table);
    }
  });
}

// The by-lanes fold of 16 columns' lane vectors (col[j]: column j's 16 partial sums) into one vector of their
// sums in column order: lanes r and r + 8 first, then r + 4, r + 2, r + 1 (fold_lanes in matmul_kernels.h).
// Each round adds two vectors that hold the halves of two columns' (or groups') partial sums side by side;
// the pairing below makes the last round's lanes come out in column order.
inline __m512 fold_sixteen(const __m512 *col) {
  const auto halves = [](__m512 a, __m512 b) {  // r + 8: a's and b's 8 sums side by side
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  };
  const auto quarters = [](__m512 a, __m512 b) {  // r + 4: four columns' 4 sums, one 128-bit lane each
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  };
  const auto pairs = [](__m512 a, __m512 b) {  // r + 2, within each 128-bit lane
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  };
  const auto ones = [](__m512 a, __m512 b) {  // r + 1
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  };
  // Lane 4L + e of the result is column 4L + e: the groups of the last round are columns e, e + 4, e + 8,
  // e + 12, each in 128-bit lane L of its group vector.
  __m512 group[4];
  for (int e = 0; e < 4; ++e) group[e] = quarters(halves(col[e], col[e + 4]), halves(col[e + 8], col[e + 12]));
  return ones(pairs(group[0], group[1]), pairs(group[2], group[3]));
}

constexpr int kLaneBlocks = static_cast<int>(kMaxFusedRows / 16);  // 16-row blocks of a run, at most

// One tile's transposed blocks, one row of x: acc[c] += fold of column c's 16 lane sums over rows [0, kp).
// Each of its eight steps asks for its share of the tile's next rows, a line a block.
inline void accumulate_transposed(const __m512i (&blocks)[kLaneBlocks][8], int64_t kp, const float *table,
                                  const float *x, float *acc, const NextRows &next) {
  const int full = static_cast<int>(kp / 16), count = static_cast<int>((kp + 15) / 16);
  __mmask16 live[kLaneBlocks];
  for (int b = 0; b < count; ++b) live[b] = b < full ? 0xFFFF : static_cast<__mmask16>((1u << (kp % 16)) - 1);
  for (int q = 0; q < 4; ++q) {  // 16 columns at a time: dwords 2q and 2q + 1
    __m512 lanes[16];
    for (int half = 0; half < 2; ++half) {
      const int d = 2 * q + half;
      __m512 t[8], a[8];
      for (int u = 0; u < 8; ++u) {
        t[u] = _mm512_loadu_ps(table + 16 * (8 * d + u));
        a[u] = _mm512_setzero_ps();
      }
      for (int b = 0; b < count; ++b) {
        next.ask(d, b, count);
        const __m512i v = blocks[b][d];
        const __m512 xv = _mm512_maskz_loadu_ps(live[b], x + 16 * b);  // the last block's rows past kp: 0
        a[0] = _mm512_mask3_fmadd_ps(xv, _mm512_permutexvar_ps(v, t[0]), a[0], live[b]);
        for (int u = 1; u < 8; ++u) {
          const __m512i nibble = _mm512_srli_epi32(v, static_cast<unsigned>(4 * u));
          a[u] = _mm512_mask3_fmadd_ps(xv, _mm512_permutexvar_ps(nibble, t[u]), a[u], live[b]);
        }
      }
      for (int u = 0; u < 8; ++u) lanes[8 * half + u] = a[u];
    }
    _mm512_storeu_ps(acc + 16 * q, _mm512_add_ps(_mm512_loadu_ps(acc + 16 * q), fold_sixteen(lanes)));
  }
}

// The AVX-512 lanes of accumulate_tiles_by_lanes.
struct Avx512Lanes {
  static constexpr int64_t kBlockRows = 16;
  using Blocks = __m512i[kLaneBlocks][8];
  using Table = float[16 * kPanelCols];
  BlockTranspose transpose;
  static void make_tables(const float *offset, const float *scale, Rounding r, float *table) {
    nibble_tables(offset, scale, r, table);
  }
  static void accumulate(const Blocks &blocks, int64_t kp, const float *table, const float *x, float *acc,
                         const NextRows &next) {
    accumulate_transposed(blocks, kp, table, x, acc, next);
  }
};

inline void accumulate_int4_tiles_by_lanes_avx512(const TileRun &run) { accumulate_tiles_by_lanes(Avx512Lanes{}, run); }

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_AVX512_LANES_H_
