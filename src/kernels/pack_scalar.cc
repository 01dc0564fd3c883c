// Portable kernels. ND: a row-major int4 matrix with an even number of columns is one flat run of value
// pairs, so ND packing is a single loop over pairs. NZ: the output is produced block by block in its own
// order (column block, then row block), so writes are sequential and every padding byte is written once.
#include <cstring>

#include "kernels/kernels.h"

namespace int4pack::kernels {
namespace {

inline uint8_t pack_pair(int32_t low, int32_t high) {
  return static_cast<uint8_t>((static_cast<uint32_t>(low) & 0xFu) | ((static_cast<uint32_t>(high) & 0xFu) << 4));
}

inline int32_t sign_extend_nibble(uint32_t nibble) { return static_cast<int32_t>(nibble ^ 8u) - 8; }

void pack_pairs(const int32_t *src, uint8_t *dst, int64_t bytes) {
  for (int64_t j = 0; j < bytes; ++j) dst[j] = pack_pair(src[2 * j], src[2 * j + 1]);
}

void unpack_pairs(const uint8_t *src, int32_t *dst, int64_t bytes) {
  for (int64_t j = 0; j < bytes; ++j) {
    dst[2 * j] = sign_extend_nibble(src[j] & 0xFu);
    dst[2 * j + 1] = sign_extend_nibble(src[j] >> 4);
  }
}

void pack_nd_scalar(const int32_t *src, uint8_t *dst, MatrixShape shape) {
  pack_pairs(src, dst, shape.rows * (shape.cols / 2));
}

void unpack_nd_scalar(const uint8_t *src, int32_t *dst, MatrixShape shape) {
  unpack_pairs(src, dst, shape.rows * (shape.cols / 2));
}

void pack_nz_scalar(const int32_t *src, uint8_t *dst, MatrixShape shape) {
  const int64_t row_bytes = shape.cols / 2;
  const int64_t row_blocks = nz_row_blocks(shape.rows);
  const int64_t col_blocks = nz_col_blocks(shape.cols);
  uint8_t *out = dst;
  for (int64_t cb = 0; cb < col_blocks; ++cb) {
    const int64_t first_byte = cb * kNzBlockRowBytes;
    const int64_t live_bytes = row_bytes - first_byte < kNzBlockRowBytes ? row_bytes - first_byte : kNzBlockRowBytes;
    for (int64_t rb = 0; rb < row_blocks; ++rb) {
      for (int64_t r = 0; r < kNzBlockRows; ++r, out += kNzBlockRowBytes) {
        const int64_t row = rb * kNzBlockRows + r;
        if (row >= shape.rows) {
          std::memset(out, 0, kNzBlockRowBytes);
          continue;
        }
        pack_pairs(src + row * shape.cols + 2 * first_byte, out, live_bytes);
        std::memset(out + live_bytes, 0, static_cast<size_t>(kNzBlockRowBytes - live_bytes));
      }
    }
  }
}

void unpack_nz_scalar(const uint8_t *src, int32_t *dst, MatrixShape shape) {
  const int64_t row_bytes = shape.cols / 2;
  const int64_t row_blocks = nz_row_blocks(shape.rows);
  const int64_t col_blocks = nz_col_blocks(shape.cols);
  for (int64_t cb = 0; cb < col_blocks; ++cb) {
    const int64_t first_byte = cb * kNzBlockRowBytes;
    const int64_t live_bytes = row_bytes - first_byte < kNzBlockRowBytes ? row_bytes - first_byte : kNzBlockRowBytes;
    for (int64_t row = 0; row < shape.rows; ++row) {
      unpack_pairs(src + nz_offset(row, first_byte, row_blocks), dst + row * shape.cols + 2 * first_byte, live_bytes);
    }
  }
}

}  // namespace

const KernelTable &scalar_kernels() {
  static const KernelTable table{"scalar", pack_nd_scalar, pack_nz_scalar, unpack_nd_scalar, unpack_nz_scalar};
  return table;
}

}  // namespace int4pack::kernels
