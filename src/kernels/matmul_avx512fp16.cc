// Matmul steps with AVX-512 FP16: an INT4 row takes the split rounding (matmul_split.h) where it rounds
// exactly, as in the other AVX-512 tables (it measured a little faster than half precision here); other
// FLOAT16 rows, INT4 and INT8, are antiquantized in half precision, 32 values an instruction. The golden
// steps round (w + offset) and (w + offset) * scale to FLOAT16, which is what VADDPH and VMULPH do (IEEE,
// round to nearest even, subnormals kept), so the result is bit for bit the scalar one. Other BFLOAT16
// rows, rows without a scale (packed-scale mode) and the accumulation take the AVX-512 steps.
#include <immintrin.h>

#include <type_traits>

#include "kernels/avx512_steps.h"
#include "kernels/matmul_avx512_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_split.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

// 32 floats (halves' values: the scale and offset have x's dtype) as 32 halves.
inline __m512h halves(__m512 a, __m512 b) {
  const __m256i lo = _mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i hi = _mm512_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_castsi512_ph(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
}

// 64 floats in column order as the two halves' vectors of SplitColumns' order.
inline void split_halves(const float *natural, __m512h *h) {
  __m512 f[4];
  SplitColumns::load_acc(natural, f);
  h[0] = halves(f[0], f[1]);
  h[1] = halves(f[2], f[3]);
}

// matmul_x86.h's decoder interface, in half precision: a row's values as halves are offset and scaled
// 32 columns an instruction, and widened to floats for the FMAs; in column order (NaturalColumns) or in
// the bytes' order (SplitColumns; KeptColumns, which SplitColumns put there).
template <bool kOffset, typename Columns>
struct HalfSteps : Columns {
  static constexpr bool kSplit = !std::is_same_v<Columns, NaturalColumns<Avx512>>;
  __m512h offset[2], scale[2];
  // Scale and offset halves as an earlier decoder of this order kept them (keep).
  explicit HalfSteps(const void *kept) { restore_params<kOffset>(kept, scale, offset); }
  void keep(void *kept) const { keep_params<kOffset>(scale, offset, kept); }
  HalfSteps(const float *o, const float *s) {
    if constexpr (kSplit) {
      if constexpr (kOffset) split_halves(o, offset);
      split_halves(s, scale);
    } else {
      for (int h = 0; h < 2; ++h) {
        if constexpr (kOffset) offset[h] = halves(_mm512_loadu_ps(o + 32 * h), _mm512_loadu_ps(o + 32 * h + 16));
        scale[h] = halves(_mm512_loadu_ps(s + 32 * h), _mm512_loadu_ps(s + 32 * h + 16));
      }
    }
  }
  // Halves h (32 values, as words) of the row to w[2h], w[2h + 1].
  void antiquant(int h, __m512i values, __m512 *w) const {
    __m512h x = _mm512_castsi512_ph(values);
    if constexpr (kOffset) x = _mm512_add_ph(x, offset[h]);
    const __m512i bits = _mm512_castph_si512(_mm512_mul_ph(x, scale[h]));
    w[2 * h] = _mm512_cvtph_ps(_mm512_castsi512_si256(bits));
    w[2 * h + 1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(bits, 1));
  }
};

// Each nibble looked up as the half of its signed value.
template <bool kOffset, typename Columns>
struct HalfInt4Decoder : HalfSteps<kOffset, Columns> {
  using HalfSteps<kOffset, Columns>::HalfSteps;
  void decode(const uint8_t *bytes, __m512 *w) const {
    // Byte i of the row in word i; its low nibble is column 2i, its high one column 2i + 1.
    const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(bytes)));
    // Nibble v to the half of v - 16 * (v >= 8); entries 16..31 are never indexed.
    // As signed 16-bit words: -17408 is 0xBC00 (-1.0), ..., -14336 is 0xC800 (-8.0).
    const __m512i values =
        _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -17408, -16384, -15872, -15360, -15104, -14848,
                         -14592, -14336, 0x4700, 0x4600, 0x4500, 0x4400, 0x4200, 0x4000, 0x3C00, 0);
    __m512i v[2] = {_mm512_permutexvar_epi16(_mm512_and_si512(words, _mm512_set1_epi16(0xF)), values),
                    _mm512_permutexvar_epi16(_mm512_srli_epi16(words, 4), values)};
    if constexpr (!HalfSteps<kOffset, Columns>::kSplit) {
      const __m512i first = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6,
                                             37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
      const __m512i second = _mm512_add_epi16(first, _mm512_set1_epi16(16));
      const __m512i lo = v[0], hi = v[1];
      v[0] = _mm512_permutex2var_epi16(lo, first, hi);
      v[1] = _mm512_permutex2var_epi16(lo, second, hi);
    }
    for (int h = 0; h < 2; ++h) this->antiquant(h, v[h], w);
  }
};

// Each int8 value converted to a half (exactly: every int8 is one), in column order.
template <bool kOffset>
struct HalfInt8Decoder : HalfSteps<kOffset, NaturalColumns<Avx512>> {
  using HalfSteps<kOffset, NaturalColumns<Avx512>>::HalfSteps;
  void decode(const uint8_t *bytes, __m512 *w) const { decode_halves(bytes, bytes + 32, w); }
  void decode_halves(const uint8_t *first, const uint8_t *second, __m512 *w) const {
    decode_half(0, first, w);
    decode_half(1, second, w);
  }
  void decode_half(int h, const uint8_t *bytes, __m512 *w) const {
    const __m512i words = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(bytes)));
    this->antiquant(h, _mm512_castph_si512(_mm512_cvtepi16_ph(words)), w);
  }
};

template <bool kOffset>
void dequant_int4_row_half(const uint8_t *bytes, const float *offset, const float *scale, float *out) {
  __m512 w[4];
  HalfInt4Decoder<kOffset, NaturalColumns<Avx512>>(offset, scale).decode(bytes, w);
  for (int v = 0; v < 4; ++v) _mm512_storeu_ps(out + 16 * v, w[v]);
}

void dequant_int4_row_fp16(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  if (r != Rounding::kHalf || scale == nullptr) return avx512::dequant_int4_row(bytes, offset, scale, r, out);
  if (offset != nullptr) return dequant_int4_row_half<true>(bytes, offset, scale, out);
  dequant_int4_row_half<false>(bytes, offset, scale, out);
}

// Up to 4 rows of x straight from the registers, in the bytes' column order; more through a panel.
template <bool kOffset>
void accumulate_int4_half(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          const float *x, int64_t x_stride, int64_t rows, float *acc) {
  if (rows > 4) {
    return accumulate_fused<Avx512, 4>(HalfInt4Decoder<kOffset, NaturalColumns<Avx512>>(offset, scale), bytes,
                                       row_bytes, kp, x, x_stride, rows, acc);
  }
  accumulate_decoded_upto<Avx512, 4>(HalfInt4Decoder<kOffset, SplitColumns>(offset, scale), bytes, row_bytes, kp, x,
                                     x_stride, rows, acc);
}

void accumulate_int4_fp16(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  if (accumulate_split<false>(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc)) return;
  if (r != Rounding::kHalf || scale == nullptr) {  // the AVX-512 steps, past the split they would try again
    accumulate_fused_x86<Avx512, Int4Values<Avx512>, 4>(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
  } else if (offset != nullptr) {
    accumulate_int4_half<true>(bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc);
  } else {
    accumulate_int4_half<false>(bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc);
  }
}

void accumulate_int4_tiles_fp16(const TileRun &run) {
  if (accumulate_int4_tiles_split(run)) return;
  if (run.rounding != Rounding::kHalf || run.scale == nullptr || run.rows > 4) {
    return accumulate_int4_tiles_in_steps<accumulate_int4_fp16>(run);
  }
  // Each tile's scale and offset halves made once, and its accumulators put in the bytes' column order once.
  if (run.offset != nullptr) {
    return accumulate_tiles_kept<Avx512, 4, HalfInt4Decoder<true, SplitColumns>,
                                 HalfInt4Decoder<true, KeptColumns<Avx512>>>(run);
  }
  accumulate_tiles_kept<Avx512, 4, HalfInt4Decoder<false, SplitColumns>, HalfInt4Decoder<false, KeptColumns<Avx512>>>(
      run);
}

void accumulate_int8_fp16(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  if (r != Rounding::kHalf || scale == nullptr) {
    avx512::accumulate_int8(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
  } else if (offset != nullptr) {
    accumulate_fused<Avx512, 4>(HalfInt8Decoder<true>(offset, scale), bytes, row_bytes, kp, x, x_stride, rows, acc);
  } else {
    accumulate_fused<Avx512, 4>(HalfInt8Decoder<false>(offset, scale), bytes, row_bytes, kp, x, x_stride, rows, acc);
  }
}

void accumulate_int8_blocks_fp16(const uint8_t *bytes, int64_t second, int64_t kp, const float *offset,
                                 const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows,
                                 float *acc) {
  constexpr int64_t kRowBytes = kInt8BlockRowBytes;
  if (r != Rounding::kHalf || scale == nullptr) {
    avx512::accumulate_int8_blocks(bytes, second, kp, offset, scale, r, x, x_stride, rows, acc);
  } else if (offset != nullptr) {
    accumulate_int8_rows<Avx512, 4>(HalfInt8Decoder<true>(offset, scale), second, bytes, kRowBytes, kp, x, x_stride,
                                    rows, acc);
  } else {
    accumulate_int8_rows<Avx512, 4>(HalfInt8Decoder<false>(offset, scale), second, bytes, kRowBytes, kp, x, x_stride,
                                    rows, acc);
  }
}

}  // namespace

const MatmulKernels matmul_avx512fp16 = {avx512::dequant_row,
                                         dequant_int4_row_fp16,
                                         avx512::accumulate,
                                         avx512::multiply_add,
                                         accumulate_int4_fp16,
                                         avx512::multiply_add_int4,
                                         accumulate_int8_fp16,
                                         accumulate_int4_tiles_fp16,
                                         avx512::accumulate_int4_tiles_by_lanes,
                                         false,
                                         accumulate_int8_blocks_fp16};

}  // namespace int4pack::kernels
