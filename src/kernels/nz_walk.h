// The FRACTAL_NZ block walk every ISA shares; each ISA supplies what it does to one block row.
//
// Included only by kernel files, each compiled with its own ISA flags: everything here has internal
// linkage (anonymous namespace), so no ISA's code can be picked by the linker for another ISA's caller.
#ifndef INT4PACK_KERNELS_NZ_WALK_H_
#define INT4PACK_KERNELS_NZ_WALK_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "core/layout.h"

namespace int4pack::kernels {
namespace {

constexpr int64_t kBlockRows = 16;      // rows per NZ block
constexpr int64_t kBlockRowBytes = 32;  // bytes per block row (64 int4 values)
constexpr int64_t kBlockBytes = kBlockRows * kBlockRowBytes;

struct NzGeometry {
  int64_t row_bytes;   // packed bytes per matrix row
  int64_t row_blocks;  // blocks down the rows
  int64_t col_blocks;  // blocks across; the last one may be partial
  int64_t tail_bytes;  // live bytes of the last column block (kBlockRowBytes when it is full)
};

inline NzGeometry nz_geometry(MatrixShape shape) {
  NzGeometry g;
  g.row_bytes = shape.cols / 2;
  g.row_blocks = shape.rows / kBlockRows + (shape.rows % kBlockRows != 0);
  g.col_blocks = g.row_bytes / kBlockRowBytes + (g.row_bytes % kBlockRowBytes != 0);
  g.tail_bytes = g.row_bytes - (g.col_blocks - 1) * kBlockRowBytes;
  return g;
}

// Writes the blocks of row blocks [rb_begin, rb_end); src starts at the first of their rows. A row
// block's 16 rows are consecutive in memory, so they are read front to back, one sequential stream,
// packing each 64-value segment into its block in a staging area that stays in cache (L2). Finished
// blocks are copied out whole (512 contiguous bytes), spread over the packing of the next row block.
// The x86 kernels write large outputs another way (pack_x86.h); this walk serves the portable and NEON
// kernels and outputs that stay in cache. Rows wider than the staging area are done in slices of it.
//   full(in, out)            64 values -> 32 bytes
//   tail(in, out, live)      2*live values -> live bytes, then zeros up to 32 (a partial column block)
inline constexpr int64_t kStagedBlocks = 256;        // per half: a whole row of up to 16384 values
inline constexpr int64_t kFallbackStagedBlocks = 8;  // per half, on the stack, if the heap says no

// The staging area's deleter is a type of this file's own: std::unique_ptr<uint8_t[]>'s destructor would be
// a definition every kernel file shares, which the linker may take from any ISA's build of it.
struct FreeStaging {
  void operator()(uint8_t *area) const { delete[] area; }
};

// The calling thread's two staging halves, allocated once per thread (pool and stream threads live long).
inline uint8_t *thread_staging() {
  thread_local std::unique_ptr<uint8_t[], FreeStaging> area(new (std::nothrow)
                                                                uint8_t[2 * kStagedBlocks * kBlockBytes + 64]);
  if (area == nullptr) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(area.get());
  return area.get() + (64 - base % 64) % 64;
}

template <typename Full, typename Tail>
inline void walk_pack_nz(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                         Full full, Tail tail) {
  const NzGeometry g = nz_geometry(shape);
  alignas(64) uint8_t fallback[2 * kFallbackStagedBlocks * kBlockBytes];
  uint8_t *staging = thread_staging();
  const int64_t half_blocks = staging != nullptr ? kStagedBlocks : kFallbackStagedBlocks;
  if (staging == nullptr) staging = fallback;

  // A staged unit: row blocks [rb0, rb0 + row_blocks) x column blocks [cb0, cb0 + blocks). Blocks of
  // consecutive row blocks are adjacent in the output, so a narrow matrix stages several row blocks and
  // each column block goes out as one longer contiguous run. `flushed` counts blocks already written.
  struct Unit {
    uint8_t *staged;
    int64_t rb0, row_blocks, cb0, blocks, flushed;
    int64_t total() const { return row_blocks * blocks; }
  };
  Unit pending{nullptr, 0, 0, 0, 0, 0};
  const auto flush_until = [&](int64_t count) {
    for (; pending.flushed < count; ++pending.flushed) {
      const int64_t b = pending.flushed / pending.row_blocks;
      const int64_t j = pending.flushed % pending.row_blocks;
      std::memcpy(dst + ((pending.cb0 + b) * g.row_blocks + pending.rb0 + j) * kBlockBytes,
                  pending.staged + pending.flushed * kBlockBytes, kBlockBytes);
    }
  };

  const int64_t unit_row_blocks = g.col_blocks >= half_blocks ? 1 : half_blocks / g.col_blocks;
  int64_t unit_index = 0;
  for (int64_t rb0 = rb_begin; rb0 < rb_end; rb0 += unit_row_blocks) {
    const int64_t nrb = rb_end - rb0 < unit_row_blocks ? rb_end - rb0 : unit_row_blocks;
    for (int64_t cb0 = 0; cb0 < g.col_blocks; cb0 += half_blocks, ++unit_index) {
      const int64_t blocks = g.col_blocks - cb0 < half_blocks ? g.col_blocks - cb0 : half_blocks;
      const bool ends_partial = cb0 + blocks == g.col_blocks && g.tail_bytes != kBlockRowBytes;
      const int64_t full_blocks = ends_partial ? blocks - 1 : blocks;
      uint8_t *half = staging + (unit_index % 2) * half_blocks * kBlockBytes;
      const int64_t rows = nrb * kBlockRows;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t row = rb0 * kBlockRows + r;
        // Staged block (b, j) sits at (b * nrb + j) * 512, in output order.
        uint8_t *out = half + ((r / kBlockRows) * kBlockBytes) + (r % kBlockRows) * kBlockRowBytes;
        const int64_t block_step = nrb * kBlockBytes;
        if (row >= shape.rows) {
          for (int64_t b = 0; b < blocks; ++b) std::memset(out + b * block_step, 0, kBlockRowBytes);
        } else {
          const int32_t *in = src + (row - rb_begin * kBlockRows) * shape.cols + cb0 * 2 * kBlockRowBytes;
          for (int64_t b = 0; b < full_blocks; ++b) full(in + b * 2 * kBlockRowBytes, out + b * block_step);
          if (ends_partial) tail(in + full_blocks * 2 * kBlockRowBytes, out + full_blocks * block_step, g.tail_bytes);
        }
        flush_until(pending.total() * (r + 1) / rows);  // the previous unit, spread over this one's rows
      }
      flush_until(pending.total());
      pending = Unit{half, rb0, nrb, cb0, blocks, 0};
    }
  }
  flush_until(pending.total());
}

// The inverse walk: reads the blocks of row blocks [rb_begin, rb_end); padding is never read.
//   full(in, out)            32 bytes -> 64 values
//   tail(in, out, live)      live bytes -> 2*live values
template <typename Full, typename Tail>
inline void walk_unpack_nz(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                           Full full, Tail tail) {
  const NzGeometry g = nz_geometry(shape);
  for (int64_t rb = rb_begin; rb < rb_end; ++rb) {
    for (int64_t cb = 0; cb < g.col_blocks; ++cb) {
      const uint8_t *block = src + (cb * g.row_blocks + rb) * kBlockBytes;
      const bool partial = cb == g.col_blocks - 1 && g.tail_bytes != kBlockRowBytes;
      for (int64_t r = 0; r < kBlockRows; ++r) {
        const int64_t row = rb * kBlockRows + r;
        if (row >= shape.rows) break;
        const uint8_t *in = block + r * kBlockRowBytes;
        int32_t *out = dst + row * shape.cols + cb * 2 * kBlockRowBytes;
        if (partial) {
          tail(in, out, g.tail_bytes);
        } else {
          full(in, out);
        }
      }
    }
  }
}

// Unpacking with an ISA's 16-byte step (16 packed bytes -> 32 values); the rest byte by byte.
template <typename Unpack16>
inline void unpack_nd_by_16(const uint8_t *src, int32_t *dst, int64_t bytes, Unpack16 unpack16);
template <typename Unpack16>
inline void unpack_nz_by_16(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                            Unpack16 unpack16);

// Portable pieces every ISA uses for heads, tails and partial blocks.
inline uint8_t pack_pair(int32_t low, int32_t high) {
  return static_cast<uint8_t>((static_cast<uint32_t>(low) & 0xFu) | ((static_cast<uint32_t>(high) & 0xFu) << 4));
}

inline int32_t sign_extend_nibble(uint32_t nibble) { return static_cast<int32_t>(nibble ^ 8u) - 8; }

inline void pack_pairs(const int32_t *src, uint8_t *dst, int64_t bytes) {
  for (int64_t j = 0; j < bytes; ++j) dst[j] = pack_pair(src[2 * j], src[2 * j + 1]);
}

inline void unpack_pairs(const uint8_t *src, int32_t *dst, int64_t bytes) {
  for (int64_t j = 0; j < bytes; ++j) {
    dst[2 * j] = sign_extend_nibble(src[j] & 0xFu);
    dst[2 * j + 1] = sign_extend_nibble(src[j] >> 4);
  }
}

// (v - low) mod 2^32 has no bit above the low four exactly when v is in [low, low + 15].
inline uint32_t outside_int4_bits(const int32_t *src, int64_t n, int32_t low) {
  uint32_t bits = 0;
  for (int64_t i = 0; i < n; ++i) bits |= static_cast<uint32_t>(src[i]) - static_cast<uint32_t>(low);
  return bits & ~0xFu;
}

inline void pack_tail(const int32_t *src, uint8_t *dst, int64_t live) {
  pack_pairs(src, dst, live);
  std::memset(dst + live, 0, static_cast<size_t>(kBlockRowBytes - live));
}

template <typename Unpack16>
inline void unpack_nd_by_16(const uint8_t *src, int32_t *dst, int64_t bytes, Unpack16 unpack16) {
  int64_t j = 0;
  for (; j + 16 <= bytes; j += 16) unpack16(src + j, dst + 2 * j);
  unpack_pairs(src + j, dst + 2 * j, bytes - j);
}

template <typename Unpack16>
inline void unpack_nz_by_16(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                            Unpack16 unpack16) {
  walk_unpack_nz(
      src, dst, shape, rb_begin, rb_end,
      [unpack16](const uint8_t *in, int32_t *out) {
        unpack16(in, out);
        unpack16(in + 16, out + 32);
      },
      unpack_pairs);
}

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_NZ_WALK_H_
