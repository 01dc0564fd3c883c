// Layout math: sizes, storage shapes and NZ offsets, checked against the spec's figures.
#include "core/layout.h"

#include <gtest/gtest.h>

#include <set>

namespace int4pack {
namespace {

TEST(Layout, CeilDiv) {
  EXPECT_EQ(ceil_div(0, 16), 0);
  EXPECT_EQ(ceil_div(1, 16), 1);
  EXPECT_EQ(ceil_div(16, 16), 1);
  EXPECT_EQ(ceil_div(17, 16), 2);
  EXPECT_EQ(ceil_div(INT64_MAX, 16), INT64_MAX / 16 + 1);  // no overflow
}

TEST(Layout, PackedBytes) {
  EXPECT_EQ(packed_bytes({2, 8}, PackedLayout::kNd), 8u);
  EXPECT_EQ(packed_bytes({2, 8}, PackedLayout::kNz), 512u);
  EXPECT_EQ(packed_bytes({18, 66}, PackedLayout::kNz), 2048u);  // (2, 2, 16, 64) int4
  EXPECT_EQ(packed_bytes({17, 72}, PackedLayout::kNz), 2048u);
  EXPECT_EQ(packed_bytes({32, 64}, PackedLayout::kNz), 1024u);  // (1, 2, 16, 64)
}

TEST(Layout, PackedBytesCheckedRejectsBadShapes) {
  size_t bytes = 0;
  EXPECT_TRUE(packed_bytes_checked({32, 64}, PackedLayout::kNd, &bytes));
  EXPECT_EQ(bytes, 1024u);
  EXPECT_FALSE(packed_bytes_checked({-1, 64}, PackedLayout::kNd, &bytes));
  EXPECT_FALSE(packed_bytes_checked({1, 63}, PackedLayout::kNd, &bytes));
  EXPECT_FALSE(packed_bytes_checked({int64_t{1} << 62, 64}, PackedLayout::kNd, &bytes));
  EXPECT_FALSE(packed_bytes_checked({int64_t{1} << 40, int64_t{1} << 40}, PackedLayout::kNz, &bytes));
}

TEST(Layout, NzStorageShapeMatchesCann) {
  EXPECT_EQ(nz_storage_shape({32, 64}, 1), (std::array<int64_t, 4>{1, 2, 16, 64}));
  EXPECT_EQ(nz_storage_shape({32, 64}, 8), (std::array<int64_t, 4>{1, 2, 16, 8}));
  EXPECT_EQ(nz_storage_shape({17, 72}, 1), (std::array<int64_t, 4>{2, 2, 16, 64}));
  EXPECT_EQ(nz_storage_shape({2, 8}, 8), (std::array<int64_t, 4>{1, 1, 16, 8}));
}

TEST(Layout, NzOffsetSpecExample) {
  // Weight (18, 66): byte (17, 32) -> column block 1, row block 1, row 1 in block, byte 0.
  EXPECT_EQ(nz_offset(17, 32, nz_row_blocks(18)), 1568u);
  EXPECT_EQ(nz_offset(0, 0, 1), 0u);
  EXPECT_EQ(nz_offset(1, 0, 1), 32u);
  EXPECT_EQ(nz_offset(0, 31, 1), 31u);
  EXPECT_EQ(nz_offset(0, 32, 1), 512u);
}

// Every byte of the ND matrix lands on a distinct byte of the NZ buffer, inside it.
TEST(Layout, NzOffsetIsInjective) {
  for (MatrixShape shape : {MatrixShape{1, 2}, MatrixShape{17, 66}, MatrixShape{33, 130}, MatrixShape{16, 64}}) {
    const int64_t row_blocks = nz_row_blocks(shape.rows);
    const size_t total = packed_bytes(shape, PackedLayout::kNz);
    std::set<size_t> seen;
    for (int64_t i = 0; i < shape.rows; ++i) {
      for (int64_t j = 0; j < shape.cols / 2; ++j) {
        const size_t off = nz_offset(i, j, row_blocks);
        EXPECT_LT(off, total);
        EXPECT_TRUE(seen.insert(off).second) << i << "," << j;
      }
    }
  }
}

}  // namespace
}  // namespace int4pack
