/*
 * int4pack — aclnnCast: out = self converted to dtype, element by element.
 *
 * self, out: FLOAT16, FLOAT, DOUBLE, INT8, UINT8, INT16, INT32, INT64, UINT16, UINT32, UINT64, BOOL, BFLOAT16,
 * COMPLEX64, COMPLEX128; the same shape, at most 8 dims, any format; self may be non-contiguous, out is
 * written through its view. dtype must be out's dtype (CANN does not compare them; this refuses a
 * mismatch). An empty self succeeds.
 *   float to float      to nearest, ties to even; too large: +-inf; NaN stays NaN
 *   float to integer    truncated toward zero, saturated to the target's range (CANN does not say), NaN -> 0
 *   integer to integer  the low bits (two's complement wrap-around)
 *   to BOOL             nonzero (NaN too) -> 1; complex to real: the real part
 */
#ifndef INT4PACK_ACLNNOP_ACLNN_CAST_H_
#define INT4PACK_ACLNNOP_ACLNN_CAST_H_

#include "../aclnn/aclnn_base.h"

#ifdef __cplusplus
extern "C" {
#endif

ACL_FUNC_VISIBILITY aclnnStatus aclnnCastGetWorkspaceSize(const aclTensor *self, const aclDataType dtype,
                                                          aclTensor *out, uint64_t *workspaceSize,
                                                          aclOpExecutor **executor);
ACL_FUNC_VISIBILITY aclnnStatus aclnnCast(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor,
                                          aclrtStream stream);

#ifdef __cplusplus
}
#endif

#endif /* INT4PACK_ACLNNOP_ACLNN_CAST_H_ */
