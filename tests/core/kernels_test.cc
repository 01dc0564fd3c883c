// Every kernel table against the reference, byte for byte, over shapes below, on and above each block
// size (NZ blocks are 16 rows x 64 values), with the output pre-filled with a sentinel so unwritten
// padding shows.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/pack.h"
#include "kernels/kernels.h"
#include "kernels/reference.h"

namespace int4pack {
namespace {

constexpr uint8_t kSentinel = 0xA5;

const std::vector<int64_t> kRows = {1, 2, 15, 16, 17, 31, 33, 63, 64, 65, 97};
const std::vector<int64_t> kCols = {2, 8, 14, 16, 18, 30, 62, 64, 66, 126, 128, 130, 194};

std::vector<int32_t> random_values(MatrixShape s, uint32_t seed, bool full_int32_range) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> int4(-8, 7);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  std::vector<int32_t> v(static_cast<size_t>(s.rows * s.cols));
  for (auto &x : v) x = full_int32_range ? any(gen) : int4(gen);
  return v;
}

std::vector<const kernels::KernelTable *> all_tables() { return {&kernels::scalar_kernels(), &kernels::active_kernels()}; }

using KernelCase = std::tuple<const kernels::KernelTable *, PackedLayout>;

class KernelsVsReference : public ::testing::TestWithParam<KernelCase> {};

TEST_P(KernelsVsReference, PackMatchesReferenceOverEdgeShapes) {
  const auto [table, layout] = GetParam();
  for (int64_t rows : kRows) {
    for (int64_t cols : kCols) {
      const MatrixShape shape{rows, cols};
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
      const auto src = random_values(shape, static_cast<uint32_t>(rows * 1000 + cols), false);
      std::vector<uint8_t> want(packed_bytes(shape, layout), kSentinel);
      std::vector<uint8_t> got(want.size(), kSentinel);
      reference::pack({shape, layout, src.data(), want.data()});
      (layout == PackedLayout::kNd ? table->pack_nd : table->pack_nz)(src.data(), got.data(), shape);
      ASSERT_EQ(got, want);
    }
  }
}

TEST_P(KernelsVsReference, OutOfRangeValuesAreMaskedLikeCann) {
  const auto [table, layout] = GetParam();
  const MatrixShape shape{17, 130};
  const auto src = random_values(shape, 7, true);
  std::vector<uint8_t> want(packed_bytes(shape, layout), kSentinel);
  std::vector<uint8_t> got(want.size(), kSentinel);
  reference::pack({shape, layout, src.data(), want.data()});
  (layout == PackedLayout::kNd ? table->pack_nd : table->pack_nz)(src.data(), got.data(), shape);
  EXPECT_EQ(got, want);
}

TEST_P(KernelsVsReference, UnpackInvertsPack) {
  const auto [table, layout] = GetParam();
  for (int64_t rows : kRows) {
    for (int64_t cols : kCols) {
      const MatrixShape shape{rows, cols};
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
      const auto src = random_values(shape, static_cast<uint32_t>(rows * 7 + cols), false);
      std::vector<uint8_t> packed(packed_bytes(shape, layout));
      reference::pack({shape, layout, src.data(), packed.data()});
      std::vector<int32_t> want(src.size(), 0x5A5A5A5A);
      std::vector<int32_t> got(src.size(), 0x5A5A5A5A);
      reference::unpack({shape, layout, packed.data(), want.data()});
      (layout == PackedLayout::kNd ? table->unpack_nd : table->unpack_nz)(packed.data(), got.data(), shape);
      ASSERT_EQ(want, src);
      ASSERT_EQ(got, src);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTables, KernelsVsReference,
                         ::testing::Combine(::testing::ValuesIn(all_tables()),
                                            ::testing::Values(PackedLayout::kNd, PackedLayout::kNz)),
                         [](const ::testing::TestParamInfo<KernelCase> &info) {
                           return std::string(std::get<0>(info.param)->isa) + "_" + std::to_string(info.index) +
                                  (std::get<1>(info.param) == PackedLayout::kNd ? "_nd" : "_nz");
                         });

// The spec's worked example through the engine entry point.
TEST(EnginePack, SpecWorkedExample) {
  const std::vector<int32_t> w = {1, -2, 3, -4, 5, -6, 7, -8, 0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<uint8_t> nd(8, kSentinel);
  pack({{2, 8}, PackedLayout::kNd, w.data(), nd.data()});
  EXPECT_EQ(nd, (std::vector<uint8_t>{0xE1, 0xC3, 0xA5, 0x87, 0x10, 0x32, 0x54, 0x76}));

  std::vector<uint8_t> nz(512, kSentinel);
  pack({{2, 8}, PackedLayout::kNz, w.data(), nz.data()});
  std::vector<uint8_t> want(512, 0);
  for (int j = 0; j < 4; ++j) {
    want[j] = nd[j];
    want[32 + j] = nd[4 + j];
  }
  EXPECT_EQ(nz, want);
}

TEST(EnginePack, ReferenceSpecSingleValueExample) {
  std::vector<int32_t> w(18 * 66, 0);
  w[17 * 66 + 65] = 5;
  std::vector<uint8_t> nz(2048, kSentinel);
  reference::pack({{18, 66}, PackedLayout::kNz, w.data(), nz.data()});
  for (size_t i = 0; i < nz.size(); ++i) ASSERT_EQ(nz[i], i == 1568 ? 0x50 : 0x00) << i;
}

}  // namespace
}  // namespace int4pack
