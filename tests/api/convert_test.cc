// aclnnConvertWeightToINT4Pack as a CANN program calls it: the spec's worked examples byte for byte,
// randomized shapes for all four output combinations against the reference, and CANN's transposed
// sample scenario.
#include <string>
#include <tuple>

#include "core/layout.h"
#include "kernels/reference.h"
#include "test_support.h"

namespace int4pack::testing {
namespace {

constexpr uint8_t kSentinel = 0xA5;

// Packs `weight` (dim0 x dim1) into the given combination through the C API and returns the output bytes
// (its whole storage, which the test pre-fills with the sentinel).
std::vector<uint8_t> convert_bytes(const std::vector<int32_t> &weight, int64_t dim0, int64_t dim1, aclDataType dtype,
                                   aclFormat format, aclrtStream stream) {
  DeviceBuffer w(weight.size() * 4);
  w.upload(weight);
  const auto storage = packed_storage(dim0, dim1, dtype, format);
  DeviceBuffer out(storage_bytes(storage, dtype));
  out.fill(kSentinel);
  Tensor wt({dim0, dim1}, ACL_INT32, ACL_FORMAT_ND, w.get());
  Tensor ot(packed_view(dim0, dim1, dtype), dtype, format, out.get(), storage);
  EXPECT_EQ(convert(wt.get(), ot.get(), stream), ACLNN_SUCCESS) << recent_error();
  return out.download<uint8_t>();
}

std::vector<uint8_t> reference_bytes(const std::vector<int32_t> &weight, int64_t dim0, int64_t dim1, aclFormat format) {
  const PackedLayout layout = format == ACL_FORMAT_ND ? PackedLayout::kNd : PackedLayout::kNz;
  std::vector<uint8_t> bytes(packed_bytes({dim0, dim1}, layout));
  reference::pack(weight.data(), {dim0, dim1}, layout, bytes.data());
  return bytes;
}

std::vector<uint32_t> as_words(const std::vector<uint8_t> &bytes) {
  std::vector<uint32_t> words(bytes.size() / 4);
  std::memcpy(words.data(), bytes.data(), words.size() * 4);
  return words;
}

const std::vector<int32_t> kSpecWeight = {1, -2, 3, -4, 5, -6, 7, -8, 0, 1, 2, 3, 4, 5, 6, 7};

using ConvertTest = AclTest;

TEST_F(ConvertTest, SpecExampleInt4Nd) {
  EXPECT_EQ(convert_bytes(kSpecWeight, 2, 8, ACL_INT4, ACL_FORMAT_ND, stream_),
            (std::vector<uint8_t>{0xE1, 0xC3, 0xA5, 0x87, 0x10, 0x32, 0x54, 0x76}));
}

TEST_F(ConvertTest, SpecExampleInt32Nd) {
  EXPECT_EQ(as_words(convert_bytes(kSpecWeight, 2, 8, ACL_INT32, ACL_FORMAT_ND, stream_)),
            (std::vector<uint32_t>{0x87A5C3E1u, 0x76543210u}));
}

TEST_F(ConvertTest, SpecExampleInt4Nz) {
  const auto bytes = convert_bytes(kSpecWeight, 2, 8, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, stream_);
  ASSERT_EQ(bytes.size(), 512u);
  std::vector<uint8_t> want(512, 0);
  const uint8_t row0[] = {0xE1, 0xC3, 0xA5, 0x87};
  const uint8_t row1[] = {0x10, 0x32, 0x54, 0x76};
  std::memcpy(&want[0], row0, 4);
  std::memcpy(&want[32], row1, 4);
  EXPECT_EQ(bytes, want);
}

TEST_F(ConvertTest, SpecExampleInt32Nz) {
  const auto words = as_words(convert_bytes(kSpecWeight, 2, 8, ACL_INT32, ACL_FORMAT_FRACTAL_NZ, stream_));
  ASSERT_EQ(words.size(), 128u);
  std::vector<uint32_t> want(128, 0);
  want[0] = 0x87A5C3E1u;
  want[8] = 0x76543210u;
  EXPECT_EQ(words, want);
}

TEST_F(ConvertTest, SpecExampleSingleValueNz) {
  std::vector<int32_t> w(18 * 66, 0);
  w[17 * 66 + 65] = 5;
  const auto bytes = convert_bytes(w, 18, 66, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, stream_);
  ASSERT_EQ(bytes.size(), 2048u);
  for (size_t i = 0; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], i == 1568 ? 0x50 : 0) << "byte " << i;
}

TEST_F(ConvertTest, OutOfRangeValuesWrapLikeCann) {
  // CANN masks with 0xF: 8 packs as -8 (0x8) and -9 as 7 (0x7).
  const std::vector<int32_t> w = {8, -9, 16, -1, 0x7FFFFFF3, INT32_MIN, 0, 0};
  EXPECT_EQ(convert_bytes(w, 1, 8, ACL_INT4, ACL_FORMAT_ND, stream_), (std::vector<uint8_t>{0x78, 0xF0, 0x03, 0x00}));
}

// CANN's sample: the (k=72, n=17) weight is stored transposed as (17, 72), packed as such to NZ, and the
// output is then re-labelled as a transposed (72, 17) view with aclInitTensor, before synchronising.
TEST_F(ConvertTest, CannTransposedSampleScenario) {
  const int64_t k = 72;
  const int64_t n = 17;
  std::vector<int32_t> host(static_cast<size_t>(n * k), 1);
  DeviceBuffer w(host.size() * 4);
  w.upload(host);
  const std::vector<int64_t> nz{2, 2, 16, 64};
  DeviceBuffer out(storage_bytes(nz, ACL_INT4));
  out.fill(kSentinel);
  Tensor wt({n, k}, ACL_INT32, ACL_FORMAT_ND, w.get());
  Tensor ot({n, k}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, out.get(), nz);

  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  ASSERT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(wt.get(), ot.get(), &workspace, &executor), ACLNN_SUCCESS);
  EXPECT_EQ(workspace, 0u);
  ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream_), ACLNN_SUCCESS);

  // Re-label as the transposed view (k, n) with swapped strides and NZ storage (ceil(k/64), ceil(n/16), 16, 64).
  const std::vector<int64_t> view{k, n};
  const std::vector<int64_t> strides{1, k};
  const std::vector<int64_t> relabelled{2, 2, 16, 64};
  ASSERT_EQ(aclInitTensor(ot.get(), view.data(), 2, ACL_INT4, strides.data(), 0, ACL_FORMAT_FRACTAL_NZ,
                          relabelled.data(), 4, out.get()),
            ACLNN_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);

  const auto bytes = out.download<uint8_t>();
  ASSERT_EQ(bytes.size(), 2048u);
  size_t data_bytes = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k / 2; ++j, ++data_bytes) ASSERT_EQ(bytes[nz_offset(i, j, 2)], 0x11) << i << "," << j;
  }
  EXPECT_EQ(data_bytes, 17u * 36u);
  size_t nonzero = 0;
  for (uint8_t b : bytes) nonzero += b != 0;
  EXPECT_EQ(nonzero, data_bytes);  // every padding byte is 0, none left at the sentinel

  int64_t *dims = nullptr;
  uint64_t count = 0;
  ASSERT_EQ(aclGetViewShape(ot.get(), &dims, &count), ACLNN_SUCCESS);
  EXPECT_EQ(std::vector<int64_t>(dims, dims + count), view);
  delete[] dims;
}

// Randomized shapes, including every edge of the NZ blocks, for all four combinations.
using Combination = std::tuple<aclDataType, aclFormat>;

class ConvertRandomized : public AclTest, public ::testing::WithParamInterface<Combination> {};

TEST_P(ConvertRandomized, MatchesReferenceOverEdgeAndPrimeShapes) {
  const auto [dtype, format] = GetParam();
  const std::vector<int64_t> rows = {1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 131};
  const std::vector<int64_t> cols8 = {8, 16, 56, 64, 72, 120, 128, 136, 248, 256, 264};  // INT32 needs % 8
  const std::vector<int64_t> cols2 = {2, 6, 14, 16, 18, 34, 62, 64, 66, 94, 126, 128, 130, 194, 262};
  const auto &cols = dtype == ACL_INT32 ? cols8 : cols2;
  uint32_t seed = 1;
  for (int64_t r : rows) {
    for (int64_t c : cols) {
      SCOPED_TRACE(std::to_string(r) + "x" + std::to_string(c));
      const auto w = random_weight(r, c, seed++);
      ASSERT_EQ(convert_bytes(w, r, c, dtype, format, stream_), reference_bytes(w, r, c, format));
    }
  }
}

TEST_P(ConvertRandomized, Int4AndInt32OutputsHoldTheSameBytes) {
  const auto [dtype, format] = GetParam();
  const auto w = random_weight(37, 200, 99);
  EXPECT_EQ(convert_bytes(w, 37, 200, dtype, format, stream_),
            convert_bytes(w, 37, 200, dtype == ACL_INT4 ? ACL_INT32 : ACL_INT4, format, stream_));
}

INSTANTIATE_TEST_SUITE_P(AllCombinations, ConvertRandomized,
                         ::testing::Combine(::testing::Values(ACL_INT4, ACL_INT32),
                                            ::testing::Values(ACL_FORMAT_ND, ACL_FORMAT_FRACTAL_NZ)),
                         [](const ::testing::TestParamInfo<Combination> &info) {
                           return std::string(std::get<0>(info.param) == ACL_INT4 ? "Int4" : "Int32") +
                                  (std::get<1>(info.param) == ACL_FORMAT_ND ? "Nd" : "Nz");
                         });

// A view offset on the weight (in elements) and on an ND output are honoured.
TEST_F(ConvertTest, ViewOffsetsAreHonoured) {
  const auto w = random_weight(4, 16, 5);
  std::vector<int32_t> padded(8, 0x7F);
  padded.insert(padded.end(), w.begin(), w.end());
  DeviceBuffer wb(padded.size() * 4);
  wb.upload(padded);
  DeviceBuffer out(4 + 32);
  out.fill(kSentinel);
  Tensor wt({4, 16}, ACL_INT32, ACL_FORMAT_ND, wb.get(), {8 + 64}, {}, 8);
  Tensor ot({4, 16}, ACL_INT4, ACL_FORMAT_ND, out.get(), {8 + 64}, {}, 8);
  ASSERT_EQ(convert(wt.get(), ot.get(), stream_), ACLNN_SUCCESS) << recent_error();
  const auto bytes = out.download<uint8_t>();
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 4), std::vector<uint8_t>(4, kSentinel));
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 4, bytes.end()), reference_bytes(w, 4, 16, ACL_FORMAT_ND));
}

// Newer CANN's (g, k, n) stacks: ND is the flat pack of the g matrices, FRACTAL_NZ gives each matrix its
// own padded blocks, (g, ceil(n/64), ceil(k/16), 16, 64), also where k % 16 != 0 or n % 64 != 0 (CANN's
// own code writes group i at byte i * k * n / 2 and misplaces those). Unpacked back to the same values.
TEST_P(ConvertRandomized, StacksPackEachMatrixInItsOwnBlocks) {
  const auto [dtype, format] = GetParam();
  uint32_t seed = 50;
  for (const auto &[g, k, n] : {std::make_tuple(3, 17, 72), std::make_tuple(2, 32, 64), std::make_tuple(5, 1, 8),
                                std::make_tuple(4, 33, 136)}) {
    SCOPED_TRACE(std::to_string(g) + "x" + std::to_string(k) + "x" + std::to_string(n));
    const auto w = random_weight(g * k, n, seed++);
    std::vector<uint8_t> want;
    for (int64_t i = 0; i < g; ++i) {
      const std::vector<int32_t> matrix(w.begin() + i * k * n, w.begin() + (i + 1) * k * n);
      const auto bytes = reference_bytes(matrix, k, n, format);
      want.insert(want.end(), bytes.begin(), bytes.end());
    }
    DeviceBuffer wb(w.size() * 4), out(want.size()), back(w.size() * 4);
    wb.upload(w);
    out.fill(kSentinel);
    std::vector<int64_t> storage = packed_storage(k, n, dtype, format);
    storage.insert(storage.begin(), g);
    std::vector<int64_t> view = packed_view(k, n, dtype);
    view.insert(view.begin(), g);
    Tensor wt({g, k, n}, ACL_INT32, ACL_FORMAT_ND, wb.get());
    Tensor pt(view, dtype, format, out.get(), storage);
    Tensor bt({g, k, n}, ACL_INT32, ACL_FORMAT_ND, back.get());
    ASSERT_EQ(convert(wt.get(), pt.get(), stream_), ACLNN_SUCCESS) << recent_error();
    ASSERT_EQ(out.download<uint8_t>(), want);
    ASSERT_EQ(unpack(pt.get(), bt.get(), stream_), ACLNN_SUCCESS) << recent_error();
    ASSERT_EQ(back.download<int32_t>(), w);
  }
}

// A stack's storage must be the 5-D one, and its output a stack as well.
TEST_F(ConvertTest, StackShapesAreChecked) {
  static uint8_t arena[64];
  Tensor w({2, 32, 64}, ACL_INT32, ACL_FORMAT_ND, arena);
  Tensor nz4({2, 32, 64}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, arena, {1, 2, 16, 64});
  EXPECT_EQ(convert(w.get(), nz4.get(), stream_), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"weightInt4Pack FRACTAL_NZ storage shape must be the 5-D (2, 1, 2, 16, 64)",
                                        "(g, ceil(dim1/64), ceil(dim0/16), 16, 64)", "4-D (1, 2, 16, 64)"}));
  Tensor flat({64, 64}, ACL_INT4, ACL_FORMAT_ND, arena);
  EXPECT_EQ(convert(w.get(), flat.get(), stream_), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"weightInt4Pack view must have 3 dims", "got 2"}));
  Tensor wrong({3, 32, 64}, ACL_INT4, ACL_FORMAT_ND, arena);
  EXPECT_EQ(convert(w.get(), wrong.get(), stream_), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"view shape must be", "(2, 32, 64)", "but got (3, 32, 64)"}));
  Tensor empty({0, 32, 64}, ACL_INT32, ACL_FORMAT_ND, arena), empty_out({0, 32, 64}, ACL_INT4, ACL_FORMAT_ND, arena);
  EXPECT_EQ(convert(empty.get(), empty_out.get(), stream_), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"must not be empty", "(0, 32, 64)"}));
}

}  // namespace
}  // namespace int4pack::testing
