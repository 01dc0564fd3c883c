// Layout math for packed int4 weights: sizes of the ND and FRACTAL_NZ encodings and where each byte goes.
// Pure functions, no ACL types: the operator and the command-line tool share them.
#ifndef INT4PACK_CORE_LAYOUT_H_
#define INT4PACK_CORE_LAYOUT_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace int4pack {

enum class PackedLayout : int { kNd = 0, kNz = 1 };

// FRACTAL_NZ for int4: blocks of 16 rows x 32 bytes (64 values), laid out column-block major.
inline constexpr int64_t kNzBlockRows = 16;
inline constexpr int64_t kNzBlockRowBytes = 32;
inline constexpr int64_t kNzBlockValues = 2 * kNzBlockRowBytes;  // "C0 = 64" int4 values per block row
inline constexpr int64_t kNzBlockBytes = kNzBlockRows * kNzBlockRowBytes;

// Ceiling division for non-negative a and positive b, without the overflow of (a + b - 1) / b.
constexpr int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

// A weight matrix of int4 values: `rows` x `cols` values, cols even. Packed ND it is rows x cols/2 bytes.
struct MatrixShape {
  int64_t rows = 0;
  int64_t cols = 0;
};

constexpr int64_t nz_row_blocks(int64_t rows) { return ceil_div(rows, kNzBlockRows); }
constexpr int64_t nz_col_blocks(int64_t cols) { return ceil_div(cols, kNzBlockValues); }

// Bytes of the packed encoding, NZ padding included. Callers guarantee that the figure fits (see
// packed_bytes_checked for untrusted shapes).
size_t packed_bytes(MatrixShape shape, PackedLayout layout);

// Same, for shapes that come from outside: false when rows/cols are negative, cols is odd, or the size
// overflows.
bool packed_bytes_checked(MatrixShape shape, PackedLayout layout, size_t *bytes);

// Byte offset in the NZ encoding of byte (row, byte_col) of the packed ND matrix.
constexpr size_t nz_offset(int64_t row, int64_t byte_col, int64_t row_blocks) {
  return static_cast<size_t>(((byte_col / kNzBlockRowBytes) * row_blocks + row / kNzBlockRows) * kNzBlockBytes +
                             (row % kNzBlockRows) * kNzBlockRowBytes + byte_col % kNzBlockRowBytes);
}

// CANN's 4-D storage shape of the NZ encoding when each stored element holds `values_per_element` int4
// values (1 for INT4, 8 for INT32): (ceil(cols/64), ceil(rows/16), 16, 64 / values_per_element).
std::array<int64_t, 4> nz_storage_shape(MatrixShape shape, int values_per_element);

}  // namespace int4pack

#endif  // INT4PACK_CORE_LAYOUT_H_
