// The matmul steps both x86 kernel sets share, written once over a vector type: V holds kLanes floats
// (__m256 for AVX2, __m512 for AVX-512), and the ISA file supplies its operations (the Ops struct).
// Included by the x86 matmul kernel files alone.
#ifndef INT4PACK_KERNELS_MATMUL_X86_H_
#define INT4PACK_KERNELS_MATMUL_X86_H_

#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/matmul_kernels.h"

namespace int4pack::kernels {
namespace {

// Each nibble's signed value, by nibble (two's complement).
constexpr float kInt4Values[16] = {0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1};

// Ops: using V; kLanes; load(const float *), store(float *, V), set1(float), zero(), fma(a, b, c),
//      add, mul, from_int8(const int8_t *) (kLanes values widened to float), round_half(V), round_bf16(V),
//      to_bits / from_bits (V as integer lanes and back), int4_to_float and int4_lookup (64 packed values).
template <typename Ops>
inline typename Ops::V round_to(typename Ops::V v, Rounding r) {
  if (r == Rounding::kHalf) return Ops::round_half(v);
  if (r == Rounding::kBFloat16) return Ops::round_bf16(v);
  return v;
}

// f(has_offset, has_scale, rounding) with each as a std::integral_constant: the one variant of a kernel's
// step for this offset, scale and rounding, chosen at run time once.
template <typename F>
inline void with_modes(const float *offset, const float *scale, Rounding r, F &&f) {
  const auto with_rounding = [&](auto has_offset, auto has_scale) {
    switch (r) {
      case Rounding::kHalf:
        return f(has_offset, has_scale, std::integral_constant<Rounding, Rounding::kHalf>{});
      case Rounding::kBFloat16:
        return f(has_offset, has_scale, std::integral_constant<Rounding, Rounding::kBFloat16>{});
      case Rounding::kNone:
        return f(has_offset, has_scale, std::integral_constant<Rounding, Rounding::kNone>{});
    }
  };
  if (offset != nullptr) {
    if (scale != nullptr) return with_rounding(std::true_type{}, std::true_type{});
    return with_rounding(std::true_type{}, std::false_type{});
  }
  if (scale != nullptr) return with_rounding(std::false_type{}, std::true_type{});
  with_rounding(std::false_type{}, std::false_type{});
}

// One variant per (offset, scale, rounding), chosen once per row: no branch is left in the loop, which the
// compiler then unrolls into independent chains (the conversions' latency, not their count, bounds it).
template <typename Ops, bool kOffset, bool kScale, Rounding kRounding>
inline void dequant_row_fixed(const int8_t *q, const float *offset, const float *scale, float *out) {
  using V = typename Ops::V;
  for (int64_t c = 0; c < kPanelCols; c += Ops::kLanes) {
    V w = Ops::from_int8(q + c);
    if constexpr (kOffset) w = Ops::add(w, Ops::load(offset + c));
    if constexpr (kScale) {
      if constexpr (kOffset) w = round_to<Ops>(w, kRounding);
      w = round_to<Ops>(Ops::mul(w, Ops::load(scale + c)), kRounding);
    }
    Ops::store(out + c, w);
  }
}

template <typename Ops>
inline void dequant_row_x86(const int8_t *q, const float *offset, const float *scale, Rounding r, float *out) {
  with_modes(offset, scale, r, [&](auto has_offset, auto has_scale, auto rounding) {
    dequant_row_fixed<Ops, decltype(has_offset)::value, decltype(has_scale)::value, decltype(rounding)::value>(
        q, offset, scale, out);
  });
}

// 32 bytes of packed int4 to 64 signed int8 values in column order (SSE2: every x86 table has it).
inline void unpack_int4_x86(const uint8_t *bytes, int8_t *q) {
  const __m128i low_bits = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  for (int h = 0; h < 2; ++h) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(bytes + 16 * h));
    const __m128i lo = _mm_and_si128(b, low_bits);                     // columns 2i
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low_bits);  // columns 2i + 1
    // Nibbles 0..15 to [-8, 7]: (v ^ 8) - 8.
    const __m128i first = _mm_sub_epi8(_mm_xor_si128(_mm_unpacklo_epi8(lo, hi), eight), eight);
    const __m128i second = _mm_sub_epi8(_mm_xor_si128(_mm_unpackhi_epi8(lo, hi), eight), eight);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(q + 32 * h), first);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(q + 32 * h + 16), second);
  }
}

template <typename Ops>
inline void dequant_int4_row_x86(const uint8_t *bytes, const float *offset, const float *scale, Rounding r,
                                 float *out) {
  alignas(64) int8_t q[kPanelCols];
  unpack_int4_x86(bytes, q);
  dequant_row_x86<Ops>(q, offset, scale, r, out);
}

template <typename Ops>
inline void multiply_add_x86(const float *x, const float *w, float *acc) {
  for (int64_t c = 0; c < kPanelCols; c += Ops::kLanes) {
    Ops::store(acc + c, Ops::fma(Ops::load(x + c), Ops::load(w + c), Ops::load(acc + c)));
  }
}

// bf16_round_bits without its NaN case, for the result of adding or multiplying bfloat16 values: such a NaN
// is quiet and its low 16 bits are zero (x86 passes an operand's payload on, quietened, or makes the default
// NaN), which the rounding below leaves as it is; the rest rounds to nearest even, overflowing to infinity.
template <typename I, typename Ops>
inline I bf16_round_bits_after_arithmetic(I bits) {
  const I lsb = Ops::iand(Ops::isrl16(bits), Ops::iset1(1));
  return Ops::iand(Ops::iadd(Ops::iadd(bits, Ops::iset1(0x7FFF)), lsb), Ops::iset1(static_cast<int>(0xFFFF0000u)));
}

// A decoder's columns in their natural order: how accumulate_decoded_rows loads and stores one row of
// accumulators. A decoder that yields its columns in another order brings its own pair.
template <typename Ops>
struct NaturalColumns {
  static void load_acc(const float *acc, typename Ops::V *a) {
    for (int64_t v = 0; v < kPanelCols / Ops::kLanes; ++v) a[v] = Ops::load(acc + v * Ops::kLanes);
  }
  static void store_acc(const typename Ops::V *a, float *acc) {
    for (int64_t v = 0; v < kPanelCols / Ops::kLanes; ++v) Ops::store(acc + v * Ops::kLanes, a[v]);
  }
};

// Accumulators kept in a decoder's own lane order in memory across calls (accumulate_int4_tiles), where a
// decoder's load_acc and store_acc put them once: loaded and stored as they are.
template <typename Ops>
struct KeptColumns : NaturalColumns<Ops> {};

// A decoder's scale and offset registers (kN vectors each) to and from a tile's scratch in
// accumulate_tiles_kept: the scale's, then the offset's when it has one.
template <bool kOffset, typename V, size_t kN>
inline void keep_params(const V (&scale)[kN], const V (&offset)[kN], void *kept) {
  static_assert((kOffset ? 2 : 1) * sizeof(scale) <= kTileScratchBytes, "the registers fit a tile's scratch");
  std::memcpy(kept, scale, sizeof(scale));
  if constexpr (kOffset) std::memcpy(static_cast<unsigned char *>(kept) + sizeof(scale), offset, sizeof(offset));
}

template <bool kOffset, typename V, size_t kN>
inline void restore_params(const void *kept, V (&scale)[kN], V (&offset)[kN]) {
  std::memcpy(scale, kept, sizeof(scale));
  if constexpr (kOffset) std::memcpy(offset, static_cast<const unsigned char *>(kept) + sizeof(scale), sizeof(offset));
}

// The accumulators of every tile of a run, read as From reads them and written as To writes them, in place.
template <typename Ops, typename From, typename To>
inline void reorder_accumulators(const TileRun &run) {
  for (int64_t s = 0; s < run.tiles; ++s) {
    for (int64_t i = 0; i < run.rows; ++i) {
      float *acc = run.acc + s * run.acc_stride + i * kPanelCols;
      typename Ops::V a[kPanelCols / Ops::kLanes];
      From::load_acc(acc, a);
      To::store_acc(a, acc);
    }
  }
}

// The stored values of a weight row as floats, and the unfused row step over them: 64 int4 values in 32
// bytes, or 64 int8 values.
template <typename Ops>
struct Int4Values {
  static void to_float(const uint8_t *bytes, typename Ops::V *w) { Ops::int4_to_float(bytes, w); }
  static void dequant(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
    dequant_int4_row_x86<Ops>(bytes, offset, scale, r, out);
  }
};

template <typename Ops>
struct Int8Values {
  static void to_float(const uint8_t *bytes, typename Ops::V *w) { to_float_halves(bytes, bytes + kPanelCols / 2, w); }
  // The row's first 32 values from `first`, its last 32 from `second` (an INT8 FRACTAL_NZ tile's two blocks).
  static void to_float_halves(const uint8_t *first, const uint8_t *second, typename Ops::V *w) {
    constexpr int64_t kHalf = kPanelCols / 2 / Ops::kLanes;
    for (int64_t v = 0; v < kHalf; ++v) {
      w[v] = Ops::from_int8(reinterpret_cast<const int8_t *>(first) + v * Ops::kLanes);
      w[kHalf + v] = Ops::from_int8(reinterpret_cast<const int8_t *>(second) + v * Ops::kLanes);
    }
  }
  static void dequant(const uint8_t *bytes, const float *offset, const float *scale, Rounding r, float *out) {
    dequant_row_x86<Ops>(reinterpret_cast<const int8_t *>(bytes), offset, scale, r, out);
  }
};

// The rows of a tile that share one scale and offset row, antiquantized in registers: the row's 64 values
// come from Values::to_float and take the golden steps of dequant_row_fixed.
template <typename Ops, typename Values, bool kOffset, Rounding kRounding>
struct RowDecoder : NaturalColumns<Ops> {
  using V = typename Ops::V;
  static constexpr int kVectors = static_cast<int>(kPanelCols / Ops::kLanes);
  V offset[kVectors], scale[kVectors];
  RowDecoder(const float *o, const float *s) {
    for (int v = 0; v < kVectors; ++v) {
      if constexpr (kOffset) offset[v] = Ops::load(o + v * Ops::kLanes);
      scale[v] = Ops::load(s + v * Ops::kLanes);
    }
  }
  static V round(V v) {
    if constexpr (kRounding == Rounding::kBFloat16) {  // offset and scale hold bfloat16 values
      return Ops::from_bits(bf16_round_bits_after_arithmetic<typename Ops::I, Ops>(Ops::to_bits(v)));
    } else {
      return round_to<Ops>(v, kRounding);
    }
  }
  void decode(const uint8_t *bytes, V *w) const {
    Values::to_float(bytes, w);
    antiquant(w);
  }
  void decode_halves(const uint8_t *first, const uint8_t *second, V *w) const {
    Values::to_float_halves(first, second, w);
    antiquant(w);
  }
  void antiquant(V *w) const {
    for (int v = 0; v < kVectors; ++v) {
      if constexpr (kOffset) w[v] = round(Ops::add(w[v], offset[v]));
      w[v] = round(Ops::mul(w[v], scale[v]));
    }
  }
};

// The weight rows a fused call decodes come from memory, and the hardware prefetcher alone brings them in
// too late while the decode keeps the vector ports busy, so the rows ask for later ones' lines: rows stored
// back to back (an INT4 FRACTAL_NZ tile, 32 bytes a row; 64 INT8 values) are one stream, asked for
// kStreamPrefetchBytes ahead, a line at a time; rows far apart (ND, n / 2 or n bytes) each
// kRowPrefetchRows rows ahead. Either runs past the call's own rows, into those the next call takes.
inline constexpr int64_t kStreamPrefetchBytes = 4096;
inline constexpr int64_t kRowPrefetchRows = 24;

// Asks for the line at base + offset bytes. The address is formed as an integer: it may lie past the
// buffer, where a pointer would not be valid C++ (a prefetch never faults).
[[gnu::always_inline]] inline void prefetch_at(const void *base, int64_t offset) {
  __builtin_prefetch(
      reinterpret_cast<const void *>(reinterpret_cast<uintptr_t>(base) + static_cast<uintptr_t>(offset)));
}

struct WeightPrefetch {
  int64_t ahead;      // bytes from a row to the line it asks for
  int64_t line_mask;  // a row asks when (t & line_mask) == 0: once a line
  explicit WeightPrefetch(int64_t row_bytes)
      : ahead(row_bytes <= 64 ? kStreamPrefetchBytes : kRowPrefetchRows * row_bytes),
        line_mask(row_bytes < 64 ? 64 / row_bytes - 1 : 0) {}
  [[gnu::always_inline]] void row(const uint8_t *bytes, int64_t row_bytes, int64_t t) const {
    if ((t & line_mask) == 0) prefetch_at(bytes, t * row_bytes + ahead);
  }
};

// For the by-lanes kernels: a tile whose rows lie back to back (FRACTAL_NZ: 32 bytes a row) is read in a
// burst by the transposition and then not at all while its sums run, so the sums ask for its rows two runs
// on (the engine walks a tile's runs one after another), one line a row pair, spread over their eight steps
// (one a dword of the rows). ND rows are not asked for: there it measured slower (their lines are shared by
// neighbouring tiles and far apart).
struct NextRows {
  const uint8_t *bytes = nullptr;  // the run's
  int64_t ahead = 0;               // bytes from there to the first line tile s asks for
  int64_t lines_per_step = 0;
  NextRows(const TileRun &run, int64_t s) {
    if (run.row_bytes != kPanelCols / 2) return;
    bytes = run.bytes;
    ahead = s * run.tile_bytes + 2 * run.kp * 32;
    lines_per_step = (run.kp * 32 / 64 + 7) / 8;
  }
  // Lines first, first + stride, ... of a step's share: a kernel spreads a step's asks over its work, since
  // a burst of them fills the core's line fill buffers and the core then waits at the prefetch. Always
  // inlined: GCC takes a function that only prefetches for one without effects, and drops its calls.
  [[gnu::always_inline]] void ask(int step, int64_t first, int64_t stride) const {
    for (int64_t l = first; l < lines_per_step; l += stride)
      prefetch_at(bytes, ahead + 64 * (step * lines_per_step + l));
  }
};

// The walk of the by-lanes kernels (accumulate_int4_tiles_by_lanes), over an ISA's Lanes: each tile's
// blocks of Lanes::kBlockRows rows transposed (the last rows padded with zero bytes, which Lanes masks off in
// the sums), then its tables and its sums for every row of x. Lanes: Blocks and Table (the types of a tile's
// transposed blocks and tables), transpose(rows, row_bytes, block), make_tables(offset, scale, rounding,
// table) and accumulate(blocks, kp, table, x, acc, next).
template <typename Lanes>
inline void accumulate_tiles_by_lanes(const Lanes &lanes, const TileRun &run) {
  constexpr int64_t kRows = Lanes::kBlockRows;
  const int64_t full = run.kp / kRows, count = (run.kp + kRows - 1) / kRows;
  alignas(64) typename Lanes::Blocks blocks;
  alignas(64) typename Lanes::Table table;
  for (int64_t s = 0; s < run.tiles; ++s) {
    const uint8_t *tile = run.bytes + s * run.tile_bytes;
    for (int64_t b = 0; b < full; ++b) lanes.transpose(tile + kRows * b * run.row_bytes, run.row_bytes, blocks[b]);
    if (count > full) {
      alignas(64) uint8_t rest[kRows * 32] = {};
      for (int64_t t = kRows * full; t < run.kp; ++t)
        std::memcpy(rest + (t - kRows * full) * 32, tile + t * run.row_bytes, 32);
      lanes.transpose(rest, 32, blocks[full]);
    }
    lanes.make_tables(run.offset != nullptr ? run.offset + s * run.param_stride : nullptr,
                      run.scale != nullptr ? run.scale + s * run.param_stride : nullptr, run.rounding, table);
    const NextRows next(run, s);
    for (int64_t i = 0; i < run.rows; ++i) {
      lanes.accumulate(blocks, run.kp, table, run.x + i * run.x_stride, run.acc + s * run.acc_stride + i * kPanelCols,
                       next);
    }
  }
}

// A decoded panel's rows of x come in groups of kRows from a widened x larger than L2 at prefill: four
// rows' broadcasts are four streams of a line every 16 steps, which the hardware prefetcher brings from L3
// too late. So each group asks for the next group's lines as it goes, a line of each of its rows every 16
// steps (past the last row they lie beyond x).
template <int kRows>
[[gnu::always_inline]] inline void prefetch_next_rows(const float *x, int64_t x_stride, int64_t t) {
  for (int i = 0; i < kRows; ++i) {
    prefetch_at(x, ((kRows + i) * x_stride + t) * static_cast<int64_t>(sizeof(float)));
  }
}

// kRows rows of x times kp decoded weight rows (prefetched ahead), the accumulators held in registers
// throughout.
template <typename Ops, int kRows, typename Decoder>
inline void accumulate_decoded_rows(const Decoder &d, const uint8_t *bytes, int64_t row_bytes, int64_t kp,
                                    const float *x, int64_t x_stride, float *acc) {
  using V = typename Ops::V;
  constexpr int kVectors = static_cast<int>(kPanelCols / Ops::kLanes);
  V a[kRows][kVectors];
  for (int i = 0; i < kRows; ++i) Decoder::load_acc(acc + i * kPanelCols, a[i]);
  const WeightPrefetch prefetch(row_bytes);
  for (int64_t t = 0; t < kp; ++t) {
    V w[kVectors];
    prefetch.row(bytes, row_bytes, t);
    d.decode(bytes + t * row_bytes, w);
    for (int i = 0; i < kRows; ++i) {
      const V xv = Ops::set1(x[i * x_stride + t]);
      for (int v = 0; v < kVectors; ++v) a[i][v] = Ops::fma(xv, w[v], a[i][v]);
    }
  }
  for (int i = 0; i < kRows; ++i) Decoder::store_acc(a[i], acc + i * kPanelCols);
}

// kRows rows of x times a strip of kStrip vectors of a decoded panel's columns (w and acc at the strip's
// first column, w's rows w_stride floats apart), the kRows x kStrip accumulators held in registers
// throughout. The loops over them are unrolled by pragma so that GCC replaces the array by registers: left
// to itself it kept the array on the stack as well, written at entry and copied to acc at exit, which a
// call of 16 steps (decode's segments) pays for in stores.
template <typename Ops, int kRows, int kStrip>
inline void accumulate_strip(const float *x, int64_t x_stride, const float *w, int64_t w_stride, int64_t kp,
                             float *acc) {
  using V = typename Ops::V;
  V a[kRows][kStrip];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
#pragma GCC unroll 16
    for (int v = 0; v < kStrip; ++v) a[i][v] = Ops::load(acc + i * kPanelCols + v * Ops::kLanes);
  }
  constexpr int64_t kLine = 16;  // steps a line of each row of x lasts: the next rows' lines asked for once
  for (int64_t t = 0; t < kp; ++t) {
    if (t % kLine == 0) prefetch_next_rows<kRows>(x, x_stride, t);
    V wv[kStrip];
#pragma GCC unroll 16
    for (int v = 0; v < kStrip; ++v) wv[v] = Ops::load(w + t * w_stride + v * Ops::kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const V xv = Ops::set1(x[i * x_stride + t]);
#pragma GCC unroll 16
      for (int v = 0; v < kStrip; ++v) a[i][v] = Ops::fma(xv, wv[v], a[i][v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
#pragma GCC unroll 16
    for (int v = 0; v < kStrip; ++v) Ops::store(acc + i * kPanelCols + v * Ops::kLanes, a[i][v]);
  }
}

// accumulate_strip for `rows` (< kRows) rows at once.
template <typename Ops, int kRows, int kStrip>
inline void accumulate_strip_upto(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t w_stride,
                                  int64_t kp, float *acc) {
  if constexpr (kRows > 1) {
    if (rows == kRows - 1) return accumulate_strip<Ops, kRows - 1, kStrip>(x, x_stride, w, w_stride, kp, acc);
    accumulate_strip_upto<Ops, kRows - 1, kStrip>(x, x_stride, rows, w, w_stride, kp, acc);
  }
}

// The row stride of a panel decoded for accumulate_x86: a strip's line of each row then falls in a set of
// the cache of its own (a stride of 64 floats would put a strip's lines in a quarter of the sets).
inline constexpr int64_t kPaddedPanelCols = kPanelCols + 16;

// Rows of x a strip pass of accumulate_x86 takes: 48 rows of a panel's 128 floats (24 KiB) stay near while
// every strip of the panel goes over them.
inline constexpr int64_t kStripPassRows = 48;

// The panel's columns in strips of Ops::kStripVectors vectors, Ops::kAccRows rows of x at a time: a strip's
// accumulators and weight vectors fit the registers, and each weight vector loaded serves kAccRows rows.
// The rows go in passes of kStripPassRows, each over every strip, so that x's rows are read from near.
template <typename Ops>
inline void accumulate_x86(const float *x, int64_t x_stride, int64_t rows, const float *w, int64_t kp, float *acc,
                           int64_t w_stride = kPanelCols) {
  constexpr int kRows = Ops::kAccRows, kStrip = Ops::kStripVectors;
  constexpr int64_t kStripCols = kStrip * Ops::kLanes;
  constexpr int64_t kPass = kStripPassRows / kRows * kRows;
  static_assert(kPanelCols % kStripCols == 0, "strips cut the panel evenly");
  for (int64_t i0 = 0; i0 < rows; i0 += kPass) {
    const int64_t i1 = rows - i0 < kPass ? rows : i0 + kPass;
    for (int64_t c = 0; c < kPanelCols; c += kStripCols) {
      int64_t i = i0;
      for (; i + kRows <= i1; i += kRows)
        accumulate_strip<Ops, kRows, kStrip>(x + i * x_stride, x_stride, w + c, w_stride, kp, acc + i * kPanelCols + c);
      accumulate_strip_upto<Ops, kRows, kStrip>(x + i * x_stride, x_stride, i1 - i, w + c, w_stride, kp,
                                                acc + i * kPanelCols + c);
    }
  }
}

template <typename Ops, int kRows, typename Decoder>
inline void accumulate_decoded_upto(const Decoder &d, const uint8_t *bytes, int64_t row_bytes, int64_t kp,
                                    const float *x, int64_t x_stride, int64_t rows, float *acc) {
  if (rows == kRows) return accumulate_decoded_rows<Ops, kRows>(d, bytes, row_bytes, kp, x, x_stride, acc);
  if constexpr (kRows > 1) accumulate_decoded_upto<Ops, kRows - 1>(d, bytes, row_bytes, kp, x, x_stride, rows, acc);
}

// accumulate_int4_tiles, up to kFusedRows rows of x, over a decoder whose scale and offset state it keeps in
// scratch: each tile's Decoder is built once and keeps its state (keep), and the tile's accumulators enter
// Decoder's lane order once (its load_acc), for the whole walk; Kept is the same decoder, rebuilt from the
// kept state, over KeptColumns.
template <typename Ops, int kFusedRows, typename Decoder, typename Kept>
inline void accumulate_tiles_kept(const TileRun &run) {
  auto *scratch = static_cast<unsigned char *>(run.scratch);
  for (int64_t s = 0; s < run.tiles; ++s) {
    Decoder(run.offset != nullptr ? run.offset + s * run.param_stride : nullptr, run.scale + s * run.param_stride)
        .keep(scratch + s * kTileScratchBytes);
  }
  reorder_accumulators<Ops, Decoder, KeptColumns<Ops>>(run);
  for (int64_t a = 0; a < run.kp; a += run.segment) {
    const int64_t rows = run.kp - a < run.segment ? run.kp - a : run.segment;
    for (int64_t s = 0; s < run.tiles; ++s) {
      accumulate_decoded_upto<Ops, kFusedRows>(Kept(scratch + s * kTileScratchBytes),
                                               run.bytes + a * run.row_bytes + s * run.tile_bytes, run.row_bytes, rows,
                                               run.x + a, run.x_stride, run.rows, run.acc + s * run.acc_stride);
    }
  }
  reorder_accumulators<Ops, KeptColumns<Ops>, Decoder>(run);
}

// accumulate_int4 / accumulate_int8 over a decoder: up to kFusedRows rows of x straight from the decoded
// registers; more rows from a panel decoded once (accumulate_x86).
template <typename Ops, int kFusedRows, typename Decoder>
inline void accumulate_fused(const Decoder &d, const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *x,
                             int64_t x_stride, int64_t rows, float *acc) {
  if (rows <= kFusedRows)
    return accumulate_decoded_upto<Ops, kFusedRows>(d, bytes, row_bytes, kp, x, x_stride, rows, acc);
  using V = typename Ops::V;
  constexpr int kVectors = static_cast<int>(kPanelCols / Ops::kLanes);
  alignas(64) float panel[kMaxFusedRows * kPaddedPanelCols];
  const WeightPrefetch prefetch(row_bytes);
  for (int64_t t = 0; t < kp; ++t) {
    V w[kVectors];
    prefetch.row(bytes, row_bytes, t);
    d.decode(bytes + t * row_bytes, w);
    Decoder::store_acc(w, panel + t * kPaddedPanelCols);  // the panel in column order
  }
  accumulate_x86<Ops>(x, x_stride, rows, panel, kp, acc, kPaddedPanelCols);
}

// An int8 decoder (one with decode_halves) over the rows of accumulate_int8_blocks: row t's first 32 values
// in one block, its last 32 `second` bytes on. accumulate_fused's prefetch asks for the first block's rows
// (a stream of 32 bytes a row); each row asks for the second block's line as far ahead.
template <typename Decoder>
struct BlockPairRows : Decoder {
  int64_t second;
  BlockPairRows(const Decoder &d, int64_t second_block) : Decoder(d), second(second_block) {}
  template <typename V>
  void decode(const uint8_t *bytes, V *w) const {
    prefetch_at(bytes, second + kStreamPrefetchBytes);
    this->decode_halves(bytes, bytes + second, w);
  }
};

// accumulate_fused over an int8 decoder, rows row_bytes apart: for accumulate_int8 (second 0: each row's 64
// values at bytes + t * row_bytes) or accumulate_int8_blocks (second: the second block's distance).
template <typename Ops, int kFusedRows, typename Decoder>
inline void accumulate_int8_rows(const Decoder &d, int64_t second, const uint8_t *bytes, int64_t row_bytes, int64_t kp,
                                 const float *x, int64_t x_stride, int64_t rows, float *acc) {
  if (second == 0) return accumulate_fused<Ops, kFusedRows>(d, bytes, row_bytes, kp, x, x_stride, rows, acc);
  accumulate_fused<Ops, kFusedRows>(BlockPairRows<Decoder>(d, second), bytes, row_bytes, kp, x, x_stride, rows, acc);
}

// accumulate_int4 (Values = Int4Values<Ops>), accumulate_int8 (Int8Values<Ops>) and, with `second` (an
// int8 row's second block, 0 for none), accumulate_int8_blocks.
template <typename Ops, typename Values, int kFusedRows>
inline void accumulate_fused_x86(const uint8_t *bytes, int64_t row_bytes, int64_t kp, const float *offset,
                                 const float *scale, Rounding r, const float *x, int64_t x_stride, int64_t rows,
                                 float *acc, int64_t second = 0) {
  constexpr bool kInt8 = std::is_same_v<Values, Int8Values<Ops>>;
  if (scale == nullptr || r == Rounding::kNone) {  // the packed-scale mode: rare, through a panel
    alignas(64) float panel[kMaxFusedRows * kPaddedPanelCols];
    for (int64_t t = 0; t < kp; ++t) {
      const uint8_t *row = bytes + t * row_bytes;
      alignas(64) uint8_t joined[kPanelCols];
      if (second != 0) {
        join_block_row(row, second, joined);
        row = joined;
      }
      Values::dequant(row, offset, scale, r, panel + t * kPaddedPanelCols);
    }
    return accumulate_x86<Ops>(x, x_stride, rows, panel, kp, acc, kPaddedPanelCols);
  }
  with_modes(offset, scale, r, [&](auto has_offset, auto has_scale, auto rounding) {
    constexpr Rounding kR = decltype(rounding)::value;
    if constexpr (decltype(has_scale)::value && kR != Rounding::kNone) {
      const RowDecoder<Ops, Values, decltype(has_offset)::value, kR> d(offset, scale);
      if constexpr (kInt8) {
        accumulate_int8_rows<Ops, kFusedRows>(d, second, bytes, row_bytes, kp, x, x_stride, rows, acc);
      } else {
        accumulate_fused<Ops, kFusedRows>(d, bytes, row_bytes, kp, x, x_stride, rows, acc);
      }
    }
  });
}

// multiply_add_int4: each column's 64 values looked up in its 16-entry table (Ops::int4_lookup), then
// multiplied into its lanes for every row of x.
template <typename Ops>
inline void multiply_add_int4_x86(const uint8_t *bytes, int64_t row_bytes, int64_t columns, const float *table,
                                  const float *x, int64_t x_stride, int64_t rows, float *lanes) {
  using V = typename Ops::V;
  constexpr int kVectors = static_cast<int>(kPanelCols / Ops::kLanes);
  for (int64_t c = 0; c < columns; ++c) {
    V w[kVectors];
    Ops::int4_lookup(bytes + c * row_bytes, table + 16 * c, w);
    for (int64_t r = 0; r < rows; ++r) {
      float *l = lanes + (r * kPanelCols + c) * kPanelCols;
      for (int v = 0; v < kVectors; ++v) {
        Ops::store(l + v * Ops::kLanes,
                   Ops::fma(Ops::load(x + r * x_stride + v * Ops::kLanes), w[v], Ops::load(l + v * Ops::kLanes)));
      }
    }
  }
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
