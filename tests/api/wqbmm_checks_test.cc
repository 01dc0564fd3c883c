// Argument checks of aclnnWeightQuantBatchMatmulV2GetWorkspaceSize: CANN's unit-test cases on A2/A3 (the
// spec's list), the order in which checks fire, and our checks beyond CANN's. Phase 1 only: it reads no
// data, so the descriptors point at a small arena whatever their shapes say (none of these runs).
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "aclnnop/aclnn_weight_quant_batch_matmul_v2.h"
#include "test_support.h"

namespace int4pack::testing {
namespace {

using Dims = std::vector<int64_t>;

constexpr aclnnStatus kOk = ACLNN_SUCCESS;
constexpr aclnnStatus kNull = ACLNN_ERR_PARAM_NULLPTR;
constexpr aclnnStatus kBad = ACLNN_ERR_PARAM_INVALID;

struct Spec {
  Spec(Dims v, aclDataType d = ACL_FLOAT16, aclFormat f = ACL_FORMAT_ND, Dims s = {}, Dims st = {})
      : view(std::move(v)), dtype(d), format(f), storage(std::move(s)), strides(std::move(st)) {}
  Dims view;
  aclDataType dtype;
  aclFormat format;
  Dims storage;  // empty: the view
  Dims strides;  // empty: row-major
  int64_t offset = 0;
  bool no_data = false;
};

// The transposed (rows, cols) view of a stored (cols, rows) matrix.
Spec transposed(Spec s) {
  s.storage = {s.view[1], s.view[0]};
  s.strides = {1, s.view[0]};
  return s;
}

struct Case {
  std::string name;
  std::optional<Spec> x, weight, scale, offset, quant_scale, quant_offset, bias, y;
  int group = 0;
  aclnnStatus status = kOk;
  std::vector<std::string> needles;

  Case with(std::string n, aclnnStatus s, std::vector<std::string> words = {}) const {
    Case c = *this;
    c.name = std::move(n);
    c.status = s;
    c.needles = std::move(words);
    return c;
  }
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

// CANN's base case: x F16 (96, 11264), weight INT8 (11264, 1664) ND, scale/offset F16 (1, 1664), quantScale
// UINT64 (1, 1664), quantOffset F32 (1, 1664), bias F16 (1, 1664), group 0, y INT8 (96, 1664).
Case base() {
  Case c;
  c.x = Spec{{96, 11264}};
  c.weight = Spec{{11264, 1664}, ACL_INT8};
  c.scale = Spec{{1, 1664}};
  c.offset = Spec{{1, 1664}};
  c.quant_scale = Spec{{1, 1664}, ACL_UINT64};
  c.quant_offset = Spec{{1, 1664}, ACL_FLOAT};
  c.bias = Spec{{1, 1664}};
  c.y = Spec{{96, 1664}, ACL_INT8};
  return c;
}

// Float output: no quant parameters, y of x's type.
Case float_out(Case c) {
  c.quant_scale.reset();
  c.quant_offset.reset();
  c.y->dtype = c.x->dtype;
  return c;
}

Case bf16() {
  Case c = float_out(base());
  c.x->dtype = ACL_BF16;
  c.scale->dtype = ACL_BF16;
  c.offset->dtype = ACL_BF16;
  c.bias->dtype = ACL_FLOAT;
  c.y->dtype = ACL_BF16;
  return c;
}

// INT4 FRACTAL_NZ per-group: x F16 (4, 3584), INT4 (3584, 8192), scale (56, 8192), group 64, y F16 (4, 8192).
Case nz_group() {
  Case c;
  c.x = Spec{{4, 3584}};
  c.weight = Spec{{3584, 8192}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, {128, 224, 16, 64}};
  c.scale = Spec{{56, 8192}};
  c.group = 64;
  c.y = Spec{{4, 8192}};
  return c;
}

// INT4 FRACTAL_NZ per-channel: the transposed INT4 (72, 17) (stored (17, 72)), scale (1, 17) transposed,
// y F16 (4, 17).
Case nz_channel() {
  Case c;
  c.x = Spec{{4, 72}};
  c.weight = Spec{{72, 17}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, {2, 2, 16, 64}, {1, 72}};
  c.scale = Spec{{1, 17}, ACL_FLOAT16, ACL_FORMAT_ND, {17, 1}, {1, 1}};
  c.y = Spec{{4, 17}};
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  const Case b = base();
  // ---- CANN's cases that succeed.
  v.push_back(b.with("Base", kOk));
  v.push_back(bf16().with("Bf16NoQuantFloatBias", kOk));
  {
    Case c = b;
    c.quant_scale->dtype = ACL_INT64;
    v.push_back(c.with("QuantScaleInt64", kOk));
  }
  {
    Case c = b;
    c.weight = Spec{{11264, 1664}, ACL_INT8, ACL_FORMAT_FRACTAL_NZ, {52, 704, 16, 32}};
    v.push_back(c.with("Int8NzWeight", kOk));
  }
  {
    Case c = float_out(b);
    c.weight = Spec{{11264, 208}, ACL_INT32};
    v.push_back(c.with("Int32WeightFloat16Y", kOk));
  }
  {
    Case c = b;
    c.x = transposed(*c.x);
    v.push_back(c.with("TransposedX", kOk));
    c = b;
    c.weight = transposed(*c.weight);
    v.push_back(c.with("TransposedWeight", kOk));
    c.scale = transposed(*c.scale);
    c.offset = transposed(*c.offset);
    v.push_back(c.with("TransposedWeightScaleAndOffset", kOk));
    c = b;
    c.scale = transposed(*c.scale);  // (1, n) with strides (1, 1): contiguous as well
    v.push_back(c.with("TransposedScale", kOk));
    c = b;
    c.offset = transposed(*c.offset);
    v.push_back(c.with("TransposedOffset", kOk));
  }
  v.push_back(nz_group().with("Int4NzPerGroup", kOk));
  {
    Case c = nz_group();
    c.weight = Spec{{3584, 1024}, ACL_INT32, ACL_FORMAT_FRACTAL_NZ, {128, 224, 16, 8}};
    v.push_back(c.with("Int32NzPerGroup", kOk));
  }
  v.push_back(nz_channel().with("Int4NzPerChannelTransposed", kOk));
  {
    Case c = nz_channel();
    c.weight = Spec{{9, 17}, ACL_INT32, ACL_FORMAT_FRACTAL_NZ, {2, 2, 16, 8}, {1, 9}};
    v.push_back(c.with("Int32NzPerChannelTransposed", kOk));
  }
  // ---- CANN's cases that give 161002.
  {
    Case c = b;
    c.offset->dtype = ACL_FLOAT;
    v.push_back(c.with("OffsetFloat", kBad, {"antiquantOffsetOptional dtype", "FLOAT16", "FLOAT"}));
    c = bf16();
    c.y->dtype = ACL_FLOAT16;
    v.push_back(c.with("Bf16XFloat16Y", kBad, {"y dtype", "BF16", "FLOAT16"}));
    c = b;
    c.bias->dtype = ACL_FLOAT;
    v.push_back(c.with("FloatBiasWithFloat16X", kBad, {"biasOptional dtype must be FLOAT16", "got FLOAT"}));
    c = b;
    c.bias->dtype = ACL_BF16;
    v.push_back(c.with("Bf16BiasWithFloat16X", kBad, {"biasOptional dtype", "BF16"}));
    c = bf16();
    c.bias->dtype = ACL_BF16;
    v.push_back(c.with("Bf16BiasWithBf16X", kBad, {"biasOptional dtype must be FLOAT", "BF16"}));
    c = b;
    c.x->dtype = ACL_INT8;
    v.push_back(c.with("XInt8", kBad, {"x dtype", "INT8"}));
  }
  for (const char *which : {"x", "antiquantScale", "antiquantOffsetOptional", "quantScaleOptional",
                            "quantOffsetOptional", "biasOptional"}) {
    Case c = b;
    std::optional<Spec> *t = std::string(which) == "x"                         ? &c.x
                             : std::string(which) == "antiquantScale"          ? &c.scale
                             : std::string(which) == "antiquantOffsetOptional" ? &c.offset
                             : std::string(which) == "quantScaleOptional"      ? &c.quant_scale
                             : std::string(which) == "quantOffsetOptional"     ? &c.quant_offset
                                                                               : &c.bias;
    (*t)->format = ACL_FORMAT_NCHW;
    v.push_back(c.with(std::string("Nchw_") + which, kBad, {std::string(which) + " format", "NCHW"}));
  }
  {
    Case c = b;
    c.x = Spec{{1, 96, 11264}};
    v.push_back(c.with("ThreeDimensionalX", kBad, {"x view must have 2 dims", "got 3"}));
    c = b;
    c.quant_scale.reset();
    c.quant_offset.reset();
    v.push_back(c.with("Int8YWithoutQuantScale", kBad, {"y dtype must be x's", "INT8"}));
    c = b;
    c.quant_scale->dtype = ACL_FLOAT;
    v.push_back(c.with("QuantScaleFloat", kBad, {"quantScaleOptional dtype must be UINT64", "FLOAT"}));
    c = b;
    c.x->view[1] = 11263;
    v.push_back(c.with("KMismatch", kBad, {"x's k and weight's k must be equal", "11263", "11264"}));
    c = b;
    c.x->view[1] = 65536;
    c.weight->view[0] = 65536;
    v.push_back(c.with("K65536", kBad, {"at most 65535", "k = 65536"}));
    c = b;
    c.y->view = {97, 1664};
    v.push_back(c.with("YRows97", kBad, {"y must be (m, n) = (96, 1664)", "(97, 1664)"}));
    c = b;
    c.y->view = {96, 1663};
    v.push_back(c.with("YCols1663", kBad, {"y must be (m, n)", "(96, 1663)"}));
    c = b;
    c.group = 2;
    v.push_back(c.with("GroupSize2", kBad, {"antiquantGroupSize must be 0 or a multiple of 32", "got 2"}));
    c = float_out(b);
    c.weight->dtype = ACL_INT4;
    c.group = 1664;
    v.push_back(
        c.with("Int4Group1664", kBad, {"antiquantScale must be (ceil(k / antiquantGroupSize), n) = (7, 1664)"}));
    c = b;
    c.scale = Spec{{1663}};
    c.offset = Spec{{1663}};
    v.push_back(c.with("Scale1663", kBad, {"antiquantScale", "(1663,)"}));
    c = b;
    c.scale = Spec{{1, 1663}};
    c.offset = Spec{{1, 1663}};
    v.push_back(c.with("Scale1x1663", kBad, {"antiquantScale", "(1, 1663)"}));
    c = b;
    c.offset = Spec{{1664}};
    v.push_back(c.with("OffsetShapeDiffers", kBad, {"antiquantOffsetOptional must have antiquantScale's shape"}));
    c = b;
    c.quant_scale->view = {1663};
    c.quant_offset->view = {1663};
    v.push_back(c.with("QuantScale1663", kBad, {"quantScaleOptional must be", "(1663,)"}));
    c = b;
    c.quant_scale->view = {2, 1664};
    c.quant_offset->view = {2, 1664};
    v.push_back(c.with("QuantScale2x1664", kBad, {"quantScaleOptional must be", "(2, 1664)"}));
    c = b;
    c.quant_offset->view = {1663};
    v.push_back(c.with("QuantOffset1663", kBad, {"quantOffsetOptional must have quantScaleOptional's shape"}));
    c = b;
    c.quant_offset->dtype = ACL_FLOAT16;  // would be read as FLOAT past its storage
    v.push_back(c.with("QuantOffsetFloat16", kBad, {"quantOffsetOptional dtype must be FLOAT", "FLOAT16"}));
    c = b;
    c.bias->view = {1663};
    v.push_back(c.with("Bias1663", kBad, {"biasOptional must be (n,) or (1, n)", "(1663,)"}));
    c = b;
    c.bias->view = {1, 1663};
    v.push_back(c.with("Bias1x1663", kBad, {"biasOptional must be", "(1, 1663)"}));
    c = b;
    c.weight->view = {512, 1664};
    v.push_back(c.with("WeightKAgainstX", kBad, {"x's k and weight's k must be equal", "512"}));
    c = b;
    c.x->view[0] = 0;
    c.y->view[0] = 0;
    v.push_back(c.with("MZero", kBad, {"m, k and n must be at least 1", "m = 0"}));
    c = float_out(b);
    c.weight = Spec{{11264, 1663}, ACL_INT4};
    c.scale->view = {1, 1663};
    c.offset->view = {1, 1663};
    c.bias->view = {1, 1663};
    c.y->view = {96, 1663};
    v.push_back(c.with("Int4OddN", kBad, {"INT4 weight's n must be even", "n = 1663"}));
    c = b;
    c.weight = Spec{{1664}, ACL_INT32};
    v.push_back(c.with("Int32OneDimensionalWeight", kBad, {"weight view must have 2 dims", "got 1"}));
  }
  for (const char *which : {"x", "weight", "antiquantScale", "y", "quantScaleOptional", "biasOptional"}) {
    Case c = b;
    const std::string w = which;
    std::optional<Spec> &t = w == "x"                    ? c.x
                             : w == "weight"             ? c.weight
                             : w == "antiquantScale"     ? c.scale
                             : w == "y"                  ? c.y
                             : w == "quantScaleOptional" ? c.quant_scale
                                                         : c.bias;
    const int64_t rows = t->view.size() == 2 ? t->view[0] : 1;
    const int64_t cols = t->view.back();
    t->storage = {rows, 2 * cols};
    t->strides = {2 * cols, 2};
    v.push_back(
        c.with("NonContiguous_" + w, kBad, {w + " only support contiguous", "(" + std::to_string(2 * cols) + ", 2)"}));
  }
  {
    Case c = nz_group();
    c.x->view[1] = 3580;
    c.weight = Spec{{3580, 8192}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, {128, 224, 16, 64}};
    c.scale->view = {56, 8192};
    v.push_back(c.with("Int4NzGroupK3580", kBad, {"k % antiquantGroupSize == 0", "k = 3580"}));
    c = nz_group();
    c.weight->view[1] = 8928;
    c.weight->storage = {140, 224, 16, 64};
    c.scale->view = {56, 8928};
    c.y->view = {4, 8928};
    v.push_back(c.with("Int4NzGroupN8928", kBad, {"n % 64 == 0", "n = 8928"}));
    c = nz_group();
    c.weight = transposed(*c.weight);
    c.weight->storage = {56, 512, 16, 64};
    v.push_back(c.with("Int4NzGroupTransposedWeight", kBad, {"x and weight not transposed", "weight is transposed"}));
    c = nz_group();
    c.group = 256;
    c.scale->view = {14, 8192};
    v.push_back(c.with("Int4NzGroup256", kBad, {"antiquantGroupSize 64 or 128", "got 256"}));
    c = nz_group();
    c.quant_scale = Spec{{1, 8192}, ACL_UINT64};
    c.y->dtype = ACL_INT8;
    v.push_back(c.with("Int4NzGroupQuantScale", kBad, {"INT4 FRACTAL_NZ weight takes no quantScaleOptional"}));
    c = nz_channel();
    c.weight = Spec{{72, 18}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, {1, 5, 16, 64}};
    c.scale = Spec{{1, 18}};
    c.y->view = {4, 18};
    v.push_back(c.with("Int4NzChannelNotTransposed", kBad, {"per channel must be transposed"}));
    c = nz_channel();
    c.weight = Spec{{72, 3}, ACL_INT32, ACL_FORMAT_FRACTAL_NZ, {1, 5, 16, 8}};
    c.scale = Spec{{1, 24}};
    c.y->view = {4, 24};
    v.push_back(c.with("Int32NzChannelNotTransposed", kBad, {"per channel must be transposed"}));
    c = nz_channel();
    c.scale = Spec{{1}};
    v.push_back(c.with("Int4NzPerTensor", kBad, {"cannot be antiquantized per tensor"}));
  }
  // ---- NULL arguments: 161001 naming the first.
  for (const char *which : {"x", "weight", "antiquantScale", "y"}) {
    Case c = b;
    const std::string w = which;
    (w == "x" ? c.x : w == "weight" ? c.weight : w == "antiquantScale" ? c.scale : c.y).reset();
    v.push_back(c.with("Null_" + w, kNull, {w + " is NULL"}));
  }
  // ---- The order: the earlier check wins.
  {
    Case c = b;
    c.x->dtype = ACL_INT8;
    c.y->strides = {1, 96};
    c.y->storage = {1664, 96};
    v.push_back(c.with("ContiguityBeatsDtype", kBad, {"y only support contiguous"}));
    c = b;
    c.x->dtype = ACL_INT8;
    c.bias->format = ACL_FORMAT_NCHW;
    v.push_back(c.with("DtypeBeatsFormat", kBad, {"x dtype"}));
    c = b;
    c.x->view[1] = 11263;
    c.group = 2;
    v.push_back(c.with("ShapeBeatsGroupSize", kBad, {"x's k and weight's k"}));
    c = b;
    c.scale = Spec{{1, 1663}};
    c.bias->view = {1663};
    v.push_back(c.with("ScaleShapeBeatsBiasShape", kBad, {"antiquantScale"}));
    c = b;
    c.scale->strides = {1, 2};
    c.scale->storage = {1, 3328};
    c.weight->dtype = ACL_FLOAT16;
    v.push_back(c.with("ScaleContiguityBeatsWeightDtype", kBad, {"antiquantScale only support contiguous"}));
  }
  // ---- Packed scale (UINT64 / INT64 antiquantScale) and its rules.
  {
    Case p;
    p.x = Spec{{96, 256}};
    p.weight = transposed(Spec{{256, 128}, ACL_INT8});
    p.scale = Spec{{1, 128}, ACL_UINT64};
    p.offset = Spec{{1, 128}, ACL_INT32};
    p.bias = Spec{{1, 128}};
    p.y = Spec{{96, 128}};
    v.push_back(p.with("PackedScale", kOk));
    Case c = p;
    c.scale->dtype = ACL_INT64;
    v.push_back(c.with("PackedScaleInt64", kOk));
    c = p;
    c.weight = Spec{{256, 128}, ACL_INT8};
    v.push_back(c.with("PackedScaleWeightNotTransposed", kBad, {"packed antiquantScale", "transposed ND weight"}));
    c = p;
    c.x->view[0] = 97;
    c.y->view[0] = 97;
    v.push_back(c.with("PackedScaleM97", kBad, {"m in [1, 96]", "m = 97"}));
    c = p;
    c.offset->dtype = ACL_FLOAT16;
    v.push_back(c.with("PackedScaleFloat16Offset", kBad, {"antiquantOffsetOptional dtype must be INT32"}));
    c = b;
    c.offset->dtype = ACL_INT32;
    v.push_back(c.with("Int32OffsetNeedsPackedScale", kBad, {"antiquantScale dtype must be UINT64 or INT64"}));
  }
  // ---- Beyond CANN: memory the descriptors must hold, NULL data.
  {
    Case c = b;
    c.weight->storage = {11264, 1000};
    v.push_back(c.with("WeightStorageTooSmall", kBad, {"weight storage shape (11264, 1000)", "does not hold"}));
    c = nz_group();
    c.weight->storage = {1, 1, 16, 64};
    v.push_back(c.with("NzWeightStorageTooSmall", kBad, {"weight storage shape (1, 1, 16, 64)", "does not hold"}));
    c = b;
    c.x->no_data = true;
    v.push_back(c.with("NullXData", kNull, {"x data address is NULL"}));
    c = b;
    c.bias->storage = {1, 10};
    v.push_back(c.with("BiasStorageTooSmall", kBad, {"biasOptional storage shape", "does not hold"}));
    // fuzz_consumers findings: a scale may be strided when the weight is transposed, and its strides must
    // stay inside its storage; offsets and INT32 re-views whose arithmetic would overflow are refused.
    Case t;
    t.x = Spec{{16, 256}};
    t.weight = transposed(Spec{{256, 128}, ACL_INT8});
    t.scale = Spec{{1, 128}};
    t.y = Spec{{16, 128}};
    v.push_back(t.with("TransposedWeightStridedScale", kOk));
    c = t;
    c.scale->strides = {128, 2};
    c.scale->storage = {1, 255};
    v.push_back(c.with("TransposedWeightStridedScaleInStorage", kOk));
    c.scale->storage = {1, 254};
    v.push_back(
        c.with("TransposedWeightScaleStridesPastStorage", kBad,
               {"antiquantScale storage shape (1, 254) does not hold its view (1, 128) with strides (128, 2)"}));
    c = b;
    c.weight->offset = int64_t{5718557151751438335};
    v.push_back(c.with("WeightOffsetPastStorage", kBad, {"weight storage shape", "at offset 5718557151751438335"}));
    c = b;
    c.x = Spec{{96, 64}};
    c.weight = Spec{{64, int64_t{1} << 61}, ACL_INT32};
    v.push_back(c.with("Int32WeightTooWideToReview", kBad, {"must be at most 65535"}));
  }
  return v;
}

class MatmulCheckTest : public AclTest, public ::testing::WithParamInterface<Case> {};

TEST_P(MatmulCheckTest, StatusAndMessage) {
  const Case &c = GetParam();
  static uint8_t arena[64];
  std::vector<std::unique_ptr<Tensor>> owned;
  const auto build = [&](const std::optional<Spec> &s) -> aclTensor * {
    if (!s) return nullptr;
    owned.push_back(std::make_unique<Tensor>(s->view, s->dtype, s->format, s->no_data ? nullptr : arena, s->storage,
                                             s->strides, s->offset));
    return owned.back()->get();
  };
  aclTensor *x = build(c.x), *w = build(c.weight), *s = build(c.scale), *o = build(c.offset);
  aclTensor *qs = build(c.quant_scale), *qo = build(c.quant_offset), *bias = build(c.bias), *y = build(c.y);
  uint64_t workspace = 7;
  aclOpExecutor *executor = nullptr;
  const aclnnStatus status =
      aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(x, w, s, o, qs, qo, bias, c.group, y, &workspace, &executor);
  const std::string message = recent_error();
  EXPECT_EQ(status, c.status) << c.name << ": " << message;
  if (c.status == kOk) {
    EXPECT_NE(executor, nullptr);
    EXPECT_EQ(workspace, 0u);
    if (executor != nullptr) {
      EXPECT_EQ(aclDestroyAclOpExecutor(executor), kOk);
    }
  } else {
    EXPECT_EQ(executor, nullptr);
    EXPECT_TRUE(Mentions(message, {"aclnnWeightQuantBatchMatmulV2GetWorkspaceSize"}));
    for (const std::string &needle : c.needles)
      EXPECT_NE(message.find(needle), std::string::npos) << c.name << ": " << message << "\nlacks: " << needle;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, MatmulCheckTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case> &info) { return info.param.name; });

TEST(MatmulCheckOutPointers, NullWorkspaceSizeOrExecutor) {
  static uint8_t arena[64];
  Tensor x({4, 64}, ACL_FLOAT16, ACL_FORMAT_ND, arena), w({64, 64}, ACL_INT8, ACL_FORMAT_ND, arena);
  Tensor s({64}, ACL_FLOAT16, ACL_FORMAT_ND, arena), y({4, 64}, ACL_FLOAT16, ACL_FORMAT_ND, arena);
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  EXPECT_EQ(aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(x.get(), w.get(), s.get(), nullptr, nullptr, nullptr, nullptr,
                                                          0, y.get(), nullptr, &executor),
            kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"workspaceSize is NULL"}));
  EXPECT_EQ(aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(x.get(), w.get(), s.get(), nullptr, nullptr, nullptr, nullptr,
                                                          0, y.get(), &workspace, nullptr),
            kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"executor is NULL"}));
  EXPECT_EQ(aclnnWeightQuantBatchMatmulV2(nullptr, 0, nullptr, nullptr), kNull);
  EXPECT_TRUE(Mentions(recent_error(), {"aclnnWeightQuantBatchMatmulV2", "executor is NULL"}));
}

}  // namespace
}  // namespace int4pack::testing
