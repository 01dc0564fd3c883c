// The FRACTAL_NZ block walk every ISA shares; each ISA supplies what it does to one block row.
//
// Included only by kernel files, each compiled with its own ISA flags: everything here has internal
// linkage (anonymous namespace), so no ISA's code can be picked by the linker for another ISA's caller.
#ifndef INT4PACK_KERNELS_NZ_WALK_H_
#define INT4PACK_KERNELS_NZ_WALK_H_

#include <cstdint>
#include <cstring>

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

// Writes the blocks of row blocks [rb_begin, rb_end), each block whole and in address order, so a
// block's 512 bytes go out as consecutive full cache lines:
//   full(in, out)            64 values -> 32 bytes
//   tail(in, out, live)      2*live values -> live bytes, then zeros up to 32
//   zero(out)                32 zero bytes (block rows past the last matrix row)
template <typename Full, typename Tail, typename Zero>
inline void walk_pack_nz(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                         Full full, Tail tail, Zero zero) {
  const NzGeometry g = nz_geometry(shape);
  for (int64_t rb = rb_begin; rb < rb_end; ++rb) {
    for (int64_t cb = 0; cb < g.col_blocks; ++cb) {
      uint8_t *block = dst + (cb * g.row_blocks + rb) * kBlockBytes;
      const bool partial = cb == g.col_blocks - 1 && g.tail_bytes != kBlockRowBytes;
      for (int64_t r = 0; r < kBlockRows; ++r) {
        const int64_t row = rb * kBlockRows + r;
        uint8_t *out = block + r * kBlockRowBytes;
        if (row >= shape.rows) {
          zero(out);
        } else if (partial) {
          tail(src + row * shape.cols + cb * 2 * kBlockRowBytes, out, g.tail_bytes);
        } else {
          full(src + row * shape.cols + cb * 2 * kBlockRowBytes, out);
        }
      }
    }
  }
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

inline void pack_tail(const int32_t *src, uint8_t *dst, int64_t live) {
  pack_pairs(src, dst, live);
  std::memset(dst + live, 0, static_cast<size_t>(kBlockRowBytes - live));
}

inline void zero_block_row(uint8_t *dst) { std::memset(dst, 0, kBlockRowBytes); }

}  // namespace
}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_NZ_WALK_H_
