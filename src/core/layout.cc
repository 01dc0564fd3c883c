#include "core/layout.h"

namespace int4pack {

size_t packed_bytes(MatrixShape shape, PackedLayout layout) {
  if (layout == PackedLayout::kNd) return static_cast<size_t>(shape.rows) * static_cast<size_t>(shape.cols / 2);
  return static_cast<size_t>(nz_col_blocks(shape.cols)) * static_cast<size_t>(nz_row_blocks(shape.rows)) *
         static_cast<size_t>(kNzBlockBytes);
}

bool packed_bytes_checked(MatrixShape shape, PackedLayout layout, size_t *bytes) {
  if (shape.rows < 0 || shape.cols < 0 || shape.cols % 2 != 0) return false;
  uint64_t a = 0;
  uint64_t b = 0;
  uint64_t c = 1;
  if (layout == PackedLayout::kNd) {
    a = static_cast<uint64_t>(shape.rows);
    b = static_cast<uint64_t>(shape.cols / 2);
  } else {
    a = static_cast<uint64_t>(nz_col_blocks(shape.cols));
    b = static_cast<uint64_t>(nz_row_blocks(shape.rows));
    c = static_cast<uint64_t>(kNzBlockBytes);
  }
  uint64_t ab = 0;
  uint64_t abc = 0;
  // Sizes must also fit int64 so that pointer offsets and element counts stay representable.
  if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc) ||
      abc > static_cast<uint64_t>(INT64_MAX)) {
    return false;
  }
  *bytes = static_cast<size_t>(abc);
  return true;
}

std::array<int64_t, 4> nz_storage_shape(MatrixShape shape, int values_per_element) {
  return {nz_col_blocks(shape.cols), nz_row_blocks(shape.rows), kNzBlockRows, kNzBlockValues / values_per_element};
}

}  // namespace int4pack
