// Split rounding, for the AVX-512 matmul tables (avx512, avx512bf16, avx512fp16): INT4 and INT8 rows
// antiquantized in float32 and rounded to FLOAT16 or BFLOAT16 by splitting, with AVX-512F alone. Included by their
// matmul kernel files alone, which are built with the flags it needs.
#ifndef INT4PACK_KERNELS_MATMUL_SPLIT_H_
#define INT4PACK_KERNELS_MATMUL_SPLIT_H_

#include <immintrin.h>

#include "kernels/matmul_avx512_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

// Each antiquantized value is rounded to x's type, to nearest even as the golden steps do, by Veltkamp's
// splitting in float32: with c = v * (2^k + 1), c - (c - v) is v rounded to 24 - k significant bits (11 for
// FLOAT16, 8 for BFLOAT16). That is the type's own rounding for zeros and for values in its normal range,
// which the splitting keeps finite; tests/core checks it against the scalar steps for every scale and
// offset of either type with every int4 value and the extreme int8 ones, and for every pair of significands. It serves
// the rows whose every antiquantized value stays there (split_rounding_is_exact). Unlike a conversion to the type and
// back (or VCVTNE2PS2BF16, which packs its results into words to be unpacked again), it leaves each value
// in its lane, in three operations. The embedded-rounding forms keep the compiler from fusing c - v into an
// FMA, which would change the result.
constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// A rounding's splitting constant and the exponents (E = floor(log2 |v|)) the splitting is exact within:
// products below 2^kMaxProductExp, offsets below 2^(kMaxOffsetExp + 1), nonzero values at least 2^kMinExp.
template <Rounding kR>
struct SplitFormat;
template <>
struct SplitFormat<Rounding::kHalf> {
  static constexpr float kSplit = 8193.0f;  // 2^13 + 1
  // Offsets below 2^15: w + offset (|w| <= 128) stays below 65520, where r() would overflow.
  static constexpr float kMinExp = -14, kMaxProductExp = 15, kMaxOffsetExp = 14;
};
template <>
struct SplitFormat<Rounding::kBFloat16> {
  static constexpr float kSplit = 65537.0f;  // 2^16 + 1
  static constexpr float kMinExp = -126, kMaxProductExp = 100, kMaxOffsetExp = 100;
};

template <Rounding kR>
inline __m512 split_round(__m512 v) {
  const __m512 c = _mm512_mul_round_ps(v, _mm512_set1_ps(SplitFormat<kR>::kSplit), kNearest);
  return _mm512_sub_round_ps(c, _mm512_sub_round_ps(c, v, kNearest), kNearest);
}

// r(w * scale) where w * scale is exact in float32 (factors of 11 or 8 significant bits and fewer): the
// splitting with c = w * spread, spread = scale * (2^k + 1) (exact too), and c - w * scale in one FMA.
inline __m512 split_product(__m512 w, __m512 scale, __m512 spread) {
  const __m512 c = _mm512_mul_round_ps(w, spread, kNearest);
  return _mm512_sub_round_ps(c, _mm512_fnmadd_round_ps(w, scale, c, kNearest), kNearest);
}

// Every antiquantized value of a row with this scale (and offset) row stays where the splitting rounds as
// the golden steps do, for stored values w with |w| <= 2^kValueExp (3 for INT4, 7 for INT8). A nonzero
// w + offset is at least g, the offset's distance to the nearest integer (1 for an integer offset, and
// without one), and so is its rounding; |scale| * g >= 2^kMinExp keeps every nonzero product in range from
// below: E(s) + E(g) >= kMinExp, with no offset below 2^kMinExp either. From above,
// |r(w + offset)| < 2^(max(E(offset), kValueExp) + 2), so E(s) + max(E(offset), kValueExp) + 3 <=
// kMaxProductExp (E(s) + kValueExp + 1 without an offset). VGETEXPPS gives E, subnormals theirs too; zero
// scales and offsets pass, and infinities and NaNs fail (their E exceeds every bound, or compares unordered).
template <Rounding kR, int kValueExp>
inline bool split_rounding_is_exact(const float *offset, const float *scale) {
  using F = SplitFormat<kR>;
  const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512 min_exp = _mm512_set1_ps(F::kMinExp), one = _mm512_set1_ps(1.0f);
  __mmask16 fails = 0;
  for (int v = 0; v < 4; ++v) {
    const __m512 s = _mm512_loadu_ps(scale + 16 * v);
    const __m512 es = _mm512_getexp_ps(s);
    const __mmask16 nonzero_s = _mm512_test_epi32_mask(_mm512_castps_si512(s), magnitude);
    if (offset == nullptr) {
      fails |= _mm512_cmp_ps_mask(es, _mm512_set1_ps(F::kMaxProductExp - kValueExp - 1), _CMP_NLE_UQ);
      fails |= _mm512_mask_cmp_ps_mask(nonzero_s, es, min_exp, _CMP_LT_OQ);
      continue;
    }
    const __m512 o = _mm512_loadu_ps(offset + 16 * v);
    const __m512 eo = _mm512_getexp_ps(o);
    const __mmask16 nonzero_o = _mm512_test_epi32_mask(_mm512_castps_si512(o), magnitude);
    fails |= _mm512_cmp_ps_mask(eo, _mm512_set1_ps(F::kMaxOffsetExp), _CMP_NLE_UQ);
    fails |= _mm512_mask_cmp_ps_mask(nonzero_o, eo, min_exp, _CMP_LT_OQ);
    fails |= _mm512_cmp_ps_mask(_mm512_add_ps(es, _mm512_max_ps(eo, _mm512_set1_ps(kValueExp))),
                                _mm512_set1_ps(F::kMaxProductExp - 3), _CMP_NLE_UQ);
    const __m512 fraction = _mm512_abs_ps(_mm512_sub_ps(o, _mm512_roundscale_ps(o, _MM_FROUND_TO_NEAREST_INT)));
    const __mmask16 fractional = _mm512_test_epi32_mask(_mm512_castps_si512(fraction), magnitude);
    const __m512 g = _mm512_mask_min_ps(one, fractional, fraction, one);
    fails |= _mm512_mask_cmp_ps_mask(nonzero_s, _mm512_add_ps(es, _mm512_getexp_ps(g)), min_exp, _CMP_LT_OQ);
  }
  return fails == 0;
}

// A row's scale and offset in the lanes of Columns' order (its SplitColumns or NaturalColumns base, or
// KeptColumns: already there), and the antiquantization of four vectors of stored values: offset and
// rounded, scaled and rounded.
template <Rounding kR, bool kOffset, typename Order, typename Columns>
struct SplitSteps : Columns {
  __m512 offset[4], scale[4], spread[4];
  SplitSteps(const float *o, const float *s) {
    if constexpr (kOffset) Order::load_acc(o, offset);
    Order::load_acc(s, scale);
    spread_scale();
  }
  // Scale and offset in their lanes as an earlier decoder kept them (keep).
  explicit SplitSteps(const void *kept) {
    restore_params<kOffset>(kept, scale, offset);
    spread_scale();
  }
  void keep(void *kept) const { keep_params<kOffset>(scale, offset, kept); }
  void spread_scale() {
    for (int v = 0; v < 4; ++v)
      spread[v] = _mm512_mul_round_ps(scale[v], _mm512_set1_ps(SplitFormat<kR>::kSplit), kNearest);
  }
  void antiquant(__m512 *w) const {
    for (int v = 0; v < 4; ++v) {
      if constexpr (kOffset) w[v] = split_round<kR>(_mm512_add_round_ps(w[v], offset[v], kNearest));
      w[v] = split_product(w[v], scale[v], spread[v]);
    }
  }
};

// Each nibble looked up as the float of its signed value, in SplitColumns' order. Columns: the
// accumulators' order in memory, SplitColumns (column order) or KeptColumns (the lanes').
template <Rounding kR, bool kOffset, typename Columns = SplitColumns>
struct SplitInt4Decoder : SplitSteps<kR, kOffset, SplitColumns, Columns> {
  using SplitSteps<kR, kOffset, SplitColumns, Columns>::SplitSteps;
  void decode(const uint8_t *bytes, __m512 *w) const {
    __m512 nibbles[4];  // low and high nibbles of bytes 0..15, then of bytes 16..31
    Avx512::int4_lookup(bytes, kInt4Values, nibbles);
    w[0] = nibbles[0];
    w[1] = nibbles[2];
    w[2] = nibbles[1];
    w[3] = nibbles[3];
    this->antiquant(w);
  }
};

// Each int8 value widened to float, in column order.
template <Rounding kR, bool kOffset>
struct SplitInt8Decoder : SplitSteps<kR, kOffset, NaturalColumns<Avx512>, NaturalColumns<Avx512>> {
  using SplitSteps<kR, kOffset, NaturalColumns<Avx512>, NaturalColumns<Avx512>>::SplitSteps;
  void decode(const uint8_t *bytes, __m512 *w) const { decode_halves(bytes, bytes + 32, w); }
  void decode_halves(const uint8_t *first, const uint8_t *second, __m512 *w) const {
    Int8Values<Avx512>::to_float_halves(first, second, w);
    this->antiquant(w);
  }
};

// The fused steps over a split decoder for one rounding, if the row's scale and offset allow it; int8 rows
// (kValueExp 7) may lie in two blocks (`second`, accumulate_int8_rows).
template <Rounding kR, int kValueExp, template <Rounding, bool> class Decoder>
inline bool accumulate_split_as(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset,
                                const float *scale, const float *x, int64_t x_stride, int64_t rows, float *acc,
                                int64_t second) {
  if (!split_rounding_is_exact<kR, kValueExp>(offset, scale)) return false;
  const auto run = [&](const auto &d) {
    if constexpr (kValueExp == 7) {
      accumulate_int8_rows<Avx512, 4>(d, second, bytes, row_bytes, kp, x, x_stride, rows, acc);
    } else {
      accumulate_fused<Avx512, 4>(d, bytes, row_bytes, kp, x, x_stride, rows, acc);
    }
  };
  if (offset != nullptr) {
    run(Decoder<kR, true>(offset, scale));
  } else {
    run(Decoder<kR, false>(offset, scale));
  }
  return true;
}

template <Rounding kR, bool kOffset>
using SplitInt4 = SplitInt4Decoder<kR, kOffset>;

// accumulate_int4 or accumulate_int8 (kInt8) for the FLOAT16 and BFLOAT16 rows that split rounding serves;
// false, with nothing done, for any other row (the caller's own steps take it).
template <bool kInt8>
inline bool accumulate_split(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset,
                             const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc,
                             int64_t second = 0) {
  constexpr int kValueExp = kInt8 ? 7 : 3;
  if (scale == nullptr || r == Rounding::kNone) return false;
  if constexpr (kInt8) {
    return r == Rounding::kHalf ? accumulate_split_as<Rounding::kHalf, kValueExp, SplitInt8Decoder>(
                                      bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc, second)
                                : accumulate_split_as<Rounding::kBFloat16, kValueExp, SplitInt8Decoder>(
                                      bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc, second);
  } else {
    return r == Rounding::kHalf ? accumulate_split_as<Rounding::kHalf, kValueExp, SplitInt4>(
                                      bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc, 0)
                                : accumulate_split_as<Rounding::kBFloat16, kValueExp, SplitInt4>(
                                      bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc, 0);
  }
}

template <Rounding kR>
inline bool accumulate_int4_tiles_split_as(const TileRun &run) {
  for (int64_t s = 0; s < run.tiles; ++s) {
    if (!split_rounding_is_exact<kR, 3>(run.offset != nullptr ? run.offset + s * run.param_stride : nullptr,
                                        run.scale + s * run.param_stride)) {
      return false;
    }
  }
  // Each tile's scale and offset lanes made once, and its accumulators put in their lanes once.
  if (run.offset != nullptr) {
    accumulate_tiles_kept<Avx512, 4, SplitInt4Decoder<kR, true>, SplitInt4Decoder<kR, true, KeptColumns<Avx512>>>(run);
  } else {
    accumulate_tiles_kept<Avx512, 4, SplitInt4Decoder<kR, false>, SplitInt4Decoder<kR, false, KeptColumns<Avx512>>>(
        run);
  }
  return true;
}

// accumulate_int4_tiles for runs of up to 4 rows of x whose every tile split rounding serves, as
// accumulate_split; false, with nothing done, for any other run.
inline bool accumulate_int4_tiles_split(const TileRun &run) {
  if (run.scale == nullptr || run.rows > 4) return false;
  if (run.rounding == Rounding::kBFloat16) return accumulate_int4_tiles_split_as<Rounding::kBFloat16>(run);
  if (run.rounding == Rounding::kHalf) return accumulate_int4_tiles_split_as<Rounding::kHalf>(run);
  return false;
}

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_SPLIT_H_
