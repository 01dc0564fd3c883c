// aclnnCast: phase 1 checks self, dtype and out (CANN's A2/A3 dtype list; shapes equal, at most 8 dims)
// and captures the conversion; phase 2 runs the engine's cast (include/int4pack/engine.h) on the stream.
#include <string>

#include "aclnnop/aclnn_cast.h"
#include "int4pack/engine.h"
#include "ops/common/checks.h"
#include "ops/common/element_types.h"
#include "ops/executor.h"

namespace int4pack::ops {
namespace {

constexpr const char *kPhase1 = "aclnnCastGetWorkspaceSize";
constexpr size_t kMaxDims = 8;

constexpr DtypeList kCastDtypes = {ACL_FLOAT16, ACL_FLOAT, ACL_DOUBLE, ACL_INT8,      ACL_UINT8,
                                   ACL_INT16,   ACL_INT32, ACL_INT64,  ACL_UINT16,    ACL_UINT32,
                                   ACL_UINT64,  ACL_BOOL,  ACL_BF16,   ACL_COMPLEX64, ACL_COMPLEX128};

bool in_list(int32_t dtype) {
  for (int32_t d : kCastDtypes) {
    if (d == dtype) return true;
  }
  return false;
}

aclnnStatus phase1(const aclTensor *self, int32_t dtype, const aclTensor *out, uint64_t *workspaceSize,
                   aclOpExecutor **executor) {
  const Checks c(kPhase1);
  INT4PACK_TRY(c.not_null(self, "self"));
  INT4PACK_TRY(c.not_null(out, "out"));
  INT4PACK_TRY(c.not_null(workspaceSize, "workspaceSize"));
  INT4PACK_TRY(c.not_null(executor, "executor"));
  INT4PACK_TRY(c.live(self, "self"));
  INT4PACK_TRY(c.live(out, "out"));
  INT4PACK_TRY(c.dtype_in(*self, "self", kCastDtypes));
  if (!in_list(dtype)) {
    return c.fail(ACLNN_ERR_PARAM_INVALID, "dtype must be one of the A2/A3 list, but got " + tensor::dtype_name(dtype));
  }
  INT4PACK_TRY(c.dtype_in(*out, "out", kCastDtypes));
  if (out->dtype != dtype) {
    return c.fail(ACLNN_ERR_PARAM_INVALID, "dtype " + tensor::dtype_name(dtype) + " and out's dtype " +
                                               tensor::dtype_name(out->dtype) +
                                               " must be the same (CANN casts to dtype and writes out as its own)");
  }
  INT4PACK_TRY(c.rank_in(*self, "self", 0, kMaxDims));
  if (out->view_dims != self->view_dims) {
    return c.fail(ACLNN_ERR_PARAM_INVALID, "out shape must be self's " + shape_text(self->view_dims) + ", but got " +
                                               shape_text(out->view_dims));
  }
  if (element_count(self->view_dims) < 0) {
    return c.fail(ACLNN_ERR_PARAM_INVALID, "self shape " + shape_text(self->view_dims) + " is not a shape");
  }
  INT4PACK_TRY(c.strided_storage(*self, "self"));
  INT4PACK_TRY(c.strided_storage(*out, "out"));
  const bool empty = element_count(self->view_dims) == 0;
  if (!empty) {
    INT4PACK_TRY(c.data(*self, "self"));
    INT4PACK_TRY(c.data(*out, "out"));
  }
  INT4PACK_TRY(c.engine_ready());
  if (empty) {  // nothing to read or write (the offsets of an empty view need not lie in any memory)
    return publish_executor(
        kPhase1, [](void *) -> aclError { return ACL_SUCCESS; }, 0, workspaceSize, executor);
  }
  Array from;
  from.type = *element_type_of(self->dtype);
  from.data = static_cast<const uint8_t *>(self->data) + self->offset * static_cast<int64_t>(element_size(from.type));
  from.shape = self->view_dims;
  from.strides = self->strides;
  const ElementType to = *element_type_of(dtype);
  void *dst = static_cast<uint8_t *>(out->data) + out->offset * static_cast<int64_t>(element_size(to));
  const std::vector<int64_t> out_strides = out->strides;
  return publish_executor(
      kPhase1,
      [from, to, dst, out_strides](void *) -> aclError {
        const Result r = cast(from, to, dst, out_strides);
        return r ? ACL_SUCCESS : r.kind == ErrorKind::kMemory ? ACL_ERROR_BAD_ALLOC : ACL_ERROR_INTERNAL_ERROR;
      },
      0, workspaceSize, executor);
}

}  // namespace
}  // namespace int4pack::ops

extern "C" {

aclnnStatus aclnnCastGetWorkspaceSize(const aclTensor *self, const aclDataType dtype, aclTensor *out,
                                      uint64_t *workspaceSize, aclOpExecutor **executor) {
  try {
    return int4pack::ops::phase1(self, int4pack::tensor::enum_bits(dtype), out, workspaceSize, executor);
  } catch (const std::bad_alloc &) {
    return int4pack::runtime::fail(ACLNN_ERR_INNER, "aclnnCastGetWorkspaceSize: out of memory");
  }
}

aclnnStatus aclnnCast(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor, aclrtStream stream) {
  return int4pack::ops::launch_executor("aclnnCast", executor, workspace, workspaceSize, stream);
}

}  // extern "C"
