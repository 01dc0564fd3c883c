/*
 * int4pack extension (not part of CANN): the weight-quantized matmul of aclnnWeightQuantBatchMatmulV2 as a
 * C++ library call (libint4pack.so), on the engine that packs the weights. The operator, and the Python
 * package's weight_quant_batchmatmul, are built on it.
 *
 *   y = x @ W' + bias,  W'[c][j] = r(r(w[c][j] + offset[g][j]) * scale[g][j]),  g = c / group_size
 *
 * with r() rounding to x's type (FLOAT16 or BFLOAT16, nearest-even), products accumulated in float32 over
 * c in increasing order (the same order for every thread count, so the result is deterministic), and one
 * final rounding to y's type (for BFLOAT16 x the sum is rounded to BFLOAT16 before the bias is added).
 * These are CANN's golden steps. Two further modes:
 *   packed scale     scale words of kUint64 hold a float's bits in their low 32 (CANN's TransQuantParam):
 *                    W' = w + offset (kInt32), and y = (x @ W') * r16(scale[j]) + bias
 *   INT8 output      with output quantization: y = saturate(rint((x @ W' + bias) * qscale[j] + qoffset[j]))
 *                    in float32, qscale kUint64 words as above, rounding to nearest even, saturating to
 *                    [-128, 127]
 */
#ifndef INT4PACK_MATMUL_H_
#define INT4PACK_MATMUL_H_

#include <cstddef>
#include <cstdint>

#include "int4pack/engine.h"

namespace int4pack {

// rows x cols elements of `type`; element (i, j) at data + (i * row_stride + j * col_stride) elements.
// data null: the matrix is absent (optional operands).
struct Matrix {
  const void *data = nullptr;
  ElementType type = ElementType::kFloat16;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;
  int64_t col_stride = 1;
};

// A k x n matrix of quantized weights as CANN stores it.
//   kInt4, ND:           row-major, two per byte (element 2i of a row in the low nibble)
//   kInt4, FRACTAL_NZ:   blocks of 16 rows x 64 values: element (i, j) at block [j/64][i/16], row i%16,
//                        column j%64 (aclnnConvertWeightToINT4Pack's NZ output)
//   kInt8, ND:           row-major bytes
//   kInt8, FRACTAL_NZ:   blocks of 16 rows x 32 bytes: element (i, j) at [j/32][i/16][i%16][j%32]
// transposed: the (n, k) matrix is what is stored, in that layout (element (j, i) of it is W[i][j]).
struct QuantWeight {
  const void *data = nullptr;
  size_t bytes = 0;  // the buffer's size: at least what the layout needs
  ElementType type = ElementType::kInt4;
  Layout layout = Layout::kNd;
  bool transposed = false;
  int64_t k = 0;
  int64_t n = 0;
};

struct MatmulArgs {
  Matrix x;  // (m, k), kFloat16 or kBFloat16
  QuantWeight weight;
  // (G, N) with N = n (per column) or 1 (one for all columns), G = 1 or ceil(k / group_size); of x's type,
  // or kUint64 words (packed scale: then per column, with an offset of kInt32 if any, and kInt8 weights).
  Matrix scale;
  Matrix offset;           // the scale's shape and (packed scale aside) type; absent: none
  int64_t group_size = 0;  // rows of k per scale row; 0: one scale row for all of k
  Matrix bias;             // (1, n): kFloat16 for kFloat16 x, kFloat32 for kBFloat16 x; absent: none
  Matrix quant_scale;      // (1, n) or (1, 1) kUint64 words: INT8 output; absent: float output
  Matrix quant_offset;     // quant_scale's shape, kFloat32; absent: none
  void *y = nullptr;       // (m, n), row-major
  ElementType y_type = ElementType::kFloat16;  // x's type, or kInt8 with quant_scale
};

// Workspace phase 2 needs (0 today: every thread keeps its own small buffers).
INT4PACK_API Result matmul_workspace(const MatmulArgs &args, size_t *bytes);

// Computes y. kShape / kType / kBuffer when the arguments do not describe a matmul the engine can run (it
// never reads or writes outside the buffers they describe); kSettings as every engine call.
INT4PACK_API Result weight_quant_matmul(const MatmulArgs &args, void *workspace = nullptr, size_t workspace_bytes = 0);

}  // namespace int4pack

#endif  // INT4PACK_MATMUL_H_
