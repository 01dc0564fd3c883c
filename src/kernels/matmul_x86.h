// The matmul steps both x86 kernel sets share, written once over a vector type: V holds kLanes floats
// (__m256 for AVX2, __m512 for AVX-512), and the ISA file supplies its operations (the Ops struct).
// Included by matmul_avx2.cc and matmul_avx512.cc alone.
#ifndef INT4PACK_KERNELS_MATMUL_X86_H_
#define INT4PACK_KERNELS_MATMUL_X86_H_

#include <immintrin.h>

#include "kernels/matmul_kernels.h"

namespace int4pack::kernels {
namespace {

// Ops: using V; kLanes; load(const float *), store(float *, V), set1(float), zero(), fma(a, b, c),
//      add, mul, from_int8(const int8_t *) (kLanes values widened to float), round_half(V), round_bf16(V).
template <typename Ops>
inline typename Ops::V round_to(typename Ops::V v, Rounding r) {
  if (r == Rounding::kHalf) return Ops::round_half(v);
  if (r == Rounding::kBFloat16) return Ops::round_bf16(v);
  return v;
}

template <typename Ops>
inline void dequant_row_x86(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  using V = typename Ops::V;
  for (int64_t c = 0; c < kPanelCols; c += Ops::kLanes) {
    V w = Ops::from_int8(q + c);
    if (offset != nullptr) w = Ops::add(w, Ops::load(offset + c));
    if (scale != nullptr) {
      if (offset != nullptr) w = round_to<Ops>(w, r);
      w = round_to<Ops>(Ops::mul(w, Ops::load(scale + c)), r);
    }
    Ops::store(out + c, w);
  }
}

// kRows rows of x at a time: kRows x 64 accumulators in registers, each weight row read once per kRows.
template <typename Ops, int kRows>
inline void accumulate_rows(const float *x, int64_t x_stride, const float *w, int64_t kp, float *acc) {
  using V = typename Ops::V;
  constexpr int kVectors = static_cast<int>(kPanelCols / Ops::kLanes);
  V a[kRows][kVectors];
  for (int i = 0; i < kRows; ++i) {
    for (int v = 0; v < kVectors; ++v) a[i][v] = Ops::load(acc + i * kPanelCols + v * Ops::kLanes);
  }
  for (int64_t t = 0; t < kp; ++t) {
    // The same loads for every row: the compiler keeps them in registers when there are enough.
    for (int i = 0; i < kRows; ++i) {
      const V xv = Ops::set1(x[i * x_stride + t]);
      for (int v = 0; v < kVectors; ++v)
        a[i][v] = Ops::fma(xv, Ops::load(w + t * kPanelCols + v * Ops::kLanes), a[i][v]);
    }
  }
  for (int i = 0; i < kRows; ++i) {
    for (int v = 0; v < kVectors; ++v) Ops::store(acc + i * kPanelCols + v * Ops::kLanes, a[i][v]);
  }
}

template <typename Ops, int kRows>
inline void accumulate_x86(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc) {
  int64_t i = 0;
  for (; i + kRows <= rows; i += kRows)
    accumulate_rows<Ops, kRows>(x + i * x_stride, x_stride, w, kp, acc + i * kPanelCols);
  for (; i < rows; ++i) accumulate_rows<Ops, 1>(x + i * x_stride, x_stride, w, kp, acc + i * kPanelCols);
}

// float -> bfloat16 -> float, to nearest even, over 32-bit lanes of integers (NaN kept, quietened).
template <typename I, typename Ops>
inline I bf16_round_bits(I bits) {
  const I lsb = Ops::iand(Ops::isrl16(bits), Ops::iset1(1));
  const I rounded =
      Ops::iand(Ops::iadd(Ops::iadd(bits, Ops::iset1(0x7FFF)), lsb), Ops::iset1(static_cast<int>(0xFFFF0000u)));
  const I quiet = Ops::iand(Ops::ior(bits, Ops::iset1(0x00400000)), Ops::iset1(static_cast<int>(0xFFFF0000u)));
  return Ops::iselect_nan(bits, quiet, rounded);
}

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_X86_H_
