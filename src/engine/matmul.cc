// int4pack::weight_quant_matmul (include/int4pack/matmul.h): the checked entry point, and the plan that runs
// it. The output is cut into tiles of 64 columns (and, when there are fewer column tiles than threads, row
// chunks too); a tile belongs to one thread, which walks k in panels of kPanelRows rows: it decodes the
// panel of packed weights into int8 values, antiquantizes them (dequant_row), and adds x's rows times the
// panel into the tile's float32 accumulators (accumulate), so every output sums over k in the same order
// whatever the thread count. No dequantized copy of the weight exists beyond one panel per thread.
#include "int4pack/matmul.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "core/floats.h"
#include "engine/elements.h"
#include "engine/matmul_run.h"
#include "engine/parallel.h"
#include "engine/settings.h"
#include "kernels/isa.h"

namespace int4pack {
namespace {

using kernels::kPanelCols;
using kernels::Rounding;

constexpr int64_t kPanelRows = 128;                    // rows of k per panel: 128 x 64 floats, 32 KiB, stay in L1
constexpr int64_t kRowBlock = 32;                      // rows of x converted to float32 at a time
constexpr int64_t kWideXBytes = int64_t{16} << 20;     // x widened to float32 once for all tiles, up to this size
constexpr int64_t kWideXPartBytes = int64_t{1} << 20;  // bytes of x (as given) per thread that widens it
constexpr int64_t kMinChunkRows = 32;
// Decode-sized row chunks walk as many tiles together as their accumulators fit in this many bytes (at
// least 8 tiles: an ND weight row's four cache lines): long runs of each ND row, read in order.
constexpr int64_t kGroupAccBytes = 128 * 1024;
constexpr int64_t kMinTilesTogether = 8;
constexpr int64_t kNzTilesTogether = 1;
// Prefill-sized row chunks walk this many tiles together, each over the whole panel: x's panel of rows is
// then read from L2 by all but the first (measured 3-8% faster than one tile at a time, and than 8).
constexpr int64_t kPrefillTilesTogether = 4;
constexpr int64_t kPrefetchRows = 24;
// A transposed weight's columns looked up between two asks for the next piece's lines (two columns a line).
constexpr int64_t kTransposedColumnsAsked = 8;
constexpr int64_t kSegmentRows = 16;  // rows of each tile of a group taken at a time at decode
// Decode-sized matmuls also split k into parts of at least this many rows (a multiple of kPanelRows), at
// most kMaxKParts, and with partial sums of at most kPartialBytes.
constexpr int64_t kKPartRows = 1024;
constexpr int64_t kMaxKParts = 16;
constexpr int64_t kPartialBytes = int64_t{2} << 20;
static_assert(kKPartRows % kPanelRows == 0, "k parts hold whole panels");
static_assert(kPanelRows <= kernels::kMaxFusedRows, "the fused steps take at most kMaxFusedRows rows");

// A row chunk of at most one block of x's rows is decode-sized: its tiles interleave short segments and k
// may split into parts. Larger chunks are prefill's.
bool decode_sized(int64_t chunk_rows) { return chunk_rows <= kRowBlock; }

Result fail(ErrorKind kind, std::string message) {
  Result r;
  r.kind = kind;
  r.message = std::move(message);
  return r;
}

bool present(const Matrix &m) { return m.data != nullptr; }

// The first 64-byte boundary at or after p (a buffer of floats allocated 16 floats longer).
float *aligned_floats(float *p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  return p + ((64 - a % 64) % 64) / sizeof(float);
}

const uint8_t *at(const Matrix &m, int64_t i, int64_t j) {
  return static_cast<const uint8_t *>(m.data) +
         (i * m.row_stride + j * m.col_stride) * static_cast<int64_t>(engine::element_bytes(m.type));
}

// A scale or offset element as the golden steps take it: float32 of its value; a packed-scale word's low
// 32 bits are a float's, masked as CANN's TransQuantParam does, rounded to half.
float operand(const Matrix &m, int64_t i, int64_t j) {
  const uint8_t *p = at(m, i, j);
  switch (m.type) {
    case ElementType::kFloat16:
      return half_to_float(engine::read_as<uint16_t>(p));
    case ElementType::kBFloat16:
      return bfloat16_to_float(engine::read_as<uint16_t>(p));
    case ElementType::kFloat32:
      return engine::read_as<float>(p);
    case ElementType::kInt32:
      return static_cast<float>(engine::read_as<int32_t>(p));
    case ElementType::kUint64:
    case ElementType::kInt64:
      return round_to_half(bits_float(static_cast<uint32_t>(engine::read_as<uint64_t>(p)) & 0xFFFFE000u));
    default:
      return 0;
  }
}

// Where element (r, c) of the stored matrix (rows x cols, as the layout keeps it) is: byte, and for int4
// the nibble (0 low, 1 high).
struct Stored {
  const uint8_t *data;
  bool int4;
  bool nz;
  int64_t rows, cols;
  int8_t value(int64_t r, int64_t c) const {
    size_t byte = 0;
    if (int4) {
      byte = nz ? static_cast<size_t>(((c / 64) * ((rows + 15) / 16) + r / 16) * 512 + (r % 16) * 32 + (c % 64) / 2)
                : static_cast<size_t>(r * (cols / 2) + c / 2);
      const uint8_t b = data[byte];
      const int nibble = (c % 2 == 0) ? (b & 0xF) : (b >> 4);
      return static_cast<int8_t>(nibble >= 8 ? nibble - 16 : nibble);
    }
    byte = nz ? static_cast<size_t>(((c / 32) * ((rows + 15) / 16) + r / 16) * 512 + (r % 16) * 32 + c % 32)
              : static_cast<size_t>(r * cols + c);
    return static_cast<int8_t>(data[byte]);
  }
};

size_t stored_bytes(const Stored &s) {
  const int64_t row_blocks = (s.rows + 15) / 16;
  if (s.int4) return static_cast<size_t>(s.nz ? (s.cols + 63) / 64 * row_blocks * 512 : s.rows * (s.cols / 2));
  return static_cast<size_t>(s.nz ? (s.cols + 31) / 32 * row_blocks * 512 : s.rows * s.cols);
}

inline void widen_nibbles(const uint8_t *bytes, int64_t count, int8_t *out) {
  for (int64_t i = 0; i < count; ++i) {
    out[2 * i] = static_cast<int8_t>(static_cast<int8_t>(bytes[i] << 4) >> 4);
    out[2 * i + 1] = static_cast<int8_t>(static_cast<int8_t>(bytes[i]) >> 4);
  }
}

struct Plan {
  int64_t m = 0, k = 0, n = 0;
  Matrix x;
  Stored weight;
  bool transposed = false;
  Matrix scale, offset;
  int64_t group_rows = 0;  // rows of k per scale row
  bool packed_scale = false;
  Matrix bias, quant_scale, quant_offset;
  void *y = nullptr;
  ElementType y_type = ElementType::kFloat16;
  Rounding rounding = Rounding::kHalf;
  const kernels::Isa *isa = nullptr;
  // x as float32, for row chunks of at most kRowBlock rows (run_tiles' one block) and for any x of at most
  // kWideXBytes as float32: widened once for all tiles instead of once a tile and panel, panel by panel
  // (x_panel).
  const float *x_wide = nullptr;

  // Rows [i0, m) of x_wide's panel of k rows [k0, k0 + kPanelRows), k0 a multiple of kPanelRows: row
  // stride kPanelRows, as run_tiles widens a block of rows itself.
  const float *x_panel(int64_t i0, int64_t k0) const { return x_wide + (k0 / kPanelRows * m + i0) * kPanelRows; }

  // On `threads` threads, a run of panels each, once x is large enough to pay for them (at prefill the
  // widening is a pass over x that one thread would take alone while the others wait).
  void widen_all_x(std::vector<float> *out, int threads) const {
    const int64_t panels = (k + kPanelRows - 1) / kPanelRows;
    out->resize(static_cast<size_t>(panels * m * kPanelRows));
    const int64_t x_bytes = m * k * static_cast<int64_t>(sizeof(uint16_t));
    const int parts = engine::parts_for(x_bytes, threads, panels, kWideXPartBytes);
    engine::run_parts(parts, parts, [&](int part) {
      for (int64_t p = panels * part / parts; p < panels * (part + 1) / parts; ++p) {
        const int64_t k0 = p * kPanelRows;
        widen_x(0, m, k0, std::min(kPanelRows, k - k0), out->data() + p * m * kPanelRows);
      }
    });
  }

  // Rows [k0, k0 + rows) x columns [j0, j0 + 64) of W as int8 values, 64 a row; columns past n are 0.
  void decode_panel(int64_t k0, int64_t rows, int64_t j0, int8_t *q) const {
    const int64_t live = std::min<int64_t>(kPanelCols, n - j0);
    if (!transposed) {
      for (int64_t r = 0; r < rows; ++r) {
        int8_t *out = q + r * kPanelCols;
        const int64_t row = k0 + r;
        if (weight.int4) {
          const uint8_t *bytes = weight.nz
                                     ? weight.data + ((j0 / 64) * ((k + 15) / 16) + row / 16) * 512 + (row % 16) * 32
                                     : weight.data + row * (n / 2) + j0 / 2;
          widen_nibbles(bytes, (live + 1) / 2, out);
        } else if (!weight.nz) {
          std::memcpy(out, weight.data + row * n + j0, static_cast<size_t>(live));
        } else {
          for (int64_t half = 0; half < live; half += 32) {
            const int64_t col = j0 + half;
            std::memcpy(out + half, weight.data + ((col / 32) * ((k + 15) / 16) + row / 16) * 512 + (row % 16) * 32,
                        static_cast<size_t>(std::min<int64_t>(32, live - half)));
          }
        }
        std::fill(out + live, out + kPanelCols, int8_t{0});
      }
      return;
    }
    // Stored (n, k): column j of W is row j of the stored matrix.
    for (int64_t r = 0; r < rows; ++r) std::fill(q + r * kPanelCols, q + (r + 1) * kPanelCols, int8_t{0});
    for (int64_t c = 0; c < live; ++c) {
      for (int64_t r = 0; r < rows; ++r) q[r * kPanelCols + c] = weight.value(j0 + c, k0 + r);
    }
  }

  // An ND weight's rows lie n / 2 (INT4) or n (INT8) bytes apart, too far for the hardware prefetcher to
  // follow a tile group down them: on the panel path each row's lines for the whole group are asked for
  // kPrefetchRows rows ahead. (The fused kernels ask for their rows themselves, spread over their work.)
  void prefetch_nd_row(int64_t row, int64_t j_first, int64_t count) const {
    if (weight.nz || transposed || row >= k) return;
    const int64_t row_bytes = weight.int4 ? n / 2 : n;
    const uint8_t *bytes = weight.data + row * row_bytes;
    const int64_t end = std::min(row_bytes, (j_first + count * kPanelCols) * row_bytes / n);
    for (int64_t b = j_first * row_bytes / n; b < end; b += 64) __builtin_prefetch(bytes + b);
  }

  // The 32 INT8 values of row `row`, columns [j0, j0 + 32), of an INT8 FRACTAL_NZ weight (C0 = 32).
  const uint8_t *int8_nz_row(int64_t row, int64_t j0) const {
    return weight.data + ((j0 / 32) * ((k + 15) / 16) + row / 16) * 512 + (row % 16) * 32;
  }

  // The stored values of row `row`, columns [j0, j0 + 64), of a weight that is not transposed: 32 bytes of
  // INT4 (ND or NZ), or 64 INT8 values (ND).
  const uint8_t *stored_row(int64_t row, int64_t j0) const {
    if (!weight.int4) return weight.data + row * n + j0;
    return weight.data + (j0 / kPanelCols) * int4_tile_bytes() + row * int4_row_bytes();
  }

  // An INT4 weight's bytes from a stored row of a 64-column tile to the next row (an NZ tile's rows lie
  // back to back in its blocks), and from a tile to the next one.
  int64_t int4_row_bytes() const { return weight.nz ? kPanelCols / 2 : n / 2; }
  int64_t int4_tile_bytes() const { return weight.nz ? (k + 15) / 16 * 512 : kPanelCols / 2; }

  // 64 floats of scale row g (or offset row) for columns [j0, j0 + 64): broadcast when the operand has one
  // column, 0 past n. A contiguous half or bfloat16 row is widened by the cast kernels.
  void operand_row(const Matrix &op, int64_t g, int64_t j0, float *out) const {
    const int64_t live = std::min<int64_t>(kPanelCols, n - j0);
    const bool halves = op.type == ElementType::kFloat16 || op.type == ElementType::kBFloat16;
    if (halves && op.cols != 1 && op.col_stride == 1) {
      const auto *src = reinterpret_cast<const uint16_t *>(at(op, g, j0));
      if (op.type == ElementType::kFloat16) {
        isa->cast->half_to_float(src, out, live);
      } else {
        isa->cast->bfloat16_to_float(src, out, live);
      }
      std::fill(out + live, out + kPanelCols, 0.0f);
      return;
    }
    for (int64_t c = 0; c < kPanelCols; ++c) out[c] = c < live ? operand(op, g, op.cols == 1 ? 0 : j0 + c) : 0.0f;
  }

  // Rows [i0, i0 + rows) x [k0, k0 + cols) of x as float32, row stride kPanelRows.
  void widen_x(int64_t i0, int64_t rows, int64_t k0, int64_t cols, float *out) const {
    const kernels::CastKernels &cast = *isa->cast;
    const bool bf16 = x.type == ElementType::kBFloat16;
    for (int64_t i = 0; i < rows; ++i) {
      float *o = out + i * kPanelRows;
      if (x.col_stride == 1) {
        const auto *src = reinterpret_cast<const uint16_t *>(at(x, i0 + i, k0));
        if (bf16) {
          cast.bfloat16_to_float(src, o, cols);
        } else {
          cast.half_to_float(src, o, cols);
        }
        continue;
      }
      for (int64_t c = 0; c < cols; ++c) {
        const uint16_t h = engine::read_as<uint16_t>(at(x, i0 + i, k0 + c));
        o[c] = bf16 ? bfloat16_to_float(h) : half_to_float(h);
      }
    }
  }

  // y for rows [i0, i1) x columns [j0, j0 + 64) from their sums.
  void finish_tile(int64_t i0, int64_t i1, int64_t j0, const float *acc) const {
    const int64_t live = std::min<int64_t>(kPanelCols, n - j0);
    float post[kPanelCols], bias_row[kPanelCols], qs[kPanelCols], qo[kPanelCols];
    for (int64_t c = 0; c < live; ++c) {
      post[c] = packed_scale ? operand(scale, 0, scale.cols == 1 ? 0 : j0 + c) : 1.0f;
      bias_row[c] = present(bias) ? engine::load_value(at(bias, 0, bias.cols == 1 ? 0 : j0 + c), bias.type).re : 0.0f;
      if (present(quant_scale)) {
        const uint64_t word = engine::read_as<uint64_t>(at(quant_scale, 0, quant_scale.cols == 1 ? 0 : j0 + c));
        qs[c] = bits_float(static_cast<uint32_t>(word) & 0xFFFFE000u);
        qo[c] = present(quant_offset) ? engine::read_as<float>(at(quant_offset, 0, quant_offset.cols == 1 ? 0 : j0 + c))
                                      : 0.0f;
      }
    }
    const bool bf16_x = x.type == ElementType::kBFloat16;
    // The roundings by the ISA's cast kernels (bit for bit the scalar ones), a row of the tile at a time:
    // at prefill every output passes here.
    const kernels::CastKernels &cast = *isa->cast;
    float v[kPanelCols];
    uint16_t bits[kPanelCols];
    for (int64_t i = i0; i < i1; ++i) {
      const float *a = acc + (i - i0) * kPanelCols;
      for (int64_t c = 0; c < live; ++c) v[c] = packed_scale ? a[c] * post[c] : a[c];
      if (bf16_x) {
        cast.float_to_bfloat16(v, bits, live);
        cast.bfloat16_to_float(bits, v, live);
      }
      if (present(bias)) {
        for (int64_t c = 0; c < live; ++c) v[c] = v[c] + bias_row[c];
      }
      switch (y_type) {
        case ElementType::kInt8:
          for (int64_t c = 0; c < live; ++c) {
            const float t = std::nearbyint(v[c] * qs[c] + qo[c]);
            const float s = std::isnan(t) ? 0.0f : std::min(127.0f, std::max(-128.0f, t));
            static_cast<int8_t *>(y)[i * n + j0 + c] = static_cast<int8_t>(s);
          }
          break;
        case ElementType::kBFloat16:
          cast.float_to_bfloat16(v, static_cast<uint16_t *>(y) + i * n + j0, live);
          break;
        default:
          cast.float_to_half(v, static_cast<uint16_t *>(y) + i * n + j0, live);
          break;
      }
    }
  }

  // The scales and offsets of output column j for the 64 values of k from i (per value, since a piece may
  // straddle groups) into scale_chunk / offset_chunk, unless *loaded says they are there already.
  void transposed_chunk_params(int64_t j, int64_t i, float *scale_chunk, float *offset_chunk, int64_t *loaded) const {
    const auto group_of = [&](int64_t row) { return group_rows > 0 ? std::min(k - 1, row) / group_rows : 0; };
    const int64_t g_first = group_of(i), g_last = group_of(i + kPanelCols - 1);
    if (g_first == g_last && *loaded == g_first) return;
    for (int64_t g = g_first, t = 0; g <= g_last; ++g) {  // each group's run of the piece at once
      const int64_t end = g == g_last ? kPanelCols : (g + 1) * group_rows - i;
      if (!packed_scale) std::fill(scale_chunk + t, scale_chunk + end, operand(scale, g, scale.cols == 1 ? 0 : j));
      if (present(offset))
        std::fill(offset_chunk + t, offset_chunk + end, operand(offset, g, offset.cols == 1 ? 0 : j));
      t = end;
    }
    *loaded = g_first == g_last ? g_first : -2;
  }

  // Decode with a transposed INT4 weight (CANN's per-channel FRACTAL_NZ path): column j of W is row j of
  // the stored (n, k) matrix, so each y[i][j] is a dot product along k, taken as 64 lanes of partial sums
  // over the stored row's 64-value pieces and added up in lane order at the end (a fixed order: the same
  // result for every thread count). The tile's 64 stored rows walk k together: one piece of each at a
  // time, which for FRACTAL_NZ is 2 KiB of consecutive blocks. A whole piece within one group has one
  // scale and offset per column, so its values are looked up in the column's table of the 16 antiquantized
  // nibbles (multiply_add_int4, its lanes in nibble order, x's too); the others are antiquantized value by
  // value. Either way each lane sums its terms in order of k, and the lanes add up in one fixed order.
  void run_transposed_tiles(int64_t i0, int64_t i1, int64_t j_first, int64_t count) const {
    const int64_t rows = i1 - i0;
    const int64_t chunks = (k + kPanelCols - 1) / kPanelCols, padded = chunks * kPanelCols;
    thread_local std::vector<float> xs, x_nibble_order;
    xs.assign(static_cast<size_t>(rows * padded), 0.0f);
    x_nibble_order.resize(xs.size());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k0 = 0; k0 < k; k0 += kPanelRows) {
        widen_x(i0 + r, 1, k0, std::min(kPanelRows, k - k0), xs.data() + r * padded + k0);
      }
      for (int64_t i = 0; i < padded; i += kPanelCols) {
        const float *from = xs.data() + r * padded + i;
        float *to = x_nibble_order.data() + r * padded + i;
        for (int64_t p = 0; p < kPanelCols; ++p) to[p] = from[kernels::nibble_order_value(p)];
      }
    }
    for (int64_t s = 0; s < count; ++s) run_transposed_tile(i0, i1, j_first + s * kPanelCols, xs, x_nibble_order);
  }

  // One tile of run_transposed_tiles: x's rows widened (xs, row stride the padded k) and in nibble order.
  void run_transposed_tile(int64_t i0, int64_t i1, int64_t j0, const std::vector<float> &xs,
                           const std::vector<float> &x_nibble_order) const {
    const int64_t live = std::min<int64_t>(kPanelCols, n - j0), rows = i1 - i0;
    const int64_t chunks = (k + kPanelCols - 1) / kPanelCols, padded = chunks * kPanelCols;
    thread_local std::vector<float> lanes, params, sums, tables;
    thread_local std::vector<int64_t> loaded;
    const int64_t lane_block = kPanelCols * kPanelCols;  // one x row's lanes for the tile's 64 outputs
    lanes.assign(static_cast<size_t>(rows * lane_block), 0.0f);
    params.resize(static_cast<size_t>(live * 2 * kPanelCols));  // per output: a chunk's scales, then offsets
    tables.resize(static_cast<size_t>(live * 16));
    loaded.assign(static_cast<size_t>(live), -1);
    int64_t tables_group = -1;  // the group the tables hold (the same for the tile's columns)
    const kernels::MatmulKernels &mk = *isa->matmul;
    const bool has_offset = present(offset);
    const int64_t row_bytes = weight.nz ? kPanelCols / 2 : k / 2;
    alignas(64) float w[kPanelCols];
    alignas(64) uint8_t tail[kPanelCols / 2], nibbles[kPanelCols / 2];
    for (int64_t b = 0; b < kPanelCols / 2; ++b)
      nibbles[b] = static_cast<uint8_t>(((2 * b + 1) % 16) << 4 | (2 * b) % 16);
    for (int64_t q = 0; q < chunks; ++q) {
      const int64_t i = q * kPanelCols;
      const bool by_table =
          i + kPanelCols <= k && (group_rows == 0 || i / group_rows == (i + kPanelCols - 1) / group_rows);
      const int64_t g = group_rows > 0 ? i / group_rows : 0;
      for (int64_t c = 0; c < live && !(by_table && tables_group == g); ++c) {
        float *scale_chunk = params.data() + c * 2 * kPanelCols;
        float *offset_chunk = scale_chunk + kPanelCols;
        transposed_chunk_params(j0 + c, i, scale_chunk, offset_chunk, &loaded[static_cast<size_t>(c)]);
        const float *o = has_offset ? offset_chunk : nullptr;
        const float *sc = packed_scale ? nullptr : scale_chunk;
        if (by_table) {  // the 16 nibbles' values, through the same step as any row's
          mk.dequant_int4_row(nibbles, o, sc, rounding, w);
          std::copy(w, w + 16, tables.data() + c * 16);
          continue;
        }
        const uint8_t *bytes = transposed_int4_chunk(j0 + c, i);
        if (i + kPanelCols > k && !weight.nz) {  // an ND row's last piece: the next row follows it
          std::memset(tail, 0, sizeof tail);
          std::memcpy(tail, bytes, static_cast<size_t>((k - i) / 2));
          bytes = tail;
        }
        mk.dequant_int4_row(bytes, o, sc, rounding, w);
        for (int64_t t = k - i; t < kPanelCols; ++t) w[t] = 0.0f;  // past k: no weight
        for (int64_t r = 0; r < rows; ++r) {
          mk.multiply_add(xs.data() + r * padded + i, w, lanes.data() + r * lane_block + c * kPanelCols);
        }
      }
      if (by_table) tables_group = g;
      // The next piece's blocks lie far away (FRACTAL_NZ): asked for a few lines at a time between the
      // columns' lookups, since a burst of all of them fills the line fill buffers and the core waits there.
      const uint8_t *next = weight.nz && i + kPanelCols < k ? transposed_int4_chunk(j0, i + kPanelCols) : nullptr;
      const auto ask_next = [&](int64_t c0, int64_t c1) {
        for (int64_t b = c0 * (kPanelCols / 2); next != nullptr && b < c1 * (kPanelCols / 2); b += 64)
          __builtin_prefetch(next + b);
      };
      if (!by_table) ask_next(0, live);
      for (int64_t c0 = 0; by_table && c0 < live; c0 += kTransposedColumnsAsked) {
        const int64_t c1 = std::min(live, c0 + kTransposedColumnsAsked);
        ask_next(c0, c1);
        mk.multiply_add_int4(transposed_int4_chunk(j0 + c0, i), row_bytes, c1 - c0, tables.data() + 16 * c0,
                             x_nibble_order.data() + i, padded, rows, lanes.data() + c0 * kPanelCols);
      }
    }
    sums.assign(static_cast<size_t>(rows * kPanelCols), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < live; ++c) {
        float *l = lanes.data() + r * lane_block + c * kPanelCols;
        for (int64_t half = kPanelCols / 2; half > 0; half /= 2) {  // pairwise: a short chain, a fixed order
          for (int64_t t = 0; t < half; ++t) l[t] += l[t + half];
        }
        sums[static_cast<size_t>(r * kPanelCols + c)] = l[0];
      }
    }
    finish_tile(i0, i1, j0, sums.data());
  }

  // The 32 bytes of stored row j, columns [i, i + 64), of a transposed INT4 weight (stored (n, k)).
  const uint8_t *transposed_int4_chunk(int64_t j, int64_t i) const {
    return weight.nz ? weight.data + ((i / 64) * ((n + 15) / 16) + j / 16) * 512 + (j % 16) * 32
                     : weight.data + j * (k / 2) + i / 2;
  }

  // What a group of neighbouring tiles carries across k: each tile's accumulators, and its scale and
  // offset rows with the group they were loaded for.
  struct TileGroup {
    std::vector<float> acc, params;  // params: each tile's scale row, then offset row
    std::vector<int64_t> loaded;
    int64_t tile_acc = 0;
    static constexpr int64_t kParamStride = 2 * kPanelCols;  // floats from a tile's scale row to the next's
    float *scale_row(int64_t s) { return params.data() + s * kParamStride; }
    float *offset_row(int64_t s) { return scale_row(s) + kPanelCols; }
    float *tile(int64_t s) { return acc.data() + s * tile_acc; }
  };

  void load_group(TileGroup &tg, int64_t s, int64_t g, int64_t j0) const {
    if (g == tg.loaded[static_cast<size_t>(s)]) return;
    if (!packed_scale) operand_row(scale, g, j0, tg.scale_row(s));
    if (present(offset)) operand_row(offset, g, j0, tg.offset_row(s));
    tg.loaded[static_cast<size_t>(s)] = g;
  }

  // Tiles [0, count) of a group, all decoded straight from their stored values, over panel rows
  // [k0, k0 + rows) with x's rows widened in xs (row stride kPanelRows), cut where the scale group changes:
  // kSegmentRows rows of each tile in turn (the kernels prefetch the weight rows ahead), an INT4 weight's
  // in one accumulate_int4_tiles call a cut (or by lanes, for one row of x and an NZ weight, or ND where the
  // table takes it).
  void accumulate_direct(TileGroup &tg, int64_t k0, int64_t rows, int64_t x_rows, int64_t j_first, int64_t count,
                         const float *xs) const {
    // One tile has nothing to interleave; prefill's many rows of x take each tile's whole cut at once.
    const int64_t segment = count == 1 || !decode_sized(x_rows) ? rows : kSegmentRows;
    thread_local std::vector<uint8_t> tile_scratch;
    // One row of x and a FRACTAL_NZ weight: the sums by lanes, where the table has that order (each value
    // looked up); ND rows too where the table says so (by_lanes_on_nd).
    const bool lanes_fit = weight.nz || isa->matmul->by_lanes_on_nd;
    const auto by_lanes = x_rows == 1 && lanes_fit ? isa->matmul->accumulate_int4_tiles_by_lanes : nullptr;
    if (weight.int4) tile_scratch.resize(static_cast<size_t>(count * kernels::kTileScratchBytes));
    for (int64_t r0 = k0, r1 = k0; r0 < k0 + rows; r0 = r1) {
      const int64_t g = group_rows > 0 ? r0 / group_rows : 0;
      r1 = group_rows > 0 ? std::min(k0 + rows, (g + 1) * group_rows) : k0 + rows;
      for (int64_t s = 0; s < count; ++s) load_group(tg, s, g, j_first + s * kPanelCols);
      if (!weight.int4) {
        accumulate_int8_direct(tg, r0, r1, segment, xs + (r0 - k0), x_rows, j_first, count);
        continue;
      }
      const kernels::TileRun run{stored_row(r0, j_first),
                                 int4_row_bytes(),
                                 int4_tile_bytes(),
                                 r1 - r0,
                                 count,
                                 segment,
                                 present(offset) ? tg.offset_row(0) : nullptr,
                                 packed_scale ? nullptr : tg.scale_row(0),
                                 TileGroup::kParamStride,
                                 rounding,
                                 xs + (r0 - k0),
                                 kPanelRows,
                                 x_rows,
                                 tg.tile(0),
                                 tg.tile_acc,
                                 tile_scratch.data()};
      if (by_lanes != nullptr) {
        by_lanes(run);
      } else {
        isa->matmul->accumulate_int4_tiles(run);
      }
    }
  }

  // accumulate_direct's rows [r0, r1) of an INT8 weight, one scale group, x's rows from xs. An INT8 NZ
  // tile's rows lie in two blocks of 32 columns, read in place (accumulate_int8_blocks).
  void accumulate_int8_direct(TileGroup &tg, int64_t r0, int64_t r1, int64_t segment, const float *xs, int64_t x_rows,
                              int64_t j_first, int64_t count) const {
    const kernels::MatmulKernels &mk = *isa->matmul;
    for (int64_t a = r0; a < r1; a += segment) {
      const int64_t b = std::min(r1, a + segment);
      for (int64_t s = 0; s < count; ++s) {
        const int64_t j0 = j_first + s * kPanelCols;
        const float *o = present(offset) ? tg.offset_row(s) : nullptr;
        const float *sc = packed_scale ? nullptr : tg.scale_row(s);
        const float *x = xs + (a - r0);
        if (weight.nz) {
          const uint8_t *first = int8_nz_row(a, j0);
          mk.accumulate_int8_blocks(first, int8_nz_row(a, j0 + 32) - first, b - a, o, sc, rounding, x, kPanelRows,
                                    x_rows, tg.tile(s));
        } else {
          mk.accumulate_int8(stored_row(a, j0), n, b - a, o, sc, rounding, x, kPanelRows, x_rows, tg.tile(s));
        }
      }
    }
  }

  // `count` neighbouring tiles: rows [i0, i1), columns [j0, j0 + 64 * count), over k rows [k_begin, k_end).
  // They walk k together, a panel of rows at a time, so an ND weight's rows are read a few cache lines at a
  // time instead of half a line per tile; x's rows are widened a block at a time for each panel, or come
  // widened (x_wide). The sums go to y (finish_tile), or with `partial` (rows x n) there unfinished.
  void run_tiles(int64_t i0, int64_t i1, int64_t j_first, int64_t count, int64_t k_begin, int64_t k_end,
                 float *partial) const {
    thread_local std::vector<int8_t> q;
    thread_local std::vector<float> panel, xs;
    thread_local TileGroup tg;
    q.resize(kPanelRows * kPanelCols);
    // The panel on a 64-byte boundary: each of its rows' vectors then lies in one cache line (split loads
    // cost the prefill kernel 14%).
    panel.resize(kPanelRows * kPanelCols + kPanelCols);
    float *const panel_at = aligned_floats(panel.data());
    xs.resize(kRowBlock * kPanelRows);
    tg.tile_acc = (i1 - i0) * kPanelCols;
    tg.acc.assign(static_cast<size_t>(count * tg.tile_acc), 0.0f);
    tg.params.resize(static_cast<size_t>(count * TileGroup::kParamStride));
    tg.loaded.assign(static_cast<size_t>(count), -1);
    const bool has_offset = present(offset);
    const bool widened = x_wide != nullptr;
    // Tiles of 64 real columns are decoded straight from their stored values (an INT4 ND row's 32 bytes or
    // NZ block row, an INT8 ND row's 64 values); the rest (a partial last ND tile, INT8 NZ, transposed) via
    // an int8 panel. With x's rows widened already (x_wide) the direct ones, and INT8 NZ tiles of 64 real
    // columns, take accumulate_int4_tiles or accumulate_int8, which at prefill decode each panel once for all
    // the rows (measured 1.3-1.4x faster than this function's own panel steps at m = 256).
    const auto direct = [&](int64_t j0) {
      return !transposed && (weight.int4 ? weight.nz || j0 + kPanelCols <= n : !weight.nz && j0 + kPanelCols <= n);
    };
    const auto fusable = [&](int64_t j0) {
      return direct(j0) || (!transposed && !weight.int4 && j0 + kPanelCols <= n);
    };
    int64_t fused = 0;
    while (widened && fused < count && fusable(j_first + fused * kPanelCols)) ++fused;
    const kernels::MatmulKernels &mk = *isa->matmul;
    for (int64_t k0 = k_begin; k0 < k_end; k0 += kPanelRows) {
      const int64_t rows = std::min(kPanelRows, k_end - k0);
      const float *x_block = widened ? x_panel(i0, k0) : xs.data();
      if (fused > 0) accumulate_direct(tg, k0, rows, i1 - i0, j_first, fused, x_block);
      for (int64_t s = fused; s < count; ++s) {
        const int64_t j0 = j_first + s * kPanelCols;
        const bool from_bytes = direct(j0);
        if (!from_bytes) decode_panel(k0, rows, j0, q.data());
        for (int64_t r = 0; r < rows; ++r) {
          if (s == 0) prefetch_nd_row(k0 + r + kPrefetchRows, j_first, count);
          load_group(tg, s, group_rows > 0 ? (k0 + r) / group_rows : 0, j0);
          float *out = panel_at + r * kPanelCols;
          const float *o = has_offset ? tg.offset_row(s) : nullptr;
          const float *sc = packed_scale ? nullptr : tg.scale_row(s);
          if (from_bytes && weight.int4) {
            mk.dequant_int4_row(stored_row(k0 + r, j0), o, sc, rounding, out);
          } else if (from_bytes) {
            mk.dequant_row(reinterpret_cast<const int8_t *>(stored_row(k0 + r, j0)), o, sc, rounding, out);
          } else {
            mk.dequant_row(q.data() + r * kPanelCols, o, sc, rounding, out);
          }
        }
        for (int64_t ib = i0; ib < i1; ib += kRowBlock) {
          const int64_t block = std::min(kRowBlock, i1 - ib);
          if (!widened) widen_x(ib, block, k0, rows, xs.data());
          mk.accumulate(widened ? x_panel(ib, k0) : xs.data(), kPanelRows, block, panel_at, rows,
                        tg.tile(s) + (ib - i0) * kPanelCols);
        }
      }
    }
    for (int64_t s = 0; s < count; ++s) {
      const int64_t j0 = j_first + s * kPanelCols;
      if (partial == nullptr) {
        finish_tile(i0, i1, j0, tg.tile(s));
        continue;
      }
      const int64_t live = std::min<int64_t>(kPanelCols, n - j0);
      for (int64_t i = i0; i < i1; ++i) std::copy_n(tg.tile(s) + (i - i0) * kPanelCols, live, partial + i * n + j0);
    }
  }

  // The rows of k each part takes when a decode-sized matmul splits k: a function of the shape alone, so
  // that every thread count sums in the same order. k itself when it does not split.
  int64_t k_part_rows(int64_t chunk_rows, bool dot) const {
    if (dot || !decode_sized(chunk_rows)) return k;
    const int64_t by_rows = k / kKPartRows;
    const int64_t by_bytes = kPartialBytes / (m * n * static_cast<int64_t>(sizeof(float)));
    const int64_t parts = std::min({kMaxKParts, by_rows, by_bytes});
    if (parts <= 1) return k;
    return (k / parts + kPanelRows - 1) / kPanelRows * kPanelRows;
  }

  // y from the parts' partial sums (each m x n), added in the order of k, for tiles [t0, t1).
  void finish_parts(const float *partials, int64_t parts, int64_t t0, int64_t t1) const {
    thread_local std::vector<float> acc;
    acc.resize(static_cast<size_t>(m * kPanelCols));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t j0 = t * kPanelCols;
      const int64_t live = std::min<int64_t>(kPanelCols, n - j0);
      for (int64_t i = 0; i < m; ++i) {
        float *a = acc.data() + i * kPanelCols;
        std::copy_n(partials + i * n + j0, live, a);
        for (int64_t p = 1; p < parts; ++p) {
          const float *b = partials + p * m * n + i * n + j0;
          for (int64_t c = 0; c < live; ++c) a[c] += b[c];
        }
      }
      finish_tile(0, m, j0, acc.data());
    }
  }
};

bool is_float16_type(ElementType t) { return t == ElementType::kFloat16 || t == ElementType::kBFloat16; }

Result check_matrix(const Matrix &a, const char *name, int64_t rows, int64_t cols) {
  if (a.rows != rows || a.cols != cols) {
    return fail(ErrorKind::kShape, std::string(name) + " must be " + std::to_string(rows) + " x " +
                                       std::to_string(cols) + ", but it is " + std::to_string(a.rows) + " x " +
                                       std::to_string(a.cols));
  }
  return {};
}

// The operand's rows x cols against the ones a scale-like operand may have: (G, n) or (G, 1).
Result check_scale_shape(const Matrix &a, const char *name, int64_t groups, int64_t n) {
  if (a.rows != groups || (a.cols != n && a.cols != 1)) {
    return fail(ErrorKind::kShape, std::string(name) + " must be " + std::to_string(groups) + " x " +
                                       std::to_string(n) + " (or x 1), but it is " + std::to_string(a.rows) + " x " +
                                       std::to_string(a.cols));
  }
  return {};
}

Result make_plan(const MatmulArgs &a, Plan *p) {
  if (Result r; !engine::settings_error().empty()) {
    r.kind = ErrorKind::kSettings;
    r.message = engine::settings_error();
    return r;
  }
  if (!present(a.x) || a.y == nullptr || a.weight.data == nullptr || !present(a.scale)) {
    return fail(ErrorKind::kBuffer, "x, weight, scale and y are required");
  }
  if (!is_float16_type(a.x.type)) return fail(ErrorKind::kType, "x must be float16 or bfloat16");
  const int64_t m = a.x.rows, k = a.x.cols, n = a.weight.n;
  if (m < 1 || k < 1 || n < 1 || a.weight.k != k) {
    return fail(ErrorKind::kShape, "x is " + std::to_string(m) + " x " + std::to_string(k) + " and the weight " +
                                       std::to_string(a.weight.k) + " x " + std::to_string(n) +
                                       ": m, k, n must be positive and the k equal");
  }
  int64_t mn = 0, mk = 0, kn = 0;
  if (__builtin_mul_overflow(m, n, &mn) || __builtin_mul_overflow(m, k, &mk) || __builtin_mul_overflow(k, n, &kn)) {
    return fail(ErrorKind::kShape, "the matmul is too large");
  }
  const bool int4 = a.weight.type == ElementType::kInt4;
  if (!int4 && a.weight.type != ElementType::kInt8) return fail(ErrorKind::kType, "the weight must be int4 or int8");
  if (a.weight.layout != Layout::kNd && a.weight.layout != Layout::kNz)
    return fail(ErrorKind::kArgument, "unknown layout");
  p->transposed = a.weight.transposed;
  p->weight = Stored{static_cast<const uint8_t *>(a.weight.data), int4, a.weight.layout == Layout::kNz,
                     p->transposed ? n : k, p->transposed ? k : n};
  if (int4 && p->weight.cols % 2 != 0) {
    return fail(ErrorKind::kShape, "an int4 weight's stored rows must hold an even number of values, but they hold " +
                                       std::to_string(p->weight.cols));
  }
  if (a.weight.bytes < stored_bytes(p->weight)) {
    return fail(ErrorKind::kBuffer, "the weight holds " + std::to_string(a.weight.bytes) +
                                        " bytes, but its layout needs " + std::to_string(stored_bytes(p->weight)));
  }
  p->packed_scale = a.scale.type == ElementType::kUint64 || a.scale.type == ElementType::kInt64;
  if (!p->packed_scale && a.scale.type != a.x.type) return fail(ErrorKind::kType, "the scale must be of x's type");
  if (a.group_size < 0) return fail(ErrorKind::kArgument, "the group size must not be negative");
  const int64_t groups = a.group_size > 0 ? (k + a.group_size - 1) / a.group_size : 1;
  if (p->packed_scale && groups != 1) return fail(ErrorKind::kShape, "a packed scale has one row");
  if (Result r = check_scale_shape(a.scale, "the scale", groups, n); !r) return r;
  if (present(a.offset)) {
    if (Result r = check_scale_shape(a.offset, "the offset", a.scale.rows, n); !r) return r;
    const ElementType want = p->packed_scale ? ElementType::kInt32 : a.x.type;
    if (a.offset.type != want) return fail(ErrorKind::kType, "the offset's type does not go with the scale's");
  }
  if (present(a.bias)) {
    if (a.bias.rows != 1 || (a.bias.cols != n && a.bias.cols != 1))
      return fail(ErrorKind::kShape, "the bias must be 1 x n");
    if (!is_float16_type(a.bias.type) && a.bias.type != ElementType::kFloat32) {
      return fail(ErrorKind::kType, "the bias must be float16, bfloat16 or float32");
    }
  }
  const bool int8_out = present(a.quant_scale);
  if (int8_out) {
    if (a.quant_scale.type != ElementType::kUint64 && a.quant_scale.type != ElementType::kInt64) {
      return fail(ErrorKind::kType, "the output quantization scale holds 64-bit words");
    }
    if (a.quant_scale.rows != 1 || (a.quant_scale.cols != n && a.quant_scale.cols != 1)) {
      return fail(ErrorKind::kShape, "the output quantization scale must be 1 x n or 1 x 1");
    }
    if (present(a.quant_offset)) {
      if (Result r = check_matrix(a.quant_offset, "the output quantization offset", 1, a.quant_scale.cols); !r)
        return r;
      if (a.quant_offset.type != ElementType::kFloat32) {
        return fail(ErrorKind::kType, "the output quantization offset must be float32");
      }
    }
  } else if (present(a.quant_offset)) {
    return fail(ErrorKind::kArgument, "an output quantization offset needs its scale");
  }
  if (int8_out ? a.y_type != ElementType::kInt8 : a.y_type != a.x.type) {
    return fail(ErrorKind::kType, int8_out ? "quantized output is int8" : "y must be of x's type");
  }
  p->m = m;
  p->k = k;
  p->n = n;
  p->x = a.x;
  p->scale = a.scale;
  p->offset = a.offset;
  p->group_rows = a.group_size > 0 ? a.group_size : 0;
  p->bias = a.bias;
  p->quant_scale = a.quant_scale;
  p->quant_offset = a.quant_offset;
  p->y = a.y;
  p->y_type = a.y_type;
  p->rounding = a.x.type == ElementType::kBFloat16 ? Rounding::kBFloat16 : Rounding::kHalf;
  p->isa = engine::active_isa();
  return {};
}

}  // namespace

Result matmul_workspace(const MatmulArgs &args, size_t *bytes) {
  Plan plan;
  if (Result r = make_plan(args, &plan); !r) return r;
  if (bytes != nullptr) *bytes = 0;
  return {};
}

namespace engine {

Result weight_quant_matmul_with(const MatmulArgs &args, const Run &run) {
  try {
    Plan plan;
    if (Result r = make_plan(args, &plan); !r) return r;
    plan.isa = run.isa;
    const int threads = run.threads;
    const int64_t col_tiles = (plan.n + kPanelCols - 1) / kPanelCols;
    // Row chunks only when the column tiles leave threads idle, and never thinner than kMinChunkRows.
    int64_t row_chunks = 1;
    if (col_tiles < threads) {
      row_chunks = std::min((threads + col_tiles - 1) / col_tiles, (plan.m + kMinChunkRows - 1) / kMinChunkRows);
      row_chunks = std::max<int64_t>(1, row_chunks);
    }
    const int64_t chunk_rows = (plan.m + row_chunks - 1) / row_chunks;
    const int64_t tiles = col_tiles * row_chunks;
    // Small problems stay on the calling thread (as packing does): threads cost more than they give.
    const int64_t work = plan.m * plan.k * plan.n;
    const bool small = work < (int64_t{1} << 20);
    // Each thread takes a contiguous run of tiles: neighbouring ND tiles share the cache lines of every
    // weight row, which the second then finds in the cache.
    // Decode-sized row chunks walk several tiles together (run_tiles), as many as their accumulators fit
    // kGroupAccBytes; prefill-sized ones kPrefillTilesTogether, for x's rows.
    const int64_t acc_tiles = kGroupAccBytes / (chunk_rows * kPanelCols * static_cast<int64_t>(sizeof(float)));
    const bool dot = plan.transposed && plan.weight.int4 && decode_sized(chunk_rows);
    // x's rows widened once (kept by the calling thread from call to call): for one block of them, and for
    // more while they fit kWideXBytes, rather than once for every tile and panel.
    thread_local std::vector<float> x_wide;
    const bool wide_fits = plan.m * plan.k * static_cast<int64_t>(sizeof(float)) <= kWideXBytes;
    if ((decode_sized(chunk_rows) || wide_fits) && !dot) {
      plan.widen_all_x(&x_wide, small ? 1 : threads);
      plan.x_wide = x_wide.data();
    }
    // A transposed weight's tiles share x's widened rows: a thread's whole run at once.
    const int64_t together = dot                         ? tiles
                             : !decode_sized(chunk_rows) ? kPrefillTilesTogether
                             : plan.weight.nz            ? kNzTilesTogether
                                                         : std::max(kMinTilesTogether, acc_tiles);
    // Each thread's run of (part, tile) units: an ND weight's in (part, tile) order, so that with k split a
    // thread reads whole weight rows of its parts instead of a thin slice of every row, which many threads
    // would cut short; an NZ weight's at decode in (tile, part) order, since a tile's parts lie one after
    // another and a run of them is one stream of consecutive bytes (which the kernels prefetch across the
    // parts' edges).
    const int64_t part_rows = plan.k_part_rows(chunk_rows, dot);
    const int64_t parts = (plan.k + part_rows - 1) / part_rows;
    std::vector<float> partials(parts > 1 ? static_cast<size_t>(parts * plan.m * plan.n) : 0);
    std::vector<std::atomic<int64_t>> parts_done(parts > 1 ? static_cast<size_t>(col_tiles) : 0);
    const int64_t units = parts * tiles;
    const bool tile_major = plan.weight.nz && !dot && decode_sized(chunk_rows);
    const int run_threads = small ? 1 : static_cast<int>(std::min<int64_t>(threads, units));
    engine::run_parts(run_threads, run_threads, [&](int part) {
      const int64_t last = units * (part + 1) / run_threads;
      for (int64_t u = units * part / run_threads; u < last;) {
        const int64_t kp = tile_major ? u % parts : u / tiles, t = tile_major ? u / parts : u % tiles;
        const int64_t chunk = t / col_tiles, first_col = t % col_tiles;
        const int64_t count = tile_major ? 1 : std::min({together, last - u, col_tiles - first_col});
        const int64_t i0 = chunk * chunk_rows;
        const int64_t i1 = std::min(plan.m, i0 + chunk_rows);
        if (i0 < i1 && dot) {
          plan.run_transposed_tiles(i0, i1, first_col * kPanelCols, count);
        } else if (i0 < i1) {
          float *partial = parts > 1 ? partials.data() + kp * plan.m * plan.n : nullptr;
          plan.run_tiles(i0, i1, first_col * kPanelCols, count, kp * part_rows, std::min(plan.k, (kp + 1) * part_rows),
                         partial);
          // Whoever adds a tile's last part finishes it (in the order of k, whichever thread that is).
          for (int64_t c = first_col; partial != nullptr && c < first_col + count; ++c) {
            if (parts_done[static_cast<size_t>(c)].fetch_add(1, std::memory_order_acq_rel) == parts - 1)
              plan.finish_parts(partials.data(), parts, c, c + 1);
          }
        }
        u += count;
      }
    });
  } catch (const std::bad_alloc &) {
    return fail(ErrorKind::kMemory, "out of memory");
  }
  return {};
}

}  // namespace engine

Result weight_quant_matmul(const MatmulArgs &args, void * /*workspace*/, size_t /*workspace_bytes*/) {
  if (Result status = engine_status(); !status) return status;
  return engine::weight_quant_matmul_with(args, {engine::active_isa(), engine::thread_count()});
}

}  // namespace int4pack
