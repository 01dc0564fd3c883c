// The matmul family: the two inner steps of the weight-quantized matmul (engine/matmul.cc), over panels of
// 64 columns (one FRACTAL_NZ int4 block wide):
//   dequant_row   one row of 64 int4/int8 values to their antiquantized float values, CANN's golden steps
//   dequant_int4_row  the same from the 32 packed bytes of 64 int4 values
//   accumulate    acc += x * panel for a few rows of x, each product added in order of k
//   multiply_add  64 lanes of partial dot products, for a transposed weight at decode
//   multiply_add_int4  multiply_add over a transposed INT4 tile's 64 values of k, antiquantized by lookup
//   accumulate_int4  dequant_int4_row and accumulate in one, for the rows of an INT4 tile that share a
//                 scale row: at decode the antiquantized values never leave the registers
//   accumulate_int8  the same for the rows of an INT8 ND tile (64 int8 values a row)
//   accumulate_int8_blocks  accumulate_int8 for an INT8 FRACTAL_NZ tile, whose rows lie in two blocks
//   accumulate_int4_tiles  accumulate_int4 on neighbouring tiles in one call, each tile's scale and offset
//                 prepared once for the whole walk (an ND weight's 16-row steps would redo it every step)
//   accumulate_int4_tiles_by_lanes  the same sums taken as 16 interleaved partial sums, then folded: at
//                 decode with one row of x, each value looked up in its column's table (optional)
// Every table computes every output bit for bit as the scalar one does: products of two half or bfloat16
// values are exact in float32, so an FMA and the scalar `acc + x * w` round alike, and each acc element
// sums over k in the same order (by lanes, the same order of its own).
#ifndef INT4PACK_KERNELS_MATMUL_KERNELS_H_
#define INT4PACK_KERNELS_MATMUL_KERNELS_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/isa_arch.h"

namespace int4pack::kernels {

inline constexpr int64_t kPanelCols = 64;
inline constexpr int64_t kMaxFusedRows = 128;  // accumulate_int4's and accumulate_int8's most rows of weight a call

// r() of the golden steps: round a float32 to the activation type (and back), or not at all.
enum class Rounding : int { kNone = 0, kHalf = 1, kBFloat16 = 2 };

// accumulate_int4 on neighbouring tiles of one row range of an INT4 weight, in one call: the walk takes
// `segment` rows of every tile in turn, and a table may keep each tile's state (its scale and offset rows
// in its own form) in scratch across the walk instead of rebuilding it for every segment.
inline constexpr int64_t kTileScratchBytes = 512;  // scratch a tile of a TileRun may use

struct TileRun {
  const uint8_t *bytes;  // tile 0's first row: tile s's row t is the 32 bytes at bytes + t * row_bytes + s * tile_bytes
  int64_t row_bytes;
  int64_t tile_bytes;  // 32 for ND rows, a whole tile of blocks for FRACTAL_NZ
  int64_t kp;          // rows of each tile, at most kMaxFusedRows
  int64_t tiles;
  int64_t segment;      // rows of a tile taken at a time
  const float *offset;  // tile 0's offset row (null: none); tile s's at offset + s * param_stride
  const float *scale;   // tile 0's scale row (null: the packed-scale mode), the same way
  int64_t param_stride;
  Rounding rounding;
  const float *x;
  int64_t x_stride;
  int64_t rows;
  float *acc;  // tile 0's accumulators (rows x 64); tile s's at acc + s * acc_stride
  int64_t acc_stride;
  void *scratch;  // tiles * kTileScratchBytes bytes, any alignment
};

struct MatmulKernels {
  // out[c] = r(r(q[c] + offset[c]) * scale[c]) for c < 64; offset null: r(q[c] * scale[c]); scale null:
  // q[c] + offset[c] (or q[c]), unrounded (the packed-scale mode scales after the matmul). With a rounding,
  // scale and offset hold values of that type (they have x's dtype), which a table may compute in.
  void (*dequant_row)(const int8_t *q, const float *offset, const float *scale, Rounding rounding, float *out);
  // dequant_row of 64 int4 values packed in 32 bytes (value 2i in the low nibble of byte i, two's
  // complement): one row of a 64-column tile of an INT4 ND or FRACTAL_NZ weight, decoded in registers.
  void (*dequant_int4_row)(const uint8_t *bytes, const float *offset, const float *scale, Rounding rounding,
                           float *out);
  // acc[i][c] += x[i][t] * w[t][c] for i < rows, c < 64, t = 0 .. kp-1 in that order. x: rows x kp with
  // row stride x_stride; w: kp x 64; acc: rows x 64.
  void (*accumulate)(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc);
  // acc[c] += x[c] * w[c] for c < 64 (a transposed weight's rows are dot products along k).
  void (*multiply_add)(const float *x, const float *w, float *acc);
  // acc[i][c] += x[i][t] * w[t][c] for i < rows, c < 64, t = 0 .. kp-1 in that order (kp <= kMaxFusedRows),
  // where w[t] is dequant_int4_row of the 32 bytes at bytes + t * row_bytes with this offset and scale row.
  void (*accumulate_int4)(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          Rounding rounding, const float *x, int64_t x_stride, int64_t rows, float *acc);
  // For c < columns and i < rows: multiply_add(x + i * x_stride, w_c, lanes + (i * 64 + c) * 64), where w_c
  // holds table[16 c + v] for the 64 nibbles v of the 32 bytes at bytes + c * row_bytes, in nibble order
  // (kNibbleOrder): one scale and offset for all 64 values make each antiquantized value a function of its
  // nibble, which the table holds, and a dot product may take its terms in any fixed order.
  void (*multiply_add_int4)(const uint8_t *bytes, int64_t row_bytes, int64_t columns, const float *table,
                            const float *x, int64_t x_stride, int64_t rows, float *lanes);
  // accumulate_int4 where w[t] is dequant_row of the 64 int8 values at bytes + t * row_bytes.
  void (*accumulate_int8)(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                          Rounding rounding, const float *x, int64_t x_stride, int64_t rows, float *acc);
  // accumulate_int4 on each tile of the run, over its kp rows: the same sums, in the same order per tile.
  void (*accumulate_int4_tiles)(const TileRun &run);
  // accumulate_int4_tiles with each sum over the run's rows taken by lanes: for each tile, row i of x and
  // c < 64, acc[i][c] += fold_lanes(p), where p[r] = sum of x[i][t] * w[t][c] over the rows t = r, r + 16,
  // r + 32 .. of the run, from +0 in order of t (fused multiply-adds). The order of a kernel that holds 16
  // rows of one column in a vector, which lets it look each value up in its column's table; the engine
  // takes it for one row of x and a FRACTAL_NZ weight. Null in a table without one (the engine then takes
  // accumulate_int4_tiles).
  void (*accumulate_int4_tiles_by_lanes)(const TileRun &run);
  // The engine takes accumulate_int4_tiles_by_lanes for ND rows as well: where it measured faster there
  // (an ND tile's 16 rows lie far apart, which the lookup's gain must pay for).
  bool by_lanes_on_nd = false;
  // accumulate_int8 over an INT8 FRACTAL_NZ tile's rows, which lie in two blocks of 32 columns: row t's
  // first 32 values at bytes + 32 t, its last 32 at bytes + second + 32 t. The vector tables read both
  // blocks' rows in place as the sums go (copying them side by side first waits on memory before the sums
  // start); the others copy them (accumulate_int8_blocks_in_steps).
  void (*accumulate_int8_blocks)(const uint8_t *bytes, int64_t second, int64_t kp, const float *offset,
                                 const float *scale, Rounding rounding, const float *x, int64_t x_stride, int64_t rows,
                                 float *acc) = nullptr;
};

// Bytes of an INT8 FRACTAL_NZ block's row (C0 = 32 values): accumulate_int8_blocks' rows' stride.
inline constexpr int64_t kInt8BlockRowBytes = kPanelCols / 2;

// One row of accumulate_int8_blocks (its first 32 values at row, its last 32 `second` bytes on) as 64
// values side by side, for the steps that take a row's values in one piece.
inline void join_block_row(const uint8_t *row, int64_t second, uint8_t *out) {
  std::memcpy(out, row, kInt8BlockRowBytes);
  std::memcpy(out + kInt8BlockRowBytes, row + second, kInt8BlockRowBytes);
}

// The sum of 16 lanes, halves first: lanes r and r + 8, then r + 4, r + 2 and r + 1 (a vector does each
// round at once).
inline float fold_lanes(const float *p) {
  float v[8];
  for (int r = 0; r < 8; ++r) v[r] = p[r] + p[r + 8];
  for (int r = 0; r < 4; ++r) v[r] = v[r] + v[r + 4];
  for (int r = 0; r < 2; ++r) v[r] = v[r] + v[r + 2];
  return v[0] + v[1];
}

// Lane p of multiply_add_int4's w is value nibble_order_value(p) of the 64 (value 2i is byte i's low nibble):
// each 16 bytes' low nibbles, then their high nibbles, as a vector of 16 lanes gets them.
constexpr int64_t nibble_order_value(int64_t p) { return 32 * (p / 32) + 2 * (p % 16) + (p / 16) % 2; }

// multiply_add_int4 as its definition reads, over a table's own multiply_add.
template <void (*kMultiplyAdd)(const float *, const float *, float *)>
void multiply_add_int4_in_steps(const uint8_t *bytes, int64_t row_bytes, int64_t columns, const float *table,
                                const float *x, int64_t x_stride, int64_t rows, float *lanes) {
  for (int64_t c = 0; c < columns; ++c) {
    alignas(64) float w[kPanelCols];
    const uint8_t *b = bytes + c * row_bytes;
    for (int64_t p = 0; p < kPanelCols; ++p) {
      const int64_t v = nibble_order_value(p);
      w[p] = table[16 * c + ((b[v / 2] >> (4 * (v % 2))) & 0xF)];
    }
    for (int64_t r = 0; r < rows; ++r) kMultiplyAdd(x + r * x_stride, w, lanes + (r * kPanelCols + c) * kPanelCols);
  }
}

// accumulate_int4 and accumulate_int8 as their definitions read, over a table's own two steps (a row step,
// then accumulate): the tables without a fused one.
using RowStep = void (*)(const uint8_t *, const float *, const float *, Rounding, float *);
using AccumulateStep = void (*)(const float *, int64_t, int64_t, const float *, int64_t, float *);

template <RowStep kRowStep, AccumulateStep kAccumulate>
void accumulate_in_steps(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset, const float *scale,
                         Rounding rounding, const float *x, int64_t x_stride, int64_t rows, float *acc) {
  alignas(64) float panel[kMaxFusedRows * kPanelCols];
  for (int64_t t = 0; t < kp; ++t) kRowStep(bytes + t * row_bytes, offset, scale, rounding, panel + t * kPanelCols);
  kAccumulate(x, x_stride, rows, panel, kp, acc);
}

// accumulate_int4_tiles as its definition reads, over a table's own accumulate_int4: each segment of
// every tile a call of its own.
using FusedStep = void (*)(const uint8_t *, int64_t, int64_t, const float *, const float *, Rounding, const float *,
                           int64_t, int64_t, float *);

template <FusedStep kFused>
void accumulate_int4_tiles_in_steps(const TileRun &run) {
  for (int64_t a = 0; a < run.kp; a += run.segment) {
    const int64_t rows = run.kp - a < run.segment ? run.kp - a : run.segment;
    for (int64_t s = 0; s < run.tiles; ++s) {
      kFused(run.bytes + a * run.row_bytes + s * run.tile_bytes, run.row_bytes, rows,
             run.offset != nullptr ? run.offset + s * run.param_stride : nullptr,
             run.scale != nullptr ? run.scale + s * run.param_stride : nullptr, run.rounding, run.x + a, run.x_stride,
             run.rows, run.acc + s * run.acc_stride);
    }
  }
}

// accumulate_int8_blocks as its definition reads, over a table's own accumulate_int8: the rows copied side
// by side.
template <FusedStep kAccumulateInt8>
void accumulate_int8_blocks_in_steps(const uint8_t *bytes, int64_t second, int64_t kp, const float *offset,
                                     const float *scale, Rounding rounding, const float *x, int64_t x_stride,
                                     int64_t rows, float *acc) {
  alignas(64) uint8_t joined[kMaxFusedRows * kPanelCols];
  for (int64_t t = 0; t < kp; ++t) join_block_row(bytes + t * kInt8BlockRowBytes, second, joined + t * kPanelCols);
  kAccumulateInt8(joined, kPanelCols, kp, offset, scale, rounding, x, x_stride, rows, acc);
}

// accumulate_int4_tiles_by_lanes as its definition reads, over a table's own INT4 row step.
template <RowStep kInt4Row>
void accumulate_int4_tiles_by_lanes_in_steps(const TileRun &run) {
  constexpr int64_t kLanes = 16;
  for (int64_t s = 0; s < run.tiles; ++s) {
    const float *offset = run.offset != nullptr ? run.offset + s * run.param_stride : nullptr;
    const float *scale = run.scale != nullptr ? run.scale + s * run.param_stride : nullptr;
    for (int64_t i = 0; i < run.rows; ++i) {
      float lanes[kPanelCols][kLanes] = {};
      for (int64_t t = 0; t < run.kp; ++t) {
        float w[kPanelCols];
        kInt4Row(run.bytes + s * run.tile_bytes + t * run.row_bytes, offset, scale, run.rounding, w);
        const float xv = run.x[i * run.x_stride + t];
        for (int64_t c = 0; c < kPanelCols; ++c) lanes[c][t % kLanes] = std::fma(xv, w[c], lanes[c][t % kLanes]);
      }
      float *acc = run.acc + s * run.acc_stride + i * kPanelCols;
      for (int64_t c = 0; c < kPanelCols; ++c) acc[c] = acc[c] + fold_lanes(lanes[c]);
    }
  }
}

// dequant_row as a row step over bytes.
template <void (*kDequantRow)(const int8_t *, const float *, const float *, Rounding, float *)>
void int8_row_step(const uint8_t *bytes, const float *offset, const float *scale, Rounding rounding, float *out) {
  kDequantRow(reinterpret_cast<const int8_t *>(bytes), offset, scale, rounding, out);
}

// A table of its own plain steps, the fused ones built from them as their definitions read.
using DequantRowStep = void (*)(const int8_t *, const float *, const float *, Rounding, float *);
using MultiplyAddStep = void (*)(const float *, const float *, float *);

template <DequantRowStep kDequantRow, RowStep kInt4Row, AccumulateStep kAccumulate, MultiplyAddStep kMultiplyAdd>
constexpr MatmulKernels kernels_in_steps() {
  return {kDequantRow,
          kInt4Row,
          kAccumulate,
          kMultiplyAdd,
          accumulate_in_steps<kInt4Row, kAccumulate>,
          multiply_add_int4_in_steps<kMultiplyAdd>,
          accumulate_in_steps<int8_row_step<kDequantRow>, kAccumulate>,
          accumulate_int4_tiles_in_steps<accumulate_in_steps<kInt4Row, kAccumulate>>,
          nullptr,
          false,
          accumulate_int8_blocks_in_steps<accumulate_in_steps<int8_row_step<kDequantRow>, kAccumulate>>};
}

#define INT4PACK_ISA(name, arch, flags, requirement) INT4PACK_ON_##arch(extern const MatmulKernels matmul_##name;)
#include "kernels/isa_list.inc"
#undef INT4PACK_ISA

}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_MATMUL_KERNELS_H_
