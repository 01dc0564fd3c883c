// Matmul steps with AVX-512 FP16: an INT4 row is antiquantized in half precision, 32 values an
// instruction. The golden steps round (w + offset) and (w + offset) * scale to FLOAT16, which is what
// VADDPH and VMULPH do (IEEE, round to nearest even, subnormals kept), so the result is bit for bit the
// scalar one. BFLOAT16 activations, rows without a scale (packed-scale mode) and the accumulation take the
// AVX-512 steps.
#include <immintrin.h>

#include "kernels/matmul_avx512_ops.h"
#include "kernels/matmul_kernels.h"
#include "kernels/matmul_x86.h"

namespace int4pack::kernels {
namespace {

// 32 floats (exactly halves: the scale and offset have x's dtype) as 32 halves.
inline __m512h halves(const float *v) {
  const __m256i a = _mm512_cvtps_ph(_mm512_loadu_ps(v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i b = _mm512_cvtps_ph(_mm512_loadu_ps(v + 16), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_castsi512_ph(_mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1));
}

inline void store_floats(float *out, __m512h h) {
  const __m512i bits = _mm512_castph_si512(h);
  _mm512_storeu_ps(out, _mm512_cvtph_ps(_mm512_castsi512_si256(bits)));
  _mm512_storeu_ps(out + 16, _mm512_cvtph_ps(_mm512_extracti64x4_epi64(bits, 1)));
}

void dequant_int4_row_fp16(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
  if (r != Rounding::kHalf || scale == nullptr) {
    matmul_avx512.dequant_int4_row(bytes, offset, scale, r, out);
    return;
  }
  // Byte i of the row in word i; its low nibble is column 2i, its high one column 2i + 1.
  const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(bytes)));
  const __m512i nibble = _mm512_set1_epi16(0xF), eight = _mm512_set1_epi16(8);
  const __m512i lo = _mm512_and_si512(words, nibble);
  const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(words, 4), nibble);
  const __m512i first = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6, 37,
                                         5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i second = _mm512_add_epi16(first, _mm512_set1_epi16(16));
  for (int h = 0; h < 2; ++h) {
    const __m512i columns = _mm512_permutex2var_epi16(lo, h == 0 ? first : second, hi);
    // Nibbles 0..15 to two's complement [-8, 7]: (v ^ 8) - 8; exact in half precision.
    __m512h w = _mm512_cvtepi16_ph(_mm512_sub_epi16(_mm512_xor_si512(columns, eight), eight));
    if (offset != nullptr) w = _mm512_add_ph(w, halves(offset + 32 * h));
    w = _mm512_mul_ph(w, halves(scale + 32 * h));
    store_floats(out + 32 * h, w);
  }
}

// The rows of an INT4 tile that share a scale row (matmul_x86.h's decoder interface), in half precision:
// each nibble is looked up as the half of its signed value, the bytes' low and high nibbles are
// interleaved into column order, and the antiquantized halves are widened to floats for the FMAs.
template <bool kOffset>
struct HalfInt4RowDecoder {
  __m512h offset[2], scale[2];
  HalfInt4RowDecoder(const float *o, const float *s) {
    for (int h = 0; h < 2; ++h) {
      if constexpr (kOffset) offset[h] = halves(o + 32 * h);
      scale[h] = halves(s + 32 * h);
    }
  }
  void decode(const uint8_t *bytes, __m512 *w) const {
    const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(bytes)));
    // Nibble v to the half of v - 16 * (v >= 8); entries 16..31 are never indexed.
    // As signed 16-bit words: -17408 is 0xBC00 (-1.0), ..., -14336 is 0xC800 (-8.0).
    const __m512i values =
        _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -17408, -16384, -15872, -15360, -15104, -14848,
                         -14592, -14336, 0x4700, 0x4600, 0x4500, 0x4400, 0x4200, 0x4000, 0x3C00, 0);
    const __m512i lo = _mm512_permutexvar_epi16(_mm512_and_si512(words, _mm512_set1_epi16(0xF)), values);
    const __m512i hi = _mm512_permutexvar_epi16(_mm512_srli_epi16(words, 4), values);
    const __m512i first = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6,
                                           37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    const __m512i second = _mm512_add_epi16(first, _mm512_set1_epi16(16));
    for (int h = 0; h < 2; ++h) {
      __m512h v = _mm512_castsi512_ph(_mm512_permutex2var_epi16(lo, h == 0 ? first : second, hi));
      if constexpr (kOffset) v = _mm512_add_ph(v, offset[h]);
      const __m512i bits = _mm512_castph_si512(_mm512_mul_ph(v, scale[h]));
      w[2 * h] = _mm512_cvtph_ps(_mm512_castsi512_si256(bits));
      w[2 * h + 1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(bits, 1));
    }
  }
};

// The fused rows keep their columns in the order the bytes hold them, which spares the interleaving: the
// even columns (low nibbles) and the odd ones (high nibbles), as floats [0, 2 .. 30], [32 .. 62],
// [1, 3 .. 31], [33 .. 63]. The accumulators enter and leave that order once a call.
inline void split_columns(const float *natural, __m512 *split) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 n0 = _mm512_loadu_ps(natural), n1 = _mm512_loadu_ps(natural + 16);
  const __m512 n2 = _mm512_loadu_ps(natural + 32), n3 = _mm512_loadu_ps(natural + 48);
  split[0] = _mm512_permutex2var_ps(n0, even, n1);
  split[1] = _mm512_permutex2var_ps(n2, even, n3);
  split[2] = _mm512_permutex2var_ps(n0, odd, n1);
  split[3] = _mm512_permutex2var_ps(n2, odd, n3);
}

inline void join_columns(const __m512 *split, float *natural) {
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
  _mm512_storeu_ps(natural, _mm512_permutex2var_ps(split[0], low, split[2]));
  _mm512_storeu_ps(natural + 16, _mm512_permutex2var_ps(split[0], high, split[2]));
  _mm512_storeu_ps(natural + 32, _mm512_permutex2var_ps(split[1], low, split[3]));
  _mm512_storeu_ps(natural + 48, _mm512_permutex2var_ps(split[1], high, split[3]));
}

// 32 floats (halves' values) as 32 halves.
inline __m512h halves(__m512 a, __m512 b) {
  const __m256i lo = _mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i hi = _mm512_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_castsi512_ph(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
}

// HalfInt4RowDecoder in the split column order.
template <bool kOffset>
struct HalfInt4SplitDecoder {
  __m512h offset[2], scale[2];  // even columns, odd columns
  HalfInt4SplitDecoder(const float *o, const float *s) {
    __m512 f[4];
    if constexpr (kOffset) {
      split_columns(o, f);
      offset[0] = halves(f[0], f[1]);
      offset[1] = halves(f[2], f[3]);
    }
    split_columns(s, f);
    scale[0] = halves(f[0], f[1]);
    scale[1] = halves(f[2], f[3]);
  }
  void decode(const uint8_t *bytes, __m512 *w) const {
    const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(bytes)));
    const __m512i values =
        _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -17408, -16384, -15872, -15360, -15104, -14848,
                         -14592, -14336, 0x4700, 0x4600, 0x4500, 0x4400, 0x4200, 0x4000, 0x3C00, 0);
    const __m512i nibbles[2] = {_mm512_and_si512(words, _mm512_set1_epi16(0xF)), _mm512_srli_epi16(words, 4)};
    for (int h = 0; h < 2; ++h) {
      __m512h v = _mm512_castsi512_ph(_mm512_permutexvar_epi16(nibbles[h], values));
      if constexpr (kOffset) v = _mm512_add_ph(v, offset[h]);
      const __m512i bits = _mm512_castph_si512(_mm512_mul_ph(v, scale[h]));
      w[2 * h] = _mm512_cvtph_ps(_mm512_castsi512_si256(bits));
      w[2 * h + 1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(bits, 1));
    }
  }
};

template <int kRows, typename Decoder>
void accumulate_split_rows(const Decoder &d, const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *x,
                           int64_t x_stride, float *acc) {
  __m512 a[kRows][4];
  for (int i = 0; i < kRows; ++i) split_columns(acc + i * kPanelCols, a[i]);
  for (int64_t t = 0; t < kp; ++t) {
    __m512 w[4];
    d.decode(bytes + t * row_bytes, w);
    for (int i = 0; i < kRows; ++i) {
      const __m512 xv = _mm512_set1_ps(x[i * x_stride + t]);
      for (int v = 0; v < 4; ++v) a[i][v] = _mm512_fmadd_ps(xv, w[v], a[i][v]);
    }
  }
  for (int i = 0; i < kRows; ++i) join_columns(a[i], acc + i * kPanelCols);
}

template <bool kOffset>
void accumulate_int4_half(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          const float *x, int64_t x_stride, int64_t rows, float *acc) {
  if (rows > 4) {  // through a panel, in column order
    return accumulate_int4_decoded<Avx512, 4, 4>(HalfInt4RowDecoder<kOffset>(offset, scale), bytes, row_bytes, kp, x,
                                                 x_stride, rows, acc);
  }
  const HalfInt4SplitDecoder<kOffset> d(offset, scale);
  switch (rows) {
    case 1:
      return accumulate_split_rows<1>(d, bytes, row_bytes, kp, x, x_stride, acc);
    case 2:
      return accumulate_split_rows<2>(d, bytes, row_bytes, kp, x, x_stride, acc);
    case 3:
      return accumulate_split_rows<3>(d, bytes, row_bytes, kp, x, x_stride, acc);
    default:
      return accumulate_split_rows<4>(d, bytes, row_bytes, kp, x, x_stride, acc);
  }
}

void accumulate_int4_fp16(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          Rounding r, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  if (r != Rounding::kHalf || scale == nullptr) {
    matmul_avx512.accumulate_int4(bytes, row_bytes, kp, offset, scale, r, x, x_stride, rows, acc);
  } else if (offset != nullptr) {
    accumulate_int4_half<true>(bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc);
  } else {
    accumulate_int4_half<false>(bytes, row_bytes, kp, offset, scale, x, x_stride, rows, acc);
  }
}

}  // namespace

const MatmulKernels matmul_avx512fp16 = {matmul_avx512.dequant_row, dequant_int4_row_fp16,
                                         matmul_avx512.accumulate,  matmul_avx512.multiply_add,
                                         accumulate_int4_fp16,      matmul_avx512.multiply_add_int4};

}  // namespace int4pack::kernels
