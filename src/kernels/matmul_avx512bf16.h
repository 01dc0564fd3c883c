// The BFLOAT16 steps with AVX512-BF16, for the kernel sets whose CPUs have it (avx512fp16, avx512bf16).
// Included by their matmul kernel files alone, which are built with the flags it needs.
#ifndef INT4PACK_KERNELS_MATMUL_AVX512BF16_H_
#define INT4PACK_KERNELS_MATMUL_AVX512BF16_H_

#include <immintrin.h>

#include "kernels/matmul_avx512_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

// BFLOAT16 activations with AVX512-BF16: VCVTNE2PS2BF16 rounds 32 floats to bfloat16 at once, to nearest
// even as the golden steps do, but it reads subnormal inputs as zero and flushes subnormal results, so it
// serves only rows whose antiquantized values can never be subnormal (bf16_rounding_is_exact). Its 32
// results come packed as words, which shifting and masking turn back into two vectors of floats (even and
// odd words): each rounding moves the columns to new lanes, which LaneOrder follows, so that scale and
// offset enter in the lanes of their step and the accumulators in those of the last.
struct LaneOrder {
  int32_t col[4][16];  // the column in each lane of the four vectors of a row
};

// A row's 64 nibbles as the bytes hold them (even columns in the low nibbles, words L; odd ones, words H),
// each split into its even and odd words: L's, then H's.
constexpr LaneOrder bf16_decoded_order() {
  LaneOrder o{};
  for (int j = 0; j < 16; ++j) {
    o.col[0][j] = 4 * j;
    o.col[1][j] = 4 * j + 2;
    o.col[2][j] = 4 * j + 1;
    o.col[3][j] = 4 * j + 3;
  }
  return o;
}

// The lanes after each pair (even, odd) is rounded into one vector of words (even's 16 in words 0..15,
// odd's in 16..31) and split into its even and odd words again.
constexpr LaneOrder after_rounding(const LaneOrder &in) {
  LaneOrder o{};
  for (int p = 0; p < 4; p += 2) {
    for (int j = 0; j < 8; ++j) {
      o.col[p][j] = in.col[p][2 * j];
      o.col[p][j + 8] = in.col[p + 1][2 * j];
      o.col[p + 1][j] = in.col[p][2 * j + 1];
      o.col[p + 1][j + 8] = in.col[p + 1][2 * j + 1];
    }
  }
  return o;
}

// For each column (as four vectors of 16), the lane that holds it in `order`, numbered 16 * vector + lane.
constexpr LaneOrder lanes_of(const LaneOrder &order) {
  LaneOrder o{};
  for (int v = 0; v < 4; ++v) {
    for (int j = 0; j < 16; ++j) o.col[order.col[v][j] / 16][order.col[v][j] % 16] = 16 * v + j;
  }
  return o;
}

// Lane l: element index[l] of the 64 floats in v[0..3].
inline __m512 select64(const __m512 *v, const int32_t *index) {
  const __m512i i = _mm512_loadu_si512(index);
  const __m512 low = _mm512_permutex2var_ps(v[0], i, v[1]);
  const __m512 high = _mm512_permutex2var_ps(v[2], i, v[3]);
  return _mm512_mask_blend_ps(_mm512_cmpge_epi32_mask(i, _mm512_set1_epi32(32)), low, high);
}

// 64 floats in column order into the lanes of `order`.
inline void to_lanes(const float *natural, const LaneOrder &order, __m512 *out) {
  __m512 n[4];
  for (int v = 0; v < 4; ++v) n[v] = _mm512_loadu_ps(natural + 16 * v);
  for (int v = 0; v < 4; ++v) out[v] = select64(n, order.col[v]);
}

template <bool kOffset>
struct Bf16Lanes {
  static constexpr LaneOrder kOffsetLanes = bf16_decoded_order();
  static constexpr LaneOrder kScaleLanes = kOffset ? after_rounding(kOffsetLanes) : kOffsetLanes;
  static constexpr LaneOrder kAccLanes = after_rounding(kScaleLanes);
  static constexpr LaneOrder kColumnLanes = lanes_of(kAccLanes);
  static void load_acc(const float *natural, __m512 *a) { to_lanes(natural, kAccLanes, a); }
  static void store_acc(const __m512 *a, float *natural) {
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(natural + 16 * v, select64(a, kColumnLanes.col[v]));
  }
};

// No value of a row with this scale (and offset) row is subnormal on its way through the golden steps, so
// VCVTNE2PS2BF16 rounds each exactly as they do. r(w + offset) is subnormal only for a subnormal offset (w =
// 0). Otherwise a nonzero r(w + offset) is at least g = min(1, ulp(offset)) (w + offset is a multiple of g;
// g = 1 without an offset), so a scale s with |s| * g >= 2^-126 keeps every nonzero product normal: with
// exponents E = floor(log2 |v|) (VGETEXPPS, which gives subnormals theirs too), E(s) + min(0, E(offset) - 7)
// >= -126. Without an offset that leaves "no subnormal scale". Zero scales and offsets, infinities and NaNs
// pass (a NaN exponent compares false).
inline __mmask16 subnormal_lanes(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  return _mm512_mask_testn_epi32_mask(_mm512_test_epi32_mask(bits, _mm512_set1_epi32(0x007FFFFF)), bits,
                                      _mm512_set1_epi32(0x7F800000));
}

inline bool bf16_rounding_is_exact(const float *offset, const float *scale) {
  __mmask16 fails = 0;
  for (int v = 0; v < 4; ++v) {
    const __m512 s = _mm512_loadu_ps(scale + 16 * v);
    if (offset == nullptr) {
      fails |= subnormal_lanes(s);
      continue;
    }
    const __m512 o = _mm512_loadu_ps(offset + 16 * v);
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
    fails |= subnormal_lanes(o);
    // min(E(offset) - 7, 0), 0 for a zero offset; MINPS gives its second operand, 0, for a NaN.
    const __m512 bound =
        _mm512_maskz_min_ps(_mm512_test_epi32_mask(_mm512_castps_si512(o), magnitude),
                            _mm512_sub_ps(_mm512_getexp_ps(o), _mm512_set1_ps(7.0f)), _mm512_setzero_ps());
    fails |= _mm512_mask_cmp_ps_mask(_mm512_test_epi32_mask(_mm512_castps_si512(s), magnitude),
                                     _mm512_add_ps(_mm512_getexp_ps(s), bound), _mm512_set1_ps(-126.0f), _CMP_LT_OQ);
  }
  return fails == 0;
}

// Each nibble looked up as the bfloat16 of its signed value, split into floats, offset and rounded, scaled
// and rounded, 32 values a VCVTNE2PS2BF16.
// Columns: the accumulators' order in memory, Bf16Lanes (column order) or KeptColumns (the lanes').
template <bool kOffset, typename Columns = Bf16Lanes<kOffset>>
struct Bf16Int4Decoder : Columns {
  using Lanes = Bf16Lanes<kOffset>;
  __m512 offset[4], scale[4];
  Bf16Int4Decoder(const float *o, const float *s) {
    if constexpr (kOffset) to_lanes(o, Lanes::kOffsetLanes, offset);
    to_lanes(s, Lanes::kScaleLanes, scale);
  }
  // Scale and offset in their lanes as an earlier decoder kept them (keep).
  explicit Bf16Int4Decoder(const void *kept) { restore_params<kOffset>(kept, scale, offset); }
  void keep(void *kept) const { keep_params<kOffset>(scale, offset, kept); }
  // Words 2j and 2j + 1 (bfloat16 bits) as floats in lane j of even and odd.
  static void split(__m512i words, __m512 *even, __m512 *odd) {
    *even = _mm512_castsi512_ps(_mm512_slli_epi32(words, 16));
    *odd = _mm512_castsi512_ps(_mm512_and_si512(words, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  static void round_pairs(__m512 *f) {
    for (int p = 0; p < 4; p += 2)
      split(reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(f[p + 1], f[p])), &f[p], &f[p + 1]);
  }
  void decode(const uint8_t *bytes, __m512 *w) const {
    const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(bytes)));
    // Nibble v to the bfloat16 of v - 16 * (v >= 8): 0x3F80 is 1.0, ..., 0xC100 is -8.0, 0xBF80 is -1.0.
    const __m512i values =
        _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<int16_t>(0xBF80),
                         static_cast<int16_t>(0xC000), static_cast<int16_t>(0xC040), static_cast<int16_t>(0xC080),
                         static_cast<int16_t>(0xC0A0), static_cast<int16_t>(0xC0C0), static_cast<int16_t>(0xC0E0),
                         static_cast<int16_t>(0xC100), 0x40E0, 0x40C0, 0x40A0, 0x4080, 0x4040, 0x4000, 0x3F80, 0);
    split(_mm512_permutexvar_epi16(_mm512_and_si512(words, _mm512_set1_epi16(0xF)), values), &w[0], &w[1]);
    split(_mm512_permutexvar_epi16(_mm512_srli_epi16(words, 4), values), &w[2], &w[3]);
    if constexpr (kOffset) {
      for (int v = 0; v < 4; ++v) w[v] = _mm512_add_ps(w[v], offset[v]);
      round_pairs(w);
    }
    for (int v = 0; v < 4; ++v) w[v] = _mm512_mul_ps(w[v], scale[v]);
    round_pairs(w);
  }
};

// accumulate_int4 for BFLOAT16 rows that VCVTNE2PS2BF16 rounds exactly; false, with nothing done, for any
// other row (the caller's own steps take it).
inline bool accumulate_int4_bf16(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset,
                                 const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows,
                                 float *acc) {
  if (r != Rounding::kBFloat16 || scale == nullptr || !bf16_rounding_is_exact(offset, scale)) return false;
  if (offset != nullptr) {
    accumulate_fused<Avx512, 4, 4>(Bf16Int4Decoder<true>(offset, scale), bytes, row_bytes, kp, x, x_stride, rows, acc);
  } else {
    accumulate_fused<Avx512, 4, 4>(Bf16Int4Decoder<false>(offset, scale), bytes, row_bytes, kp, x, x_stride, rows, acc);
  }
  return true;
}

// accumulate_int4_tiles for BFLOAT16 runs whose every tile VCVTNE2PS2BF16 rounds exactly; false, with
// nothing done, for any other run (the caller's own steps take it).
inline bool accumulate_int4_tiles_bf16(const TileRun &run) {
  if (run.rounding != Rounding::kBFloat16 || run.scale == nullptr || run.rows > 4) return false;
  for (int64_t s = 0; s < run.tiles; ++s) {
    if (!bf16_rounding_is_exact(run.offset != nullptr ? run.offset + s * run.param_stride : nullptr,
                                run.scale + s * run.param_stride)) {
      return false;
    }
  }
  // Each tile's scale and offset lanes made once, and its accumulators put in their lanes once.
  if (run.offset != nullptr) {
    accumulate_tiles_kept<Avx512, 4, Bf16Int4Decoder<true>, Bf16Int4Decoder<true, KeptColumns<Avx512>>>(run);
  } else {
    accumulate_tiles_kept<Avx512, 4, Bf16Int4Decoder<false>, Bf16Int4Decoder<false, KeptColumns<Avx512>>>(run);
  }
  return true;
}

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_AVX512BF16_H_
