// aclnnWeightQuantBatchMatmulV2: phase 1 runs CANN's checks in CANN's order (ContiguousCheck, the INT32
// weight's re-view, dtypes, formats, ranks, quant parameters, shapes, group sizes, the INT4 FRACTAL_NZ
// rules), then ours (live descriptors, storage that holds each view, data addresses), and captures the
// matmul for the engine (include/int4pack/matmul.h); phase 2 runs it on the stream.
#include <string>

#include "aclnnop/aclnn_weight_quant_batch_matmul_v2.h"
#include "int4pack/matmul.h"
#include "ops/common/checks.h"
#include "ops/common/element_types.h"
#include "ops/executor.h"

namespace int4pack::ops {
namespace {

constexpr const char *kPhase1 = "aclnnWeightQuantBatchMatmulV2GetWorkspaceSize";
constexpr int64_t kMaxKn = 65535;
constexpr int64_t kMaxPackedScaleM = 96;

struct Named {
  const aclTensor *t;
  const char *name;
};

bool is_packed_scale(int32_t dtype) { return dtype == ACL_UINT64 || dtype == ACL_INT64; }

std::string dtype_of(const aclTensor &t) { return tensor::dtype_name(t.dtype); }

// The weight as the matmul sees it: INT32 words re-viewed as INT4 (8 values a word), and the (k, n) view.
struct WeightView {
  int32_t dtype = ACL_INT8;  // INT8 or INT4 after the re-view
  bool transposed = false;
  int64_t k = 0, n = 0;
};

// A 1-D (n,) or 2-D (rows, cols) operand as a matrix of the engine, from its view.
Matrix matrix_of(const aclTensor &t, ElementType type) {
  Matrix m;
  m.type = type;
  const size_t bytes = element_size(type);
  m.data = static_cast<const uint8_t *>(t.data) + t.offset * static_cast<int64_t>(bytes);
  if (t.view_dims.size() == 1) {
    m.rows = 1;
    m.cols = t.view_dims[0];
    m.row_stride = 0;
    m.col_stride = t.strides[0];
  } else {
    m.rows = t.view_dims[0];
    m.cols = t.view_dims[1];
    m.row_stride = t.strides[0];
    m.col_stride = t.strides[1];
  }
  return m;
}

// The element type of an operand the checks have accepted; INT64 scale words are read as UINT64 (CANN
// re-views them so).
ElementType element_type(int32_t dtype) {
  if (dtype == ACL_INT64) return ElementType::kUint64;
  return element_type_of(dtype).value_or(ElementType::kUint8);
}

// The scale's dims as (rows, cols) of the operand: (1,) -> (1, 1), (n,) -> (1, n).
int64_t scale_elements(const aclTensor &t) { return element_count(t.view_dims); }

class Phase1 {
 public:
  Phase1(const aclTensor *x, const aclTensor *weight, const aclTensor *scale, const aclTensor *offset,
         const aclTensor *quant_scale, const aclTensor *quant_offset, const aclTensor *bias, int group_size,
         const aclTensor *y)
      : x_(x),
        weight_(weight),
        scale_(scale),
        offset_(offset),
        quant_scale_(quant_scale),
        quant_offset_(quant_offset),
        bias_(bias),
        group_size_(group_size),
        y_(y) {}

  aclnnStatus run(uint64_t *workspaceSize, aclOpExecutor **executor) {
    INT4PACK_TRY(not_null(workspaceSize, executor));
    INT4PACK_TRY(contiguity());
    INT4PACK_TRY(review_weight());
    INT4PACK_TRY(dtypes_and_ranks());
    INT4PACK_TRY(scale_dtypes());
    INT4PACK_TRY(bias_dtype_and_formats());
    INT4PACK_TRY(optional_formats_and_ranks());
    INT4PACK_TRY(x_weight_y_shapes());
    INT4PACK_TRY(group_size_and_scale_shapes());
    INT4PACK_TRY(quant_and_bias_shapes());
    INT4PACK_TRY(int4_nz_rules());
    INT4PACK_TRY(packed_scale_rules());
    INT4PACK_TRY(memory());
    INT4PACK_TRY(c_.engine_ready());
    return publish(workspaceSize, executor);
  }

 private:
  aclnnStatus not_null(uint64_t *workspaceSize, aclOpExecutor **executor) const {
    for (const Named &a : {Named{x_, "x"}, Named{weight_, "weight"}, Named{scale_, "antiquantScale"}, Named{y_, "y"}}) {
      INT4PACK_TRY(c_.not_null(a.t, a.name));
    }
    INT4PACK_TRY(c_.not_null(workspaceSize, "workspaceSize"));
    INT4PACK_TRY(c_.not_null(executor, "executor"));
    for (const Named &a : all()) {
      if (a.t != nullptr) INT4PACK_TRY(c_.live(a.t, a.name));
    }
    return ACLNN_SUCCESS;
  }

  std::vector<Named> all() const {
    return {{x_, "x"},
            {weight_, "weight"},
            {scale_, "antiquantScale"},
            {offset_, "antiquantOffsetOptional"},
            {quant_scale_, "quantScaleOptional"},
            {quant_offset_, "quantOffsetOptional"},
            {bias_, "biasOptional"},
            {y_, "y"}};
  }

  // CANN's ContiguousCheck and OptionalContiguousCheck: x and the weight contiguous or transposed (for a
  // FRACTAL_NZ weight the view strides alone say which), scale and offset contiguous unless the weight is
  // transposed, y and the optional operands contiguous.
  aclnnStatus contiguity() {
    INT4PACK_TRY(c_.contiguous_or_transposed(*x_, "x", &x_transposed_));
    const aclTensor &w = *weight_;
    weight_transposed_ = view_transposed(w);
    if (!weight_transposed_) INT4PACK_TRY(c_.contiguous(w, "weight"));
    for (const Named &a : {Named{scale_, "antiquantScale"}, Named{offset_, "antiquantOffsetOptional"}}) {
      if (a.t == nullptr || weight_transposed_) continue;
      if (!is_contiguous(*a.t)) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, std::string(a.name) +
                                                    " only support contiguous tensors unless the weight is transposed, "
                                                    "but its view " +
                                                    shape_text(a.t->view_dims) + " has strides " +
                                                    shape_text(a.t->strides));
      }
    }
    INT4PACK_TRY(c_.contiguous(*y_, "y"));
    for (const Named &a : {Named{quant_scale_, "quantScaleOptional"}, Named{quant_offset_, "quantOffsetOptional"},
                           Named{bias_, "biasOptional"}}) {
      if (a.t != nullptr) INT4PACK_TRY(c_.contiguous(*a.t, a.name));
    }
    return ACLNN_SUCCESS;
  }

  // The transposed pattern from the view alone (a FRACTAL_NZ weight says it this way too).
  static bool view_transposed(const aclTensor &t) {
    if (t.view_dims.size() != 2) return false;
    if (t.view_dims[0] == 1 && t.view_dims[1] == 1) return false;
    return t.strides[0] == 1 && t.strides[1] == t.view_dims[0];
  }

  // Saturating, so that a dim too large to re-view fails the size limits instead of wrapping into them.
  static int64_t times8(int64_t d) {
    int64_t r;
    return __builtin_mul_overflow(d, 8, &r) ? (d < 0 ? INT64_MIN : INT64_MAX) : r;
  }

  // An INT32 weight must be 2-D, and is the INT4 weight of 8 times its packed dim.
  aclnnStatus review_weight() {
    const aclTensor &w = *weight_;
    view_.dtype = w.dtype == ACL_INT32 ? ACL_INT4 : w.dtype;
    view_.transposed = weight_transposed_;
    if (w.dtype == ACL_INT32) {
      INT4PACK_TRY(c_.rank_in(w, "weight", 2, 2));
      view_.k = weight_transposed_ ? times8(w.view_dims[0]) : w.view_dims[0];
      view_.n = weight_transposed_ ? w.view_dims[1] : times8(w.view_dims[1]);
    } else if (w.view_dims.size() == 2) {
      view_.k = w.view_dims[0];
      view_.n = w.view_dims[1];
    }
    return ACLNN_SUCCESS;
  }

  aclnnStatus dtypes_and_ranks() const {
    INT4PACK_TRY(c_.dtype_in(*x_, "x", {ACL_FLOAT16, ACL_BF16}));
    if (view_.dtype != ACL_INT8 && view_.dtype != ACL_INT4) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "weight dtype must be one of [INT8, INT4, INT32], but got " + dtype_of(*weight_));
    }
    INT4PACK_TRY(c_.dtype_in(*scale_, "antiquantScale", {ACL_FLOAT16, ACL_BF16, ACL_UINT64, ACL_INT64}));
    INT4PACK_TRY(c_.dtype_in(*y_, "y", {ACL_FLOAT16, ACL_BF16, ACL_INT8}));
    if (quant_scale_ != nullptr && y_->dtype != ACL_INT8) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "y dtype must be INT8 when quantScaleOptional is given, but got " + dtype_of(*y_));
    }
    if (quant_scale_ == nullptr && y_->dtype != x_->dtype) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, "y dtype must be x's (" + dtype_of(*x_) +
                                                  ") when quantScaleOptional is NULL, but got " + dtype_of(*y_));
    }
    for (const Named &a : {Named{x_, "x"}, Named{weight_, "weight"}, Named{y_, "y"}})
      INT4PACK_TRY(c_.rank_in(*a.t, a.name, 2, 2));
    return ACLNN_SUCCESS;
  }

  aclnnStatus scale_dtypes() const {
    const bool packed = is_packed_scale(scale_->dtype);
    if (offset_ != nullptr && offset_->dtype == ACL_INT32 && !packed) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "antiquantScale dtype must be UINT64 or INT64 when antiquantOffsetOptional is INT32, but got " +
                         dtype_of(*scale_));
    }
    if (packed) {
      const std::string why = " when antiquantScale is " + dtype_of(*scale_) + " (a packed scale), but got ";
      if (x_->dtype != ACL_FLOAT16)
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "x dtype must be FLOAT16" + why + dtype_of(*x_));
      if (view_.dtype != ACL_INT8) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "weight dtype must be INT8" + why + dtype_of(*weight_));
      }
      if (offset_ != nullptr && offset_->dtype != ACL_INT32) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID,
                       "antiquantOffsetOptional dtype must be INT32" + why + dtype_of(*offset_));
      }
      if (y_->dtype != ACL_FLOAT16)
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "y dtype must be FLOAT16" + why + dtype_of(*y_));
      return ACLNN_SUCCESS;
    }
    if (scale_->dtype != x_->dtype) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "antiquantScale dtype must be x's (" + dtype_of(*x_) + "), but got " + dtype_of(*scale_));
    }
    if (offset_ != nullptr && offset_->dtype != scale_->dtype) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, "antiquantOffsetOptional dtype must be antiquantScale's (" +
                                                  dtype_of(*scale_) + "), but got " + dtype_of(*offset_));
    }
    return ACLNN_SUCCESS;
  }

  aclnnStatus bias_dtype_and_formats() const {
    if (bias_ != nullptr) {
      const int32_t want = x_->dtype == ACL_FLOAT16 ? ACL_FLOAT16 : ACL_FLOAT;
      if (bias_->dtype != want) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "biasOptional dtype must be " + tensor::dtype_name(want) +
                                                    " when x is " + dtype_of(*x_) + ", but got " + dtype_of(*bias_));
      }
    }
    INT4PACK_TRY(c_.format_in(*x_, "x", {ACL_FORMAT_ND}));
    INT4PACK_TRY(c_.format_in(*weight_, "weight", {ACL_FORMAT_ND, ACL_FORMAT_FRACTAL_NZ}));
    INT4PACK_TRY(c_.format_in(*scale_, "antiquantScale", {ACL_FORMAT_ND}));
    if (bias_ != nullptr) {
      INT4PACK_TRY(c_.format_in(*bias_, "biasOptional", {ACL_FORMAT_ND}));
      INT4PACK_TRY(c_.rank_in(*bias_, "biasOptional", 1, 2));
    }
    return ACLNN_SUCCESS;
  }

  aclnnStatus optional_formats_and_ranks() const {
    for (const Named &a : {Named{offset_, "antiquantOffsetOptional"}, Named{quant_scale_, "quantScaleOptional"},
                           Named{quant_offset_, "quantOffsetOptional"}}) {
      if (a.t != nullptr) INT4PACK_TRY(c_.format_in(*a.t, a.name, {ACL_FORMAT_ND}));
    }
    for (const Named &a : {Named{scale_, "antiquantScale"}, Named{offset_, "antiquantOffsetOptional"},
                           Named{quant_scale_, "quantScaleOptional"}, Named{quant_offset_, "quantOffsetOptional"}}) {
      if (a.t != nullptr) INT4PACK_TRY(c_.rank_in(*a.t, a.name, 1, 2));
    }
    if (quant_scale_ == nullptr && quant_offset_ != nullptr) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, "quantOffsetOptional needs quantScaleOptional, which is NULL");
    }
    if (quant_scale_ != nullptr && quant_scale_->dtype != ACL_UINT64 && quant_scale_->dtype != ACL_INT64) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "quantScaleOptional dtype must be UINT64 (INT64 is re-viewed; aclnnTransQuantParam makes it), "
                     "but got " +
                         dtype_of(*quant_scale_));
    }
    if (quant_offset_ != nullptr && quant_offset_->dtype != ACL_FLOAT) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "quantOffsetOptional dtype must be FLOAT, but got " + dtype_of(*quant_offset_));
    }
    return ACLNN_SUCCESS;
  }

  aclnnStatus x_weight_y_shapes() {
    m_ = x_->view_dims[0];
    const int64_t k = x_->view_dims[1];
    const std::string sizes =
        "m = " + std::to_string(m_) + ", k = " + std::to_string(k) + ", n = " + std::to_string(view_.n);
    if (k != view_.k) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, "x's k and weight's k must be equal, but x " + shape_text(x_->view_dims) +
                                                  " has k = " + std::to_string(k) +
                                                  " and weight has k = " + std::to_string(view_.k));
    }
    if (m_ < 1 || k < 1 || view_.n < 1) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, "m, k and n must be at least 1, but " + sizes);
    }
    if (k > kMaxKn || view_.n > kMaxKn || (x_transposed_ && m_ > kMaxKn)) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "k and n (and m when x is transposed) must be at most 65535, but " + sizes);
    }
    if (m_ > INT32_MAX) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, "m must be at most 2147483647, but " + sizes);
    }
    if (view_.dtype == ACL_INT4) {
      const int64_t inner = weight_transposed_ ? k : view_.n;
      if (inner % 2 != 0) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, std::string("an INT4 weight's ") +
                                                    (weight_transposed_ ? "k (it is transposed)" : "n") +
                                                    " must be even (two values a byte), but " + sizes);
      }
    }
    if (y_->view_dims[0] != m_ || y_->view_dims[1] != view_.n) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "y must be (m, n) = " + shape_text({m_, view_.n}) + ", but got " + shape_text(y_->view_dims));
    }
    return ACLNN_SUCCESS;
  }

  aclnnStatus group_size_and_scale_shapes() {
    const int64_t k = view_.k, n = view_.n;
    if (group_size_ != 0) {
      if (group_size_ < 0 || group_size_ % 32 != 0 || group_size_ < 32 || group_size_ > k - 1) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID,
                       "antiquantGroupSize must be 0 or a multiple of 32 in [32, k - 1] = [32, " +
                           std::to_string(k - 1) + "], but got " + std::to_string(group_size_));
      }
    }
    const aclTensor &s = *scale_;
    const auto &d = s.view_dims;
    const std::string got = ", but got " + shape_text(d) + " with antiquantGroupSize " + std::to_string(group_size_);
    if (d.size() == 1) {
      if (group_size_ > 0 || (d[0] != 1 && d[0] != n)) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "a 1-D antiquantScale must be (1,) or (n,) = " + shape_text({n}) +
                                                    " with antiquantGroupSize 0" + got);
      }
    } else if (group_size_ == 0) {
      if (d[0] != 1 || (d[1] != n && d[1] != 1)) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "a 2-D antiquantScale must be (1, n) = " + shape_text({1, n}) +
                                                    " or (1, 1) without a group size" + got);
      }
    } else {
      const int64_t groups = (k + group_size_ - 1) / group_size_;
      if (d[0] != groups || d[1] != n) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID,
                       "antiquantScale must be (ceil(k / antiquantGroupSize), n) = " + shape_text({groups, n}) + got);
      }
    }
    if (offset_ != nullptr && offset_->view_dims != d) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, "antiquantOffsetOptional must have antiquantScale's shape " +
                                                  shape_text(d) + ", but got " + shape_text(offset_->view_dims));
    }
    return ACLNN_SUCCESS;
  }

  aclnnStatus quant_and_bias_shapes() const {
    const int64_t n = view_.n;
    if (quant_scale_ != nullptr) {
      const auto &d = quant_scale_->view_dims;
      const bool ok = d.size() == 1 ? (d[0] == 1 || d[0] == n) : (d[0] == 1 && d[1] == n);
      if (!ok) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "quantScaleOptional must be (1,), (n,) or (1, n) with n = " +
                                                    std::to_string(n) + ", but got " + shape_text(d));
      }
      if (quant_offset_ != nullptr && quant_offset_->view_dims != d) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "quantOffsetOptional must have quantScaleOptional's shape " +
                                                    shape_text(d) + ", but got " +
                                                    shape_text(quant_offset_->view_dims));
      }
    }
    if (bias_ != nullptr) {
      const auto &d = bias_->view_dims;
      const bool ok = d.size() == 1 ? (d[0] == n || d[0] == 0) : (d[0] == 1 && d[1] == n);
      if (!ok) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID, "biasOptional must be (n,) or (1, n) with n = " + std::to_string(n) +
                                                    ", but got " + shape_text(d));
      }
    }
    return ACLNN_SUCCESS;
  }

  aclnnStatus int4_nz_rules() const {
    if (view_.dtype != ACL_INT4 || weight_->format != ACL_FORMAT_FRACTAL_NZ) return ACLNN_SUCCESS;
    const std::string what = "an INT4 FRACTAL_NZ weight";
    if (quant_scale_ != nullptr || quant_offset_ != nullptr) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, what + " takes no quantScaleOptional / quantOffsetOptional (no INT8 y)");
    }
    if (group_size_ > 0) {
      if (x_transposed_ || weight_transposed_) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID,
                       what + " with a group size needs x and weight not transposed, but x is " +
                           (x_transposed_ ? "transposed" : "not transposed") + " and weight is " +
                           (weight_transposed_ ? "transposed" : "not transposed"));
      }
      if (group_size_ != 64 && group_size_ != 128) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID,
                       what + " takes antiquantGroupSize 64 or 128, but got " + std::to_string(group_size_));
      }
      if (view_.k % group_size_ != 0) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID,
                       what + " with a group size needs k % antiquantGroupSize == 0, but k = " +
                           std::to_string(view_.k) + " and antiquantGroupSize = " + std::to_string(group_size_));
      }
      if (view_.n % 64 != 0) {
        return c_.fail(ACLNN_ERR_PARAM_INVALID,
                       what + " with a group size needs n % 64 == 0, but n = " + std::to_string(view_.n));
      }
      return ACLNN_SUCCESS;
    }
    if (scale_elements(*scale_) == 1) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, what + " cannot be antiquantized per tensor (antiquantScale " +
                                                  shape_text(scale_->view_dims) + ")");
    }
    if (!weight_transposed_) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, what +
                                                  " antiquantized per channel must be transposed (its (n, k) matrix "
                                                  "packed, the view relabelled (k, n) with strides (1, k))");
    }
    return ACLNN_SUCCESS;
  }

  // A packed scale, as CANN's kernels take it: the rules its tiling enforces.
  aclnnStatus packed_scale_rules() const {
    if (!is_packed_scale(scale_->dtype)) return ACLNN_SUCCESS;
    const std::string what = "a packed antiquantScale (" + dtype_of(*scale_) + ") needs ";
    if (x_transposed_) return c_.fail(ACLNN_ERR_PARAM_INVALID, what + "x not transposed");
    if (weight_->format != ACL_FORMAT_ND || !weight_transposed_) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, what + "a transposed ND weight, but it is " +
                                                  tensor::format_name(weight_->format) +
                                                  (weight_transposed_ ? ", transposed" : ", not transposed"));
    }
    if (group_size_ != 0 || scale_elements(*scale_) != view_.n) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, what + "one scale per channel (" + std::to_string(view_.n) +
                                                  "), but antiquantScale is " + shape_text(scale_->view_dims));
    }
    if (quant_scale_ != nullptr) return c_.fail(ACLNN_ERR_PARAM_INVALID, what + "no quantScaleOptional");
    if (m_ > kMaxPackedScaleM || view_.k % 64 != 0 || view_.n % 64 != 0) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     what + "m in [1, 96] and k and n multiples of 64, but m = " + std::to_string(m_) +
                         ", k = " + std::to_string(view_.k) + ", n = " + std::to_string(view_.n));
    }
    return ACLNN_SUCCESS;
  }

  // Beyond CANN: descriptors whose memory holds what they describe, the weight's layout included (CANN
  // does not check a FRACTAL_NZ weight's storage shape; any storage large enough is taken).
  aclnnStatus memory() const {
    for (const Named &a : all()) {
      if (a.t != nullptr && a.t != weight_) INT4PACK_TRY(c_.strided_storage(*a.t, a.name));
    }
    const aclTensor &w = *weight_;
    if (w.offset < 0)
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "weight offset must not be negative, but got " + std::to_string(w.offset));
    if (w.format == ACL_FORMAT_FRACTAL_NZ && w.offset != 0) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "weight offset must be 0 for FRACTAL_NZ, but got " + std::to_string(w.offset));
    }
    if (w.dtype == ACL_INT4 && w.offset % 2 != 0) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID,
                     "weight offset must be even for INT4, but got " + std::to_string(w.offset));
    }
    const int64_t stored = element_count(w.storage_dims);
    const int64_t width = w.dtype == ACL_INT32 ? 4 : 1;
    const bool counted = stored >= 0 && stored <= INT64_MAX / 4 && w.offset <= stored;
    const int64_t bytes = !counted ? -1 : w.dtype == ACL_INT4 ? stored / 2 : stored * width;
    const int64_t offset_bytes = !counted ? 0 : w.dtype == ACL_INT4 ? w.offset / 2 : w.offset * width;
    const size_t needed = weight_bytes();
    if (!counted || static_cast<uint64_t>(bytes - offset_bytes) < needed) {
      return c_.fail(ACLNN_ERR_PARAM_INVALID, "weight storage shape " + shape_text(w.storage_dims) + " (" +
                                                  std::to_string(bytes) + " bytes) does not hold its " +
                                                  tensor::format_name(w.format) + " " + shape_text({view_.k, view_.n}) +
                                                  " matrix (" + std::to_string(needed) + " bytes) at offset " +
                                                  std::to_string(w.offset));
    }
    for (const Named &a : all()) {
      if (a.t != nullptr) INT4PACK_TRY(c_.data(*a.t, a.name));
    }
    return ACLNN_SUCCESS;
  }

  // The bytes the weight's layout needs (the stored matrix is (n, k) when transposed).
  size_t weight_bytes() const {
    const int64_t rows = weight_transposed_ ? view_.n : view_.k;
    const int64_t cols = weight_transposed_ ? view_.k : view_.n;
    const int64_t row_blocks = (rows + 15) / 16;
    const bool int4 = view_.dtype == ACL_INT4;
    if (weight_->format == ACL_FORMAT_FRACTAL_NZ) {
      return static_cast<size_t>((cols + (int4 ? 63 : 31)) / (int4 ? 64 : 32) * row_blocks * 512);
    }
    return static_cast<size_t>(int4 ? rows * cols / 2 : rows * cols);
  }

  aclnnStatus publish(uint64_t *workspaceSize, aclOpExecutor **executor) const {
    MatmulArgs args;
    args.x = matrix_of(*x_, element_type(x_->dtype));
    const aclTensor &w = *weight_;
    args.weight.type = view_.dtype == ACL_INT4 ? ElementType::kInt4 : ElementType::kInt8;
    const int64_t offset_bytes = w.dtype == ACL_INT4 ? w.offset / 2 : w.offset * (w.dtype == ACL_INT32 ? 4 : 1);
    args.weight.data = static_cast<const uint8_t *>(w.data) + offset_bytes;
    args.weight.bytes = weight_bytes();
    args.weight.layout = w.format == ACL_FORMAT_FRACTAL_NZ ? Layout::kNz : Layout::kNd;
    args.weight.transposed = weight_transposed_;
    args.weight.k = view_.k;
    args.weight.n = view_.n;
    args.scale = matrix_of(*scale_, element_type(scale_->dtype));
    if (offset_ != nullptr) args.offset = matrix_of(*offset_, element_type(offset_->dtype));
    args.group_size = group_size_;
    if (bias_ != nullptr && element_count(bias_->view_dims) > 0)
      args.bias = matrix_of(*bias_, element_type(bias_->dtype));
    if (quant_scale_ != nullptr) args.quant_scale = matrix_of(*quant_scale_, ElementType::kUint64);
    if (quant_offset_ != nullptr) args.quant_offset = matrix_of(*quant_offset_, ElementType::kFloat32);
    args.y_type = y_->dtype == ACL_INT8 ? ElementType::kInt8 : element_type(y_->dtype);
    args.y = static_cast<uint8_t *>(y_->data) + y_->offset * static_cast<int64_t>(element_size(args.y_type));
    size_t workspace = 0;
    if (const Result r = matmul_workspace(args, &workspace); !r) {
      return c_.fail(ACLNN_ERR_INNER, "the engine refuses what the checks accepted: " + r.message);
    }
    return publish_executor(
        kPhase1,
        [args](void *ws) -> aclError {
          const Result r = weight_quant_matmul(args, ws, 0);
          return r ? ACL_SUCCESS : r.kind == ErrorKind::kMemory ? ACL_ERROR_BAD_ALLOC : ACL_ERROR_INTERNAL_ERROR;
        },
        workspace, workspaceSize, executor);
  }

  const Checks c_{kPhase1};
  const aclTensor *x_, *weight_, *scale_, *offset_, *quant_scale_, *quant_offset_, *bias_;
  int group_size_;
  const aclTensor *y_;
  bool x_transposed_ = false;
  bool weight_transposed_ = false;
  WeightView view_;
  int64_t m_ = 0;
};

}  // namespace
}  // namespace int4pack::ops

extern "C" {

aclnnStatus aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(
    const aclTensor *x, const aclTensor *weight, const aclTensor *antiquantScale,
    const aclTensor *antiquantOffsetOptional, const aclTensor *quantScaleOptional, const aclTensor *quantOffsetOptional,
    const aclTensor *biasOptional, int antiquantGroupSize, const aclTensor *y, uint64_t *workspaceSize,
    aclOpExecutor **executor) {
  try {
    return int4pack::ops::Phase1(x, weight, antiquantScale, antiquantOffsetOptional, quantScaleOptional,
                                 quantOffsetOptional, biasOptional, antiquantGroupSize, y)
        .run(workspaceSize, executor);
  } catch (const std::bad_alloc &) {
    return int4pack::runtime::fail(ACLNN_ERR_INNER, std::string(int4pack::ops::kPhase1) + ": out of memory");
  }
}

aclnnStatus aclnnWeightQuantBatchMatmulV2(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor,
                                          aclrtStream stream) {
  return int4pack::ops::launch_executor("aclnnWeightQuantBatchMatmulV2", executor, workspace, workspaceSize, stream);
}

}  // extern "C"
