// aclnnInt4PackToWeight (our extension): pack -> unpack round trips through the C API for all four packed
// forms, and sign extension of every nibble.
#include <string>
#include <tuple>

#include "test_support.h"

namespace int4pack::testing {
namespace {

using Combination = std::tuple<aclDataType, aclFormat>;

class UnpackRoundTrip : public AclTest, public ::testing::WithParamInterface<Combination> {};

TEST_P(UnpackRoundTrip, PackThenUnpackGivesTheWeightBack) {
  const auto [dtype, format] = GetParam();
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 8},    {15, 64},  {16, 64},  {17, 72},
                                                           {63, 136}, {64, 128}, {65, 200}, {131, 264}};
  uint32_t seed = 11;
  for (auto [rows, cols] : shapes) {
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
    const auto weight = random_weight(rows, cols, seed++);
    DeviceBuffer w(weight.size() * 4);
    w.upload(weight);
    const auto storage = packed_storage(rows, cols, dtype, format);
    DeviceBuffer packed(storage_bytes(storage, dtype));
    DeviceBuffer back(weight.size() * 4);
    back.fill(0xA5);
    Tensor wt({rows, cols}, ACL_INT32, ACL_FORMAT_ND, w.get());
    Tensor pt(packed_view(rows, cols, dtype), dtype, format, packed.get(), storage);
    Tensor bt({rows, cols}, ACL_INT32, ACL_FORMAT_ND, back.get());
    ASSERT_EQ(convert(wt.get(), pt.get(), stream_), ACLNN_SUCCESS) << recent_error();
    ASSERT_EQ(unpack(pt.get(), bt.get(), stream_), ACLNN_SUCCESS) << recent_error();
    ASSERT_EQ(back.download<int32_t>(), weight);
  }
}

INSTANTIATE_TEST_SUITE_P(AllCombinations, UnpackRoundTrip,
                         ::testing::Combine(::testing::Values(ACL_INT4, ACL_INT32),
                                            ::testing::Values(ACL_FORMAT_ND, ACL_FORMAT_FRACTAL_NZ)),
                         [](const ::testing::TestParamInfo<Combination> &info) {
                           return std::string(std::get<0>(info.param) == ACL_INT4 ? "Int4" : "Int32") +
                                  (std::get<1>(info.param) == ACL_FORMAT_ND ? "Nd" : "Nz");
                         });

using UnpackTest = AclTest;

// Every byte value: low nibble first, both sign-extended to [-8, 7].
TEST_F(UnpackTest, EveryByteSignExtends) {
  std::vector<uint8_t> bytes(256);
  for (int i = 0; i < 256; ++i) bytes[i] = static_cast<uint8_t>(i);
  DeviceBuffer packed(bytes.size());
  packed.upload(bytes);
  DeviceBuffer out(512 * 4);
  Tensor pt({1, 512}, ACL_INT4, ACL_FORMAT_ND, packed.get());
  Tensor ot({1, 512}, ACL_INT32, ACL_FORMAT_ND, out.get());
  ASSERT_EQ(unpack(pt.get(), ot.get(), stream_), ACLNN_SUCCESS) << recent_error();
  const auto values = out.download<int32_t>();
  for (int i = 0; i < 256; ++i) {
    const int lo = i & 0xF;
    const int hi = i >> 4;
    ASSERT_EQ(values[2 * i], lo >= 8 ? lo - 16 : lo) << i;
    ASSERT_EQ(values[2 * i + 1], hi >= 8 ? hi - 16 : hi) << i;
  }
}

TEST_F(UnpackTest, SpecExampleInt32Words) {
  const std::vector<uint32_t> words = {0x87A5C3E1u, 0x76543210u};
  DeviceBuffer packed(8);
  packed.upload(words);
  DeviceBuffer out(16 * 4);
  Tensor pt({2, 1}, ACL_INT32, ACL_FORMAT_ND, packed.get());
  Tensor ot({2, 8}, ACL_INT32, ACL_FORMAT_ND, out.get());
  ASSERT_EQ(unpack(pt.get(), ot.get(), stream_), ACLNN_SUCCESS) << recent_error();
  EXPECT_EQ(out.download<int32_t>(), (std::vector<int32_t>{1, -2, 3, -4, 5, -6, 7, -8, 0, 1, 2, 3, 4, 5, 6, 7}));
}

}  // namespace
}  // namespace int4pack::testing
