/*
 * int4pack extension (not part of CANN) — aclnnInt4PackToWeight: the inverse of
 * aclnnConvertWeightToINT4Pack. Unpacks any of its four outputs back into an INT32 ND weight whose values
 * are the nibbles sign-extended to [-8, 7].
 *
 * packed: described exactly as the weightInt4Pack tensor of aclnnConvertWeightToINT4Pack (INT4 or INT32,
 * ND or FRACTAL_NZ, same view and storage rules). weight: INT32, ND, 2-D (dim0, dim1), contiguous.
 * NZ padding is ignored.
 */
#ifndef INT4PACK_ACLNNOP_ACLNN_INT4_PACK_TO_WEIGHT_H_
#define INT4PACK_ACLNNOP_ACLNN_INT4_PACK_TO_WEIGHT_H_

#include "../aclnn/aclnn_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Phase 1: same ownership rules as aclnnConvertWeightToINT4PackGetWorkspaceSize. */
ACL_FUNC_VISIBILITY aclnnStatus aclnnInt4PackToWeightGetWorkspaceSize(const aclTensor *packed, aclTensor *weight,
                                                                      uint64_t *workspaceSize,
                                                                      aclOpExecutor **executor);
/* Phase 2: enqueues the unpacking on stream (NULL: the default stream). */
ACL_FUNC_VISIBILITY aclnnStatus aclnnInt4PackToWeight(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor,
                                                      aclrtStream stream);

#ifdef __cplusplus
}
#endif

#endif /* INT4PACK_ACLNNOP_ACLNN_INT4_PACK_TO_WEIGHT_H_ */
