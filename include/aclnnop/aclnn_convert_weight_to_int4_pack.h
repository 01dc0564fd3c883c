/*
 * int4pack — aclnnConvertWeightToINT4Pack: pack an INT32 carrier of int4 values into dense INT4.
 *
 * weight: INT32, ND, 2-D (dim0, dim1), contiguous; values are masked with 0xF (not range-checked).
 * weightInt4Pack: one of
 *   INT4  ND          view (dim0, dim1)    storage = view                      dim1 % 2 == 0
 *   INT4  FRACTAL_NZ  view (dim0, dim1)    storage (ceil(dim1/64), ceil(dim0/16), 16, 64)
 *   INT32 ND          view (dim0, dim1/8)  storage = view                      dim1 % 8 == 0
 *   INT32 FRACTAL_NZ  view (dim0, dim1/8)  storage (ceil(dim1/64), ceil(dim0/16), 16, 8)
 * Element 2j of a row goes to the low nibble of byte j, element 2j+1 to its high nibble. INT32 output
 * holds the same bytes as INT4 output of the same format. NZ padding bytes are written as 0.
 */
#ifndef INT4PACK_ACLNNOP_ACLNN_CONVERT_WEIGHT_TO_INT4_PACK_H_
#define INT4PACK_ACLNNOP_ACLNN_CONVERT_WEIGHT_TO_INT4_PACK_H_

#include "../aclnn/aclnn_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Phase 1: checks both descriptors (in CANN's order; the first failure wins) and makes an executor.
 * weight, weightInt4Pack: borrowed for the call only; the executor keeps their data addresses and shapes
 * as they are now, so re-labelling weightInt4Pack afterwards (aclInitTensor) does not change the run.
 * workspaceSize, executor: out, caller-owned. The executor is owned by the library until phase 2
 * consumes it, unless made repeatable.
 */
ACL_FUNC_VISIBILITY aclnnStatus aclnnConvertWeightToINT4PackGetWorkspaceSize(const aclTensor *weight,
                                                                             aclTensor *weightInt4Pack,
                                                                             uint64_t *workspaceSize,
                                                                             aclOpExecutor **executor);
/*
 * Phase 2: enqueues the packing on stream (NULL: the default stream) and returns at once. The output is
 * complete after aclrtSynchronizeStream. Both tensors' data must stay allocated until then.
 * workspace: borrowed; may be NULL when workspaceSize is 0 (this operator needs none).
 */
ACL_FUNC_VISIBILITY aclnnStatus aclnnConvertWeightToINT4Pack(void *workspace, uint64_t workspaceSize,
                                                             aclOpExecutor *executor, aclrtStream stream);

#ifdef __cplusplus
}
#endif

#endif /* INT4PACK_ACLNNOP_ACLNN_CONVERT_WEIGHT_TO_INT4_PACK_H_ */
