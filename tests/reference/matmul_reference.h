// The weight-quantized matmul written from CANN's golden steps, one output at a time, over the logical
// values (not any packed layout): what aclnnWeightQuantBatchMatmulV2 and the engine are tested against.
// Sums are exact enough to serve as the truth (double precision over products that are exact in float),
// so a test compares with a bound derived from float32 accumulation, not a loose tolerance.
#ifndef INT4PACK_TESTS_REFERENCE_MATMUL_REFERENCE_H_
#define INT4PACK_TESTS_REFERENCE_MATMUL_REFERENCE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace int4pack::reference {

struct GoldenMatmul {
  int64_t m = 0, k = 0, n = 0;
  bool bf16 = false;         // x's type (and the antiquant rounding): bfloat16, else float16
  std::vector<float> x;      // m x k, values of x's type
  std::vector<int32_t> w;    // k x n, int4 or int8 values
  std::vector<float> scale;  // scale_rows x scale_cols: (1, 1), (1, n) or (G, n)
  int64_t scale_rows = 1, scale_cols = 1;
  std::vector<float> offset;  // the scale's shape, or empty
  int64_t group_size = 0;     // 0: one scale row
  bool packed_scale = false;  // scale applied after the matmul: W' = w + offset, y = (x W') * scale + bias
  std::vector<float> bias;    // n values, or empty
  std::vector<float> quant_scale, quant_offset;  // n values (or 1) each: INT8 output; empty: float output
};

struct GoldenResult {
  std::vector<double> value;      // m x n: what the final rounding (or rint for INT8) is applied to
  std::vector<double> magnitude;  // m x n: sum of |x * W'| over k, for the accumulation bound
  std::vector<double> product;    // m x n: the exact sum x * W' alone (before scale, bias, quantization)
};

// W'[c][j] by the golden steps: r(r(w + offset) * scale), r(w * scale), or w + offset (packed scale).
float antiquant(const GoldenMatmul &g, int64_t c, int64_t j);

GoldenResult golden_matmul(const GoldenMatmul &g);

// The bound on |y - value| for output o (column j), from the arithmetic: k float32 additions of exact
// products (each rounds by at most 2^-24 of the running sum, so together by gamma_k = k 2^-24 / (1 - k 2^-24)
// of the sum of |products|), the float32 scale multiplication and bias addition (2^-24 each), for bfloat16 x
// the rounding of the sum to bfloat16 (2^-8), and the final rounding to y's type: half a unit in its last
// place (2^-11 relative for float16, 2^-8 for bfloat16, at least half the smallest subnormal), or for INT8
// output rint's 0.5 (after the float32 quantization arithmetic, 2^-24 twice).
double golden_bound(const GoldenMatmul &g, const GoldenResult &r, size_t o, int64_t j);

// y's value for output o from its bits: float16 / bfloat16 (x's type), or INT8 with quant_scale.
double y_value(const GoldenMatmul &g, const void *y, size_t o);

// Whether every output of y (m x n, row-major) is within golden_bound of the golden value (INT8: of the
// value saturated to [-128, 127]); on failure, the first output that is not, with its numbers.
bool within_golden_bound(const GoldenMatmul &g, const void *y, std::string *why);

}  // namespace int4pack::reference

#endif  // INT4PACK_TESTS_REFERENCE_MATMUL_REFERENCE_H_
