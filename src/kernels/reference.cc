#include "kernels/reference.h"

#include <cstring>

namespace int4pack::reference {
namespace {

size_t byte_position(int64_t row, int64_t byte_col, const MatrixShape &shape, PackedLayout layout) {
  if (layout == PackedLayout::kNd) return static_cast<size_t>(row * (shape.cols / 2) + byte_col);
  return nz_offset(row, byte_col, nz_row_blocks(shape.rows));
}

}  // namespace

void pack(const int32_t *src, MatrixShape shape, PackedLayout layout, uint8_t *dst) {
  std::memset(dst, 0, packed_bytes(shape, layout));
  for (int64_t i = 0; i < shape.rows; ++i) {
    for (int64_t c = 0; c < shape.cols; ++c) {
      const uint32_t nibble = static_cast<uint32_t>(src[i * shape.cols + c]) & 0xFu;
      const int shift = (c % 2 == 0) ? 0 : 4;
      uint8_t &byte = dst[byte_position(i, c / 2, shape, layout)];
      byte = static_cast<uint8_t>(byte | (nibble << shift));
    }
  }
}

void unpack(const uint8_t *src, MatrixShape shape, PackedLayout layout, int32_t *dst) {
  for (int64_t i = 0; i < shape.rows; ++i) {
    for (int64_t c = 0; c < shape.cols; ++c) {
      const uint8_t byte = src[byte_position(i, c / 2, shape, layout)];
      const int nibble = (c % 2 == 0) ? (byte & 0xF) : (byte >> 4);
      dst[i * shape.cols + c] = nibble >= 8 ? nibble - 16 : nibble;
    }
  }
}

}  // namespace int4pack::reference
