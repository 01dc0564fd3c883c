// The vocabulary every operator's phase 1 is written in: one Checks per call, one method per kind of rule
// (null, liveness, contiguity, dtype, format, rank, shape, data), each recording "<api>: <message>" and
// returning its status when the rule is broken, ACLNN_SUCCESS otherwise. An operator's checks are then a
// list of these in CANN's order:
//
//   const Checks c(kApi);
//   INT4PACK_TRY(c.not_null(weight, "weight"));
//   INT4PACK_TRY(c.dtype_in(*weight, "weight", {ACL_INT32}));
#ifndef INT4PACK_OPS_COMMON_CHECKS_H_
#define INT4PACK_OPS_COMMON_CHECKS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "aclnn/aclnn_base.h"
#include "tensor/tensor.h"

// Returns the status of a check from the enclosing function unless it is ACLNN_SUCCESS.
#define INT4PACK_TRY(check)                                         \
  do {                                                              \
    const aclnnStatus int4pack_status_ = (check);                   \
    if (int4pack_status_ != ACLNN_SUCCESS) return int4pack_status_; \
  } while (false)

namespace int4pack::ops {

// "(2, 3)", "(64,)", "()": shapes in messages.
std::string shape_text(const std::vector<int64_t> &dims);

// Elements of dims, or -1 when a dim is negative or the product leaves int64.
int64_t element_count(const std::vector<int64_t> &dims);

// Row-major strides, size-1 dims ignored; a private (blocked) format counts as contiguous, as in CANN.
bool is_contiguous(const aclTensor &t);
// CANN's transposed pattern: at least 2-D, stride[-2] == 1 and stride[-1] == shape[-2], not a (1, 1)
// matrix, and the leading dims contiguous around it.
bool is_transposed(const aclTensor &t);

using DtypeList = std::initializer_list<int32_t>;
using FormatList = std::initializer_list<int32_t>;

class Checks {
 public:
  explicit Checks(const char *api) : api_(api) {}
  const char *api() const { return api_; }

  // Records "<api>: <what>" for aclGetRecentErrMsg and returns status.
  aclnnStatus fail(aclnnStatus status, const std::string &what) const;

  // 161001 "<name> is NULL".
  aclnnStatus not_null(const void *p, const std::string &name) const;
  // 161002 unless t came from aclCreateTensor and is not destroyed.
  aclnnStatus live(const aclTensor *t, const std::string &name) const;
  // 161002 "<name> only support contiguous tensors, but its view ... has strides ...".
  aclnnStatus contiguous(const aclTensor &t, const std::string &name) const;
  // Contiguous, or CANN's transposed pattern (then *transposed is set).
  aclnnStatus contiguous_or_transposed(const aclTensor &t, const std::string &name, bool *transposed) const;
  // 161002 naming the dtype and the supported ones.
  aclnnStatus dtype_in(const aclTensor &t, const std::string &name, DtypeList supported) const;
  // 161002 naming the format and the supported ones.
  aclnnStatus format_in(const aclTensor &t, const std::string &name, FormatList supported) const;
  // 161002 unless the view has lo..hi dims.
  aclnnStatus rank_in(const aclTensor &t, const std::string &name, size_t lo, size_t hi) const;
  // Beyond CANN, what keeps a run inside the memory the descriptor declares: an offset that is not
  // negative (0 for FRACTAL_NZ, even for INT4), and an origin format's storage that holds its view there.
  aclnnStatus storage(const aclTensor &t, const std::string &name) const;
  // The same for a view read through any strides (a non-contiguous input): every element it reaches,
  // from offset + the smallest to offset + the largest sum of (index x stride), lies in its storage.
  aclnnStatus strided_storage(const aclTensor &t, const std::string &name) const;
  // Beyond CANN: 161001 when the data address is NULL.
  aclnnStatus data(const aclTensor &t, const std::string &name) const;
  // 561003 when the engine cannot run with its settings (INT4PACK_ISA, INT4PACK_NUM_THREADS).
  aclnnStatus engine_ready() const;

 private:
  const char *api_;
};

}  // namespace int4pack::ops

#endif  // INT4PACK_OPS_COMMON_CHECKS_H_
