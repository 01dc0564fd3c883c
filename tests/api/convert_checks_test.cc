#include "test_support.h"

// Argument checks of aclnnConvertWeightToINT4PackGetWorkspaceSize (and of its inverse,
// aclnnInt4PackToWeightGetWorkspaceSize): every row of the spec's check table, CANN's public test cases,
// the order in which checks fire, our extra checks, and the executor out-pointer/lifetime rules.
// Each failing case asserts the exact status and that aclGetRecentErrMsg() names the problem.

#include <cstdint>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace int4pack::testing {
namespace {

using Dims = std::vector<int64_t>;

constexpr aclnnStatus kOk = ACLNN_SUCCESS;
constexpr aclnnStatus kNull = ACLNN_ERR_PARAM_NULLPTR;       // 161001
constexpr aclnnStatus kBad = ACLNN_ERR_PARAM_INVALID;        // 161002
constexpr aclnnStatus kInnerNull = ACLNN_ERR_INNER_NULLPTR;  // 561103
constexpr const char *kContiguous = "only support contiguous";

// Passes when `message` contains every one of `needles`; otherwise shows the message.
::testing::AssertionResult Mentions(const std::string &message, const std::vector<std::string> &needles) {
  for (const std::string &n : needles) {
    if (message.find(n) == std::string::npos) {
      return ::testing::AssertionFailure() << "error message \"" << message << "\" does not contain \"" << n << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

// A tensor descriptor to build (or a NULL tensor). Fluent setters keep the case tables short.
struct Desc {
  Dims view;
  aclDataType dtype = ACL_INT32;
  aclFormat format = ACL_FORMAT_ND;
  Dims storage;  // empty: same as view
  Dims strides;  // empty: row-major
  int64_t offset = 0;
  bool null_tensor = false;
  bool null_data = false;

  Desc Storage(Dims s) const {
    Desc d = *this;
    d.storage = std::move(s);
    return d;
  }
  Desc Strides(Dims s) const {
    Desc d = *this;
    d.strides = std::move(s);
    return d;
  }
  Desc Offset(int64_t o) const {
    Desc d = *this;
    d.offset = o;
    return d;
  }
  Desc Format(aclFormat f) const {
    Desc d = *this;
    d.format = f;
    return d;
  }
  Desc NoData() const {
    Desc d = *this;
    d.null_data = true;
    return d;
  }
};

// INT32 ND weight (the carrier).
Desc W(Dims view, aclDataType dtype = ACL_INT32) {
  Desc d;
  d.view = std::move(view);
  d.dtype = dtype;
  return d;
}
// ND output/packed tensor.
Desc Nd(Dims view, aclDataType dtype) { return W(std::move(view), dtype); }
// FRACTAL_NZ output/packed tensor with an explicit storage shape.
Desc Nz(Dims view, aclDataType dtype, Dims storage) {
  return W(std::move(view), dtype).Format(ACL_FORMAT_FRACTAL_NZ).Storage(std::move(storage));
}
Desc NullTensor() {
  Desc d;
  d.null_tensor = true;
  return d;
}

// Owns the aclTensor for a Desc (none for a NULL tensor) over `data`.
class Built {
 public:
  Built(const Desc &d, void *data) {
    if (!d.null_tensor) {
      tensor_ = std::make_unique<Tensor>(d.view, d.dtype, d.format, d.null_data ? nullptr : data, d.storage, d.strides,
                                         d.offset);
    }
  }
  aclTensor *get() const { return tensor_ ? tensor_->get() : nullptr; }

 private:
  std::unique_ptr<Tensor> tensor_;
};

enum class Op { kConvert, kUnpack };

struct CheckCase {
  const char *name;
  Desc weight;  // INT32 carrier: input of Convert, output of Unpack
  Desc packed;  // weightInt4Pack of Convert, packed input of Unpack
  aclnnStatus status;
  std::vector<std::string> needles;  // all must appear in aclGetRecentErrMsg()
  Op op = Op::kConvert;
};

void PrintTo(const CheckCase &c, std::ostream *os) { *os << c.name; }

std::string CaseName(const ::testing::TestParamInfo<CheckCase> &info) { return info.param.name; }

constexpr size_t kArenaBytes = 64 * 1024;  // big enough for every valid case below

// Phase 1 for the case's operator; on unexpected success the executor is destroyed, not leaked.
aclnnStatus Phase1(Op op, aclTensor *weight, aclTensor *packed, uint64_t *ws, aclOpExecutor **ex) {
  return op == Op::kConvert ? aclnnConvertWeightToINT4PackGetWorkspaceSize(weight, packed, ws, ex)
                            : aclnnInt4PackToWeightGetWorkspaceSize(packed, weight, ws, ex);
}

class CheckTest : public AclTest, public ::testing::WithParamInterface<CheckCase> {
 protected:
  // Runs phase 1 on the case; checks status and message. Valid Convert cases also run phase 2, synchronise
  // the stream, and unpack the result into a fresh weight that must equal the original.
  void RunCase(const CheckCase &c) {
    DeviceBuffer weight_mem(kArenaBytes);
    DeviceBuffer packed_mem(kArenaBytes);
    int64_t w_elems = c.status == kOk ? 1 : 0;
    for (int64_t d : c.weight.view) w_elems *= d;  // a (k, n) matrix or a (g, k, n) stack
    const std::vector<int32_t> original = random_weight(1, w_elems, 7);
    if (c.status == kOk) {
      ASSERT_LE(original.size() * sizeof(int32_t), kArenaBytes);
      weight_mem.fill(0);
      weight_mem.upload(original);
      packed_mem.fill(0xAB);
    }
    Built weight(c.weight, weight_mem.get());
    Built packed(c.packed, packed_mem.get());
    uint64_t ws = 12345;
    aclOpExecutor *ex = nullptr;
    const aclnnStatus s = Phase1(c.op, weight.get(), packed.get(), &ws, &ex);
    const std::string msg = recent_error();
    EXPECT_EQ(s, c.status) << msg;
    if (c.status != kOk) {
      EXPECT_TRUE(Mentions(msg, c.needles));
      if (s == kOk) {
        EXPECT_EQ(aclDestroyAclOpExecutor(ex), kOk);
      }
      return;
    }
    if (s != kOk) return;
    ASSERT_NE(ex, nullptr);
    EXPECT_EQ(ws, 0u);
    const aclnnStatus run = c.op == Op::kConvert ? aclnnConvertWeightToINT4Pack(nullptr, ws, ex, stream_)
                                                 : aclnnInt4PackToWeight(nullptr, ws, ex, stream_);
    ASSERT_EQ(run, kOk) << recent_error();
    ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS) << recent_error();
    if (c.op != Op::kConvert) return;
    // Round trip: the packed bytes must decode to the weight we packed.
    DeviceBuffer back_mem(original.size() * sizeof(int32_t));
    back_mem.fill(0x5A);
    Tensor back(c.weight.view, ACL_INT32, ACL_FORMAT_ND, back_mem.get());
    ASSERT_EQ(unpack(packed.get(), back.get(), stream_), kOk) << recent_error();
    EXPECT_EQ(back_mem.download<int32_t>(), original);
  }
};

TEST_P(CheckTest, StatusAndMessage) { RunCase(GetParam()); }

// ---------------------------------------------------------------------------------------------------------
// 1. The spec's check table, row by row.
const CheckCase kCheckTable[] = {
    // Row 1: NULL tensors -> 161001 naming the argument.
    {"Row1NullWeight", NullTensor(), Nd({32, 64}, ACL_INT4), kNull, {"weight is NULL"}},
    {"Row1NullOutput", W({32, 64}), NullTensor(), kNull, {"weightInt4Pack is NULL"}},
    {"Row1BothNullNamesWeight", NullTensor(), NullTensor(), kNull, {"weight is NULL"}},
    // Row 2: non-contiguous views.
    {"Row2WeightTransposedStrides",
     W({64, 32}).Strides({1, 64}).Storage({32, 64}),
     Nd({64, 32}, ACL_INT4),
     kBad,
     {"weight " + std::string(kContiguous), "(1, 64)"}},
    {"Row2WeightPaddedRows",
     W({32, 64}).Strides({128, 1}).Storage({32, 128}),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight " + std::string(kContiguous), "(128, 1)"}},
    {"Row2OutputNotContiguous",
     W({32, 64}),
     Nd({32, 64}, ACL_INT4).Strides({1, 32}),
     kBad,
     {"weightInt4Pack " + std::string(kContiguous), "(1, 32)"}},
    {"Row2Int32OutputNotContiguous",
     W({32, 64}),
     Nd({32, 8}, ACL_INT32).Strides({16, 1}).Storage({32, 16}),
     kBad,
     {"weightInt4Pack " + std::string(kContiguous), "(16, 1)"}},
    // Row 3: dtypes.
    {"Row3WeightInt8", W({32, 64}, ACL_INT8), Nd({32, 64}, ACL_INT4), kBad, {"weight dtype", "INT8", "INT32"}},
    {"Row3WeightFloat16", W({32, 64}, ACL_FLOAT16), Nd({32, 64}, ACL_INT4), kBad, {"weight dtype", "FLOAT16"}},
    {"Row3WeightInt4", W({32, 64}, ACL_INT4), Nd({32, 64}, ACL_INT4), kBad, {"weight dtype", "but got INT4"}},
    {"Row3OutputInt8", W({32, 64}), Nd({32, 64}, ACL_INT8), kBad, {"weightInt4Pack dtype", "INT8", "[INT4, INT32]"}},
    {"Row3OutputUint8", W({32, 64}), Nd({32, 32}, ACL_UINT8), kBad, {"weightInt4Pack dtype", "UINT8"}},
    {"Row3OutputFloat4", W({32, 64}), Nd({32, 64}, ACL_FLOAT4_E2M1), kBad, {"weightInt4Pack dtype", "FLOAT4_E2M1"}},
    // Row 4: formats.
    {"Row4WeightNz",
     W({32, 64}).Format(ACL_FORMAT_FRACTAL_NZ).Storage({8, 2, 16, 8}),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight format", "ND", "FRACTAL_NZ"}},
    {"Row4WeightNchw",
     W({32, 64}).Format(ACL_FORMAT_NCHW),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight format", "but got NCHW"}},
    {"Row4OutputNchw",
     W({32, 64}),
     Nd({32, 64}, ACL_INT4).Format(ACL_FORMAT_NCHW),
     kBad,
     {"weightInt4Pack format", "but got NCHW"}},
    {"Row4OutputFractalZ",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {1, 2, 16, 64}).Format(ACL_FORMAT_FRACTAL_Z),
     kBad,
     {"weightInt4Pack format", "but got FRACTAL_Z"}},
    {"Row4OutputNzC0_16",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {1, 2, 16, 64}).Format(ACL_FORMAT_FRACTAL_NZ_C0_16),
     kBad,
     {"weightInt4Pack format", "FRACTAL_NZ_C0_16"}},
    // Row 5: ranks, weight first, then output.
    {"Row5WeightRank0", W({}), Nd({32, 64}, ACL_INT4), kBad, {"weight view must have 2 to 3 dims", "[2, 3]", "got 0"}},
    {"Row5WeightRank1",
     W({64}),
     Nd({64}, ACL_INT4),
     kBad,
     {"weight view must have 2 to 3 dims", "[2, 3]", "got 1", "(64,)"}},
    // Newer CANN takes a (g, k, n) stack: each matrix packed on its own.
    {"Row5WeightRank3IsAStack", W({2, 32, 64}), Nd({2, 32, 64}, ACL_INT4), kOk, {}},
    {"Row5OutputRank1",
     W({32, 64}),
     Nd({2048}, ACL_INT4),
     kBad,
     {"weightInt4Pack view must have 2 dims", "[2, 2]", "got 1", "(2048,)"}},
    {"Row5OutputRank3",
     W({32, 64}),
     Nd({1, 32, 64}, ACL_INT4),
     kBad,
     {"weightInt4Pack view must have 2 dims", "got 3", "(1, 32, 64)"}},
    // Row 6: last-dim rule and output view.
    {"Row6Int4OddDim1", W({32, 63}), Nd({32, 63}, ACL_INT4), kBad, {"weight dim1 must be even", "(32, 63)", "63"}},
    {"Row6Int4NzOddDim1", W({32, 63}), Nz({32, 63}, ACL_INT4, {1, 2, 16, 64}), kBad, {"even", "dim1 = 63"}},
    {"Row6Int4ViewColsDiffer",
     W({32, 64}),
     Nd({32, 32}, ACL_INT4),
     kBad,
     {"weightInt4Pack view shape must be", "(32, 64)", "but got (32, 32)"}},
    {"Row6Int4ViewRowsDiffer",
     W({32, 64}),
     Nd({16, 64}, ACL_INT4),
     kBad,
     {"weightInt4Pack view shape must be", "(32, 64)", "but got (16, 64)"}},
    {"Row6Int4ViewTransposed", W({32, 64}), Nd({64, 32}, ACL_INT4), kBad, {"(32, 64)", "but got (64, 32)"}},
    {"Row6Int32Dim1NotMultipleOf8",
     W({32, 74}),
     Nd({32, 9}, ACL_INT32),
     kBad,
     {"weight dim1 must be a multiple of 8", "INT32", "(32, 74)", "74"}},
    {"Row6Int32Dim1Even", W({32, 12}), Nd({32, 1}, ACL_INT32), kBad, {"multiple of 8", "12"}},
    {"Row6Int32ViewNotDim1Over8",
     W({32, 64}),
     Nd({32, 32}, ACL_INT32),
     kBad,
     {"weightInt4Pack view shape must be", "(32, 8)", "but got (32, 32)"}},
    {"Row6Int32ViewSameAsWeight", W({32, 64}), Nd({32, 64}, ACL_INT32), kBad, {"(32, 8)", "but got (32, 64)"}},
    {"Row6Int32NzViewNotDim1Over8",
     W({32, 64}),
     Nz({32, 64}, ACL_INT32, {1, 2, 16, 8}),
     kBad,
     {"(32, 8)", "but got (32, 64)"}},
    // Row 7: NZ storage shape (expected and actual shown).
    {"Row7Int4Nz2DStorage",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {32, 64}),
     kBad,
     {"weightInt4Pack FRACTAL_NZ storage shape", "(1, 2, 16, 64)", "2-D (32, 64)"}},
    {"Row7Int4Nz3DStorage",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {2, 16, 64}),
     kBad,
     {"(1, 2, 16, 64)", "3-D (2, 16, 64)"}},
    {"Row7Int4Nz5DStorage",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {1, 1, 2, 16, 64}),
     kBad,
     {"(1, 2, 16, 64)", "5-D (1, 1, 2, 16, 64)"}},
    {"Row7Int4NzTooFewRowBlocks",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {1, 1, 16, 64}),
     kBad,
     {"(1, 2, 16, 64)", "4-D (1, 1, 16, 64)"}},
    {"Row7Int4NzTooManyColBlocks",
     W({17, 72}),
     Nz({17, 72}, ACL_INT4, {1, 2, 16, 64}),
     kBad,
     {"(2, 2, 16, 64)", "(1, 2, 16, 64)"}},
    {"Row7Int4NzWithInt32C0",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {1, 2, 16, 8}),
     kBad,
     {"(1, 2, 16, 64)", "(1, 2, 16, 8)"}},
    {"Row7Int32Nz2DStorage",
     W({32, 64}),
     Nz({32, 8}, ACL_INT32, {32, 8}),
     kBad,
     {"FRACTAL_NZ storage shape", "(1, 2, 16, 8)", "2-D (32, 8)"}},
    {"Row7Int32NzWithInt4C0",
     W({32, 64}),
     Nz({32, 8}, ACL_INT32, {1, 2, 16, 64}),
     kBad,
     {"(1, 2, 16, 8)", "(1, 2, 16, 64)"}},
    // Row 8: empty weights.
    {"Row8EmptyRows", W({0, 64}), Nd({0, 64}, ACL_INT4), kBad, {"weight must not be empty", "(0, 64)"}},
    {"Row8EmptyCols", W({32, 0}), Nd({32, 0}, ACL_INT4), kBad, {"weight must not be empty", "(32, 0)"}},
    {"Row8EmptyRowsInt32", W({0, 64}), Nd({0, 8}, ACL_INT32), kBad, {"must not be empty", "(0, 64)"}},
    {"Row8EmptyColsInt32Nz", W({32, 0}), Nz({32, 0}, ACL_INT32, {0, 2, 16, 8}), kBad, {"must not be empty", "(32, 0)"}},
    {"Row8EmptyRowsInt4Nz", W({0, 64}), Nz({0, 64}, ACL_INT4, {1, 0, 16, 64}), kBad, {"must not be empty", "(0, 64)"}},
};
INSTANTIATE_TEST_SUITE_P(CheckTable, CheckTest, ::testing::ValuesIn(kCheckTable), CaseName);

// ---------------------------------------------------------------------------------------------------------
// 2. CANN's public test cases (161002 ones, then the four valid ones).
const CheckCase kCannCases[] = {
    {"Int8Weight", W({32, 64}, ACL_INT8), Nd({32, 64}, ACL_INT4), kBad, {"weight dtype", "INT8"}},
    {"Int8Output", W({32, 64}), Nd({32, 64}, ACL_INT8), kBad, {"weightInt4Pack dtype", "INT8"}},
    {"FloatWeightToInt4", W({32, 64}, ACL_FLOAT), Nd({32, 64}, ACL_INT4), kBad, {"weight dtype", "FLOAT"}},
    {"NzFormatWeight",
     W({32, 64}).Format(ACL_FORMAT_FRACTAL_NZ).Storage({8, 2, 16, 8}),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight format", "FRACTAL_NZ"}},
    {"Weight1D_64", W({64}), Nd({64}, ACL_INT4), kBad, {"weight view must have 2 to 3 dims", "got 1"}},
    {"Weight4D_1x1x32x64",
     W({1, 1, 32, 64}),
     Nd({1, 1, 32, 64}, ACL_INT4),
     kBad,
     {"weight view must have 2 to 3 dims", "got 4", "(1, 1, 32, 64)"}},
    {"Weight32x63ToInt4", W({32, 63}), Nd({32, 63}, ACL_INT4), kBad, {"even", "63"}},
    {"Weight32x64ToInt4_32x32", W({32, 64}), Nd({32, 32}, ACL_INT4), kBad, {"(32, 64)", "(32, 32)"}},
    {"Weight32x74ToInt32", W({32, 74}), Nd({32, 9}, ACL_INT32), kBad, {"multiple of 8", "74"}},
    {"Weight32x64ToInt32_32x32", W({32, 64}), Nd({32, 32}, ACL_INT32), kBad, {"(32, 8)", "(32, 32)"}},
    {"Int4NzOutput2DStorage",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {32, 64}),
     kBad,
     {"storage shape", "(1, 2, 16, 64)", "(32, 64)"}},
    {"Int32NzOutput32x8_2DStorage",
     W({32, 64}),
     Nz({32, 8}, ACL_INT32, {32, 8}),
     kBad,
     {"storage shape", "(1, 2, 16, 8)", "(32, 8)"}},
    {"Int4NzStorage1x1x16x64",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {1, 1, 16, 64}),
     kBad,
     {"storage shape", "(1, 2, 16, 64)", "(1, 1, 16, 64)"}},
    {"TransposedWeightView64x32",
     W({64, 32}).Strides({1, 64}).Storage({32, 64}),
     Nd({64, 32}, ACL_INT4),
     kBad,
     {kContiguous}},
    // Valid: phase 1 returns 0, phase 2 + synchronize run, the result round-trips.
    {"ValidInt4Nd", W({32, 64}), Nd({32, 64}, ACL_INT4), kOk, {}},
    {"ValidInt32Nd", W({32, 64}), Nd({32, 8}, ACL_INT32), kOk, {}},
    {"ValidInt4Nz", W({32, 64}), Nz({32, 64}, ACL_INT4, {1, 2, 16, 64}), kOk, {}},
    {"ValidInt32Nz", W({32, 64}), Nz({32, 8}, ACL_INT32, {1, 2, 16, 8}), kOk, {}},
};
INSTANTIATE_TEST_SUITE_P(Cann, CheckTest, ::testing::ValuesIn(kCannCases), CaseName);

// ---------------------------------------------------------------------------------------------------------
// 3. Two checks fail at once: the earlier one wins.
const CheckCase kOrderCases[] = {
    {"NullOutputBeatsBadWeightDtype", W({32, 64}, ACL_INT8), NullTensor(), kNull, {"weightInt4Pack is NULL"}},
    {"NullWeightBeatsNonContiguousOutput",
     NullTensor(),
     Nd({32, 64}, ACL_INT4).Strides({1, 32}),
     kNull,
     {"weight is NULL"}},
    {"NonContiguousBeatsWeightDtype",
     W({64, 32}, ACL_FLOAT).Strides({1, 64}).Storage({32, 64}),
     Nd({64, 32}, ACL_INT4),
     kBad,
     {"weight " + std::string(kContiguous)}},
    {"NonContiguousOutputBeatsWeightDtype",
     W({32, 64}, ACL_INT8),
     Nd({32, 64}, ACL_INT4).Strides({1, 32}),
     kBad,
     {"weightInt4Pack " + std::string(kContiguous)}},
    {"NonContiguousBeatsRank",
     W({2, 32, 64}).Strides({1, 2, 64}),
     Nd({2, 32, 64}, ACL_INT4),
     kBad,
     {"weight " + std::string(kContiguous)}},
    {"WeightDtypeBeatsOutputDtype", W({32, 64}, ACL_FLOAT), Nd({32, 64}, ACL_INT8), kBad, {"weight dtype", "FLOAT"}},
    {"WeightDtypeBeatsWeightFormat",
     W({32, 64}, ACL_INT8).Format(ACL_FORMAT_NCHW),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight dtype", "INT8"}},
    {"OutputDtypeBeatsWeightFormat",
     W({32, 64}).Format(ACL_FORMAT_NCHW),
     Nd({32, 64}, ACL_INT8),
     kBad,
     {"weightInt4Pack dtype", "INT8"}},
    {"DtypeBeatsRank", W({64}, ACL_FLOAT), Nd({64}, ACL_INT4), kBad, {"weight dtype", "FLOAT"}},
    {"OutputDtypeBeatsRank", W({64}), Nd({64}, ACL_FLOAT16), kBad, {"weightInt4Pack dtype", "FLOAT16"}},
    {"FormatBeatsRank",
     W({1, 1, 32, 64}).Format(ACL_FORMAT_NCHW),
     Nd({1, 1, 32, 64}, ACL_INT4),
     kBad,
     {"weight format", "but got NCHW"}},
    {"OutputFormatBeatsRank",
     W({64}),
     Nd({64}, ACL_INT4).Format(ACL_FORMAT_NHWC),
     kBad,
     {"weightInt4Pack format", "NHWC"}},
    {"WeightRankBeatsOutputRank", W({64}), Nd({1, 32, 64}, ACL_INT4), kBad, {"weight view must have 2 to 3 dims"}},
    {"OutputRankBeatsDim1Rule", W({32, 63}), Nd({1, 32, 63}, ACL_INT4), kBad, {"weightInt4Pack view must have 2 dims"}},
    {"Dim1RuleBeatsOutputView", W({32, 74}), Nd({32, 32}, ACL_INT32), kBad, {"multiple of 8"}},
    {"OutputViewBeatsNzStorage",
     W({32, 64}),
     Nz({32, 32}, ACL_INT4, {32, 32}),
     kBad,
     {"weightInt4Pack view shape must be"}},
    {"NzStorageBeatsEmpty", W({0, 64}), Nz({0, 64}, ACL_INT4, {0, 64}), kBad, {"FRACTAL_NZ storage shape"}},
    {"EmptyBeatsNullData", W({0, 64}).NoData(), Nd({0, 64}, ACL_INT4).NoData(), kBad, {"must not be empty"}},
    // A private format counts as contiguous, so the format check, not contiguity, reports it.
    {"NzWeightStridesIgnoredFormatReported",
     W({32, 64}).Format(ACL_FORMAT_FRACTAL_NZ).Strides({1, 32}).Storage({8, 2, 16, 8}),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight format", "FRACTAL_NZ"}},
};
INSTANTIATE_TEST_SUITE_P(CheckOrder, CheckTest, ::testing::ValuesIn(kOrderCases), CaseName);

// ---------------------------------------------------------------------------------------------------------
// 4. Size-1 dims are ignored by the contiguity check; NZ output strides are not checked. All valid.
const CheckCase kContiguityCases[] = {
    {"WeightRowOfOneAnyStride", W({1, 64}).Strides({7, 1}), Nd({1, 64}, ACL_INT4), kOk, {}},
    {"WeightRowOfOneZeroStride", W({1, 64}).Strides({0, 1}), Nd({1, 64}, ACL_INT4), kOk, {}},
    {"Int32OutputColumnOfOneAnyStride", W({32, 8}), Nd({32, 1}, ACL_INT32).Strides({1, 99}), kOk, {}},
    {"Int4OutputRowOfOneAnyStride", W({1, 64}), Nd({1, 64}, ACL_INT4).Strides({5, 1}), kOk, {}},
    {"Int4NzOutputStridesIgnored", W({32, 64}), Nz({32, 64}, ACL_INT4, {1, 2, 16, 64}).Strides({1, 32}), kOk, {}},
    {"Int32NzOutputStridesIgnored", W({32, 64}), Nz({32, 8}, ACL_INT32, {1, 2, 16, 8}).Strides({3, 5}), kOk, {}},
};
INSTANTIATE_TEST_SUITE_P(CheckContiguity, CheckTest, ::testing::ValuesIn(kContiguityCases), CaseName);

// ---------------------------------------------------------------------------------------------------------
// 6. Our checks beyond CANN's list: refused with a status, never a crash.
constexpr int64_t kHuge = int64_t{1} << 62;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
const CheckCase kExtraCases[] = {
    {"ExtraNegativeDim0", W({-2, 64}), Nd({-2, 64}, ACL_INT4), kBad, {"weight dims must be positive", "(-2, 64)"}},
    {"ExtraNegativeDim1", W({32, -2}), Nd({32, -2}, ACL_INT4), kBad, {"weight dims must be positive", "(32, -2)"}},
    {"ExtraNegativeDim1Int32",
     W({32, -8}).Strides({-8, 1}),
     Nd({32, -1}, ACL_INT32).Strides({-1, 1}),
     kBad,
     {"must be positive", "(32, -8)"}},
    {"ExtraNegativeDimNz",
     W({-16, 64}),
     Nz({-16, 64}, ACL_INT4, {1, -1, 16, 64}),
     kBad,
     {"must be positive", "(-16, 64)"}},
    {"ExtraMinDim1", W({4, kMin}), Nd({4, kMin}, ACL_INT4), kBad, {"must be positive"}},
    {"ExtraNullWeightData", W({32, 64}).NoData(), Nd({32, 64}, ACL_INT4), kNull, {"weight data address is NULL"}},
    {"ExtraNullOutputData",
     W({32, 64}),
     Nd({32, 64}, ACL_INT4).NoData(),
     kNull,
     {"weightInt4Pack data address is NULL"}},
    {"ExtraNullNzOutputData",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {1, 2, 16, 64}).NoData(),
     kNull,
     {"weightInt4Pack data address is NULL"}},
    {"ExtraWeightStorageTooSmall",
     W({32, 64}).Storage({32, 32}),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight storage shape (32, 32) does not hold its view (32, 64)"}},
    {"ExtraOutputStorageTooSmall",
     W({32, 64}),
     Nd({32, 64}, ACL_INT4).Storage({16, 64}),
     kBad,
     {"weightInt4Pack storage shape (16, 64) does not hold its view (32, 64)"}},
    {"ExtraInt32OutputStorageTooSmall",
     W({32, 64}),
     Nd({32, 8}, ACL_INT32).Storage({8}),
     kBad,
     {"weightInt4Pack storage shape (8,) does not hold"}},
    {"ExtraWeightStorageNegative",
     W({32, 64}).Storage({-32, -64}),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight storage shape (-32, -64)"}},
    {"ExtraWeightStorageOverflows",
     W({32, 64}).Storage({kHuge, kHuge}),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight storage shape", "does not hold"}},
    {"ExtraWeightOffsetPastStorage",
     W({32, 64}).Offset(1),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight storage shape (32, 64) does not hold its view (32, 64) at offset 1"}},
    {"ExtraWeightNegativeOffset",
     W({32, 64}).Offset(-1),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight offset must not be negative", "-1"}},
    {"ExtraOutputNegativeOffset",
     W({32, 64}),
     Nd({32, 64}, ACL_INT4).Offset(-2),
     kBad,
     {"weightInt4Pack offset must not be negative", "-2"}},
    {"ExtraWeightMinOffset", W({32, 64}).Offset(kMin), Nd({32, 64}, ACL_INT4), kBad, {"must not be negative"}},
    {"ExtraOutputOddInt4Offset",
     W({32, 64}),
     Nd({32, 64}, ACL_INT4).Storage({33, 64}).Offset(1),
     kBad,
     {"offset must be even"}},
    {"ExtraNzOutputOffset",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {1, 2, 16, 64}).Offset(2),
     kBad,
     {"offset must be 0 for FRACTAL_NZ"}},
    {"ExtraOffsetHugeStorage",
     W({32, 64}).Storage({kMax}).Offset(kMax),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"does not hold"}},
    {"ExtraShapeOverflows", W({kHuge, 64}), Nd({kHuge, 64}, ACL_INT4), kBad, {"too large", "4611686018427387904"}},
    {"ExtraShapeOverflowsInt32", W({kHuge, 64}), Nd({kHuge, 8}, ACL_INT32), kBad, {"too large"}},
    {"ExtraShapeOverflowsNz", W({kHuge, 64}), Nz({kHuge, 64}, ACL_INT4, {1, kHuge / 16, 16, 64}), kBad, {"too large"}},
    {"ExtraMaxRowsNz", W({kMax, 64}), Nz({kMax, 64}, ACL_INT4, {1, kMax / 16 + 1, 16, 64}), kBad, {"too large"}},
    {"ExtraMaxColsNz", W({1, kMax - 1}), Nz({1, kMax - 1}, ACL_INT4, {kMax / 64 + 1, 1, 16, 64}), kBad, {"too large"}},
    {"ExtraElementBytesOverflow",
     W({int64_t{1} << 31, int64_t{1} << 31}),
     Nd({int64_t{1} << 31, int64_t{1} << 31}, ACL_INT4),
     kBad,
     {"too large"}},
};
INSTANTIATE_TEST_SUITE_P(ExtraChecks, CheckTest, ::testing::ValuesIn(kExtraCases), CaseName);

// ---------------------------------------------------------------------------------------------------------
// 7. The inverse operator: same checks, argument names "packed" and "weight".
const CheckCase kUnpackCases[] = {
    {"UnpackNullPacked",
     W({32, 64}),
     NullTensor(),
     kNull,
     {"aclnnInt4PackToWeightGetWorkspaceSize", "packed is NULL"},
     Op::kUnpack},
    {"UnpackNullWeight", NullTensor(), Nd({32, 64}, ACL_INT4), kNull, {"weight is NULL"}, Op::kUnpack},
    // Checks follow argument order: packed (the first argument) is reported before weight.
    {"UnpackBothNullNamesPackedFirst", NullTensor(), NullTensor(), kNull, {"packed is NULL"}, Op::kUnpack},
    {"UnpackBothDtypesBadNamesPackedFirst",
     W({32, 64}, ACL_FLOAT),
     Nd({32, 64}, ACL_INT8),
     kBad,
     {"packed dtype"},
     Op::kUnpack},
    {"UnpackPackedDtypeInt8",
     W({32, 64}),
     Nd({32, 64}, ACL_INT8),
     kBad,
     {"packed dtype", "INT8", "[INT4, INT32]"},
     Op::kUnpack},
    {"UnpackWeightDtypeFloat",
     W({32, 64}, ACL_FLOAT),
     Nd({32, 64}, ACL_INT4),
     kBad,
     {"weight dtype", "FLOAT"},
     Op::kUnpack},
    {"UnpackPackedNotContiguous",
     W({32, 64}),
     Nd({32, 64}, ACL_INT4).Strides({1, 32}),
     kBad,
     {"packed " + std::string(kContiguous)},
     Op::kUnpack},
    {"UnpackPackedNz2DStorage",
     W({32, 64}),
     Nz({32, 64}, ACL_INT4, {32, 64}),
     kBad,
     {"packed FRACTAL_NZ storage shape", "(1, 2, 16, 64)", "2-D (32, 64)"},
     Op::kUnpack},
    {"UnpackPackedNzTooFewBlocks",
     W({32, 64}),
     Nz({32, 8}, ACL_INT32, {1, 1, 16, 8}),
     kBad,
     {"(1, 2, 16, 8)", "(1, 1, 16, 8)"},
     Op::kUnpack},
    {"UnpackPackedViewWrong",
     W({32, 64}),
     Nd({32, 32}, ACL_INT4),
     kBad,
     {"packed view shape must be", "(32, 64)"},
     Op::kUnpack},
    {"UnpackEmpty", W({0, 64}), Nd({0, 64}, ACL_INT4), kBad, {"weight must not be empty"}, Op::kUnpack},
    {"UnpackNullWeightData",
     W({32, 64}).NoData(),
     Nd({32, 64}, ACL_INT4),
     kNull,
     {"weight data address is NULL"},
     Op::kUnpack},
    {"UnpackValidInt32Nz", W({32, 64}), Nz({32, 8}, ACL_INT32, {1, 2, 16, 8}), kOk, {}, Op::kUnpack},
};
INSTANTIATE_TEST_SUITE_P(UnpackChecks, CheckTest, ::testing::ValuesIn(kUnpackCases), CaseName);

// ---------------------------------------------------------------------------------------------------------
// 5. Executor out-pointers and lifetime.
class ExecutorCheckTest : public AclTest {
 protected:
  // Buffers and tensors live between aclInit and aclFinalize.
  void SetUp() override {
    AclTest::SetUp();
    weight_mem_ = std::make_unique<DeviceBuffer>(32 * 64 * sizeof(int32_t));
    out_mem_ = std::make_unique<DeviceBuffer>(32 * 64 / 2);
    weight_mem_->fill(0);
    weight_ = std::make_unique<Tensor>(Dims{32, 64}, ACL_INT32, ACL_FORMAT_ND, weight_mem_->get());
    out_ = std::make_unique<Tensor>(Dims{32, 64}, ACL_INT4, ACL_FORMAT_ND, out_mem_->get());
  }
  void TearDown() override {
    out_.reset();
    weight_.reset();
    out_mem_.reset();
    weight_mem_.reset();
    AclTest::TearDown();
  }
  aclOpExecutor *MakeExecutor() {
    uint64_t ws = 0;
    aclOpExecutor *ex = nullptr;
    EXPECT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(weight_->get(), out_->get(), &ws, &ex), kOk)
        << recent_error();
    EXPECT_NE(ex, nullptr);
    return ex;
  }

  std::unique_ptr<DeviceBuffer> weight_mem_;
  std::unique_ptr<DeviceBuffer> out_mem_;
  std::unique_ptr<Tensor> weight_;
  std::unique_ptr<Tensor> out_;
};

TEST_F(ExecutorCheckTest, NullWorkspaceSizeIsRefused) {
  aclOpExecutor *ex = nullptr;
  EXPECT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(weight_->get(), out_->get(), nullptr, &ex), kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"workspaceSize is NULL"}));
  EXPECT_EQ(ex, nullptr);
}

TEST_F(ExecutorCheckTest, NullExecutorOutPointerIsRefused) {
  uint64_t ws = 0;
  EXPECT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(weight_->get(), out_->get(), &ws, nullptr), kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"executor is NULL"}));
}

TEST_F(ExecutorCheckTest, UnpackNullOutPointersAreRefused) {
  uint64_t ws = 0;
  aclOpExecutor *ex = nullptr;
  EXPECT_EQ(aclnnInt4PackToWeightGetWorkspaceSize(out_->get(), weight_->get(), nullptr, &ex), kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"workspaceSize is NULL"}));
  EXPECT_EQ(aclnnInt4PackToWeightGetWorkspaceSize(out_->get(), weight_->get(), &ws, nullptr), kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"executor is NULL"}));
  EXPECT_EQ(aclnnInt4PackToWeight(nullptr, 0, nullptr, stream_), kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"aclnnInt4PackToWeight", "executor is NULL"}));
}

TEST_F(ExecutorCheckTest, Phase2NullExecutorIsRefused) {
  EXPECT_EQ(aclnnConvertWeightToINT4Pack(nullptr, 0, nullptr, stream_), kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"aclnnConvertWeightToINT4Pack", "executor is NULL"}));
}

TEST_F(ExecutorCheckTest, Phase2TwiceOnOneShotExecutorIsRefused) {
  aclOpExecutor *ex = MakeExecutor();
  ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, 0, ex, stream_), kOk) << recent_error();
  EXPECT_EQ(aclnnConvertWeightToINT4Pack(nullptr, 0, ex, stream_), kBad);
  EXPECT_TRUE(Mentions(recent_error(), {"executor is not live"}));
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  // A consumed executor can neither be made repeatable nor destroyed.
  EXPECT_EQ(aclSetAclOpExecutorRepeatable(ex), kBad);
  EXPECT_TRUE(Mentions(recent_error(), {"aclSetAclOpExecutorRepeatable", "not live"}));
  EXPECT_EQ(aclDestroyAclOpExecutor(ex), kBad);
  EXPECT_TRUE(Mentions(recent_error(), {"aclDestroyAclOpExecutor", "not live"}));
}

TEST_F(ExecutorCheckTest, GarbageExecutorHandleIsRefused) {
  auto *bogus = reinterpret_cast<aclOpExecutor *>(uintptr_t{0x1001});
  EXPECT_EQ(aclnnConvertWeightToINT4Pack(nullptr, 0, bogus, stream_), kBad);
  EXPECT_TRUE(Mentions(recent_error(), {"not live"}));
  auto *unknown = reinterpret_cast<aclOpExecutor *>(uintptr_t{0x7fff0000});
  EXPECT_EQ(aclnnConvertWeightToINT4Pack(nullptr, 0, unknown, stream_), kBad);
  EXPECT_EQ(aclDestroyAclOpExecutor(unknown), kBad);
  EXPECT_EQ(aclSetAclOpExecutorRepeatable(bogus), kBad);
}

TEST_F(ExecutorCheckTest, NullExecutorToRepeatableAndDestroyIs561103) {
  EXPECT_EQ(aclSetAclOpExecutorRepeatable(nullptr), kInnerNull);
  EXPECT_TRUE(Mentions(recent_error(), {"aclSetAclOpExecutorRepeatable", "executor is NULL"}));
  EXPECT_EQ(aclDestroyAclOpExecutor(nullptr), kInnerNull);
  EXPECT_TRUE(Mentions(recent_error(), {"aclDestroyAclOpExecutor", "executor is NULL"}));
}

TEST_F(ExecutorCheckTest, RepeatableRunsThreeTimesThenDestroyed) {
  std::vector<int32_t> w = random_weight(32, 64, 11);
  weight_mem_->upload(w);
  aclOpExecutor *ex = MakeExecutor();
  ASSERT_EQ(aclSetAclOpExecutorRepeatable(ex), kOk) << recent_error();
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    out_mem_->fill(0xAB);
    ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, 0, ex, stream_), kOk) << recent_error();
    ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
    const std::vector<uint8_t> bytes = out_mem_->download<uint8_t>();
    ASSERT_EQ(bytes.size(), 1024u);
    EXPECT_EQ(bytes[0], static_cast<uint8_t>((w[0] & 0xF) | ((w[1] & 0xF) << 4)));
    EXPECT_EQ(bytes[1023], static_cast<uint8_t>((w[2046] & 0xF) | ((w[2047] & 0xF) << 4)));
  }
  EXPECT_EQ(aclDestroyAclOpExecutor(ex), kOk) << recent_error();
  EXPECT_EQ(aclDestroyAclOpExecutor(ex), kBad);
  EXPECT_TRUE(Mentions(recent_error(), {"aclDestroyAclOpExecutor", "not live"}));
  EXPECT_EQ(aclnnConvertWeightToINT4Pack(nullptr, 0, ex, stream_), kBad);
}

TEST_F(ExecutorCheckTest, DestroyedOneShotExecutorCannotRun) {
  aclOpExecutor *ex = MakeExecutor();
  EXPECT_EQ(aclDestroyAclOpExecutor(ex), kOk) << recent_error();
  EXPECT_EQ(aclnnConvertWeightToINT4Pack(nullptr, 0, ex, stream_), kBad);
  EXPECT_TRUE(Mentions(recent_error(), {"not live"}));
}

TEST_F(ExecutorCheckTest, FailedPhase1LeavesExecutorUntouched) {
  uint64_t ws = 777;
  aclOpExecutor *ex = nullptr;
  EXPECT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(nullptr, out_->get(), &ws, &ex), kNull);
  EXPECT_EQ(ex, nullptr);
  EXPECT_TRUE(Mentions(recent_error(), {"aclnnConvertWeightToINT4PackGetWorkspaceSize", "weight is NULL"}));
}

}  // namespace
}  // namespace int4pack::testing
