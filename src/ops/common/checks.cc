#include "ops/common/checks.h"

#include "int4pack/engine.h"
#include "runtime/internal_api.h"

namespace int4pack::ops {
namespace {

template <typename Names, typename Name>
std::string list_text(const Names &values, Name name) {
  std::string s = "[";
  for (auto it = values.begin(); it != values.end(); ++it) s += (it == values.begin() ? "" : ", ") + name(*it);
  return s + "]";
}

bool contains(std::initializer_list<int32_t> values, int32_t v) {
  for (int32_t x : values) {
    if (x == v) return true;
  }
  return false;
}

}  // namespace

std::string shape_text(const std::vector<int64_t> &dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

int64_t element_count(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

// Wrapping arithmetic, as contiguous_strides(): absurd dims compare unequal instead of overflowing.
bool is_contiguous(const aclTensor &t) {
  if (!tensor::is_origin_format(t.format)) return true;
  uint64_t expected = 1;
  for (size_t i = t.view_dims.size(); i-- > 0;) {
    if (t.view_dims[i] != 1 && static_cast<uint64_t>(t.strides[i]) != expected) return false;
    expected *= static_cast<uint64_t>(t.view_dims[i]);
  }
  return true;
}

bool is_transposed(const aclTensor &t) {
  const size_t r = t.view_dims.size();
  if (r < 2 || !tensor::is_origin_format(t.format)) return false;
  const int64_t rows = t.view_dims[r - 2];
  const int64_t cols = t.view_dims[r - 1];
  if (rows == 1 && cols == 1) return false;
  if (t.strides[r - 2] != 1 || t.strides[r - 1] != rows) return false;
  uint64_t expected = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
  for (size_t i = r - 2; i-- > 0;) {
    if (t.view_dims[i] != 1 && static_cast<uint64_t>(t.strides[i]) != expected) return false;
    expected *= static_cast<uint64_t>(t.view_dims[i]);
  }
  return true;
}

aclnnStatus Checks::fail(aclnnStatus status, const std::string &what) const {
  return runtime::fail(status, std::string(api_) + ": " + what);
}

aclnnStatus Checks::not_null(const void *p, const std::string &name) const {
  return p == nullptr ? fail(ACLNN_ERR_PARAM_NULLPTR, name + " is NULL") : ACLNN_SUCCESS;
}

aclnnStatus Checks::live(const aclTensor *t, const std::string &name) const {
  return tensor::is_live(t) ? ACLNN_SUCCESS : fail(ACLNN_ERR_PARAM_INVALID, name + " is not a live aclTensor");
}

aclnnStatus Checks::contiguous(const aclTensor &t, const std::string &name) const {
  if (is_contiguous(t)) return ACLNN_SUCCESS;
  return fail(ACLNN_ERR_PARAM_INVALID,
              name + " only support contiguous tensors, but its view " + shape_text(t.view_dims) + " has strides " +
                  shape_text(t.strides) + " (contiguous: " + shape_text(tensor::contiguous_strides(t.view_dims)) + ")");
}

aclnnStatus Checks::contiguous_or_transposed(const aclTensor &t, const std::string &name, bool *transposed) const {
  *transposed = false;
  if (is_contiguous(t)) return ACLNN_SUCCESS;
  if (is_transposed(t)) {
    *transposed = true;
    return ACLNN_SUCCESS;
  }
  return fail(ACLNN_ERR_PARAM_INVALID, name + " only support contiguous or transposed tensors, but its view " +
                                           shape_text(t.view_dims) + " has strides " + shape_text(t.strides) +
                                           " (contiguous: " + shape_text(tensor::contiguous_strides(t.view_dims)) +
                                           ")");
}

aclnnStatus Checks::dtype_in(const aclTensor &t, const std::string &name, DtypeList supported) const {
  if (contains(supported, t.dtype)) return ACLNN_SUCCESS;
  const std::string list = list_text(supported, tensor::dtype_name);
  return fail(ACLNN_ERR_PARAM_INVALID,
              name + " dtype must be " +
                  (supported.size() == 1 ? tensor::dtype_name(*supported.begin()) + " (supported: " + list + ")"
                                         : "one of " + list) +
                  ", but got " + tensor::dtype_name(t.dtype));
}

aclnnStatus Checks::format_in(const aclTensor &t, const std::string &name, FormatList supported) const {
  if (contains(supported, t.format)) return ACLNN_SUCCESS;
  return fail(ACLNN_ERR_PARAM_INVALID,
              name + " format must be " +
                  (supported.size() == 1 ? tensor::format_name(*supported.begin())
                                         : "one of " + list_text(supported, tensor::format_name)) +
                  ", but got " + tensor::format_name(t.format));
}

aclnnStatus Checks::rank_in(const aclTensor &t, const std::string &name, size_t lo, size_t hi) const {
  const size_t rank = t.view_dims.size();
  if (rank >= lo && rank <= hi) return ACLNN_SUCCESS;
  const std::string count = lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
  return fail(ACLNN_ERR_PARAM_INVALID, name + " view must have " + count + " dims (supported range [" +
                                           std::to_string(lo) + ", " + std::to_string(hi) + "]), but got " +
                                           std::to_string(rank) + " dims " + shape_text(t.view_dims));
}

aclnnStatus Checks::storage(const aclTensor &t, const std::string &name) const {
  if (t.offset < 0) {
    return fail(ACLNN_ERR_PARAM_INVALID, name + " offset must not be negative, but got " + std::to_string(t.offset));
  }
  if (!tensor::is_origin_format(t.format)) {
    if (t.offset == 0) return ACLNN_SUCCESS;
    return fail(ACLNN_ERR_PARAM_INVALID, name + " offset must be 0 for " + tensor::format_name(t.format) +
                                             ", but got " + std::to_string(t.offset));
  }
  if (t.dtype == ACL_INT4 && t.offset % 2 != 0) {
    return fail(ACLNN_ERR_PARAM_INVALID,
                name + " offset must be even for INT4 (whole bytes), but got " + std::to_string(t.offset));
  }
  const int64_t storage = element_count(t.storage_dims);
  const int64_t view = element_count(t.view_dims);
  if (storage < 0 || storage > INT64_MAX / 4 || t.offset > storage || storage - t.offset < view) {
    return fail(ACLNN_ERR_PARAM_INVALID, name + " storage shape " + shape_text(t.storage_dims) +
                                             " does not hold its view " + shape_text(t.view_dims) + " at offset " +
                                             std::to_string(t.offset));
  }
  return ACLNN_SUCCESS;
}

aclnnStatus Checks::strided_storage(const aclTensor &t, const std::string &name) const {
  if (t.offset < 0) {
    return fail(ACLNN_ERR_PARAM_INVALID, name + " offset must not be negative, but got " + std::to_string(t.offset));
  }
  const int64_t storage = element_count(t.storage_dims);
  const int64_t view = element_count(t.view_dims);
  bool fits = storage >= 0 && storage <= INT64_MAX / 16 && view >= 0;
  __int128 low = t.offset, high = t.offset;  // the elements reached, wide enough for any int64 strides
  for (size_t i = 0; fits && view > 0 && i < t.view_dims.size(); ++i) {
    const __int128 reach = static_cast<__int128>(t.view_dims[i] - 1) * t.strides[i];
    (reach < 0 ? low : high) += reach;
  }
  if (fits && view > 0) fits = low >= 0 && high < storage;
  if (!fits) {
    return fail(ACLNN_ERR_PARAM_INVALID, name + " storage shape " + shape_text(t.storage_dims) +
                                             " does not hold its view " + shape_text(t.view_dims) + " with strides " +
                                             shape_text(t.strides) + " at offset " + std::to_string(t.offset));
  }
  return ACLNN_SUCCESS;
}

aclnnStatus Checks::data(const aclTensor &t, const std::string &name) const {
  return t.data == nullptr ? fail(ACLNN_ERR_PARAM_NULLPTR, name + " data address is NULL") : ACLNN_SUCCESS;
}

aclnnStatus Checks::engine_ready() const {
  const Result status = engine_status();
  return status.ok() ? ACLNN_SUCCESS : fail(ACLNN_ERR_INNER_FIND_KERNEL_ERROR, "cannot run: " + status.message);
}

}  // namespace int4pack::ops
