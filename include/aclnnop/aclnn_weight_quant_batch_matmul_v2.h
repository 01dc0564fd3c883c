/*
 * int4pack — aclnnWeightQuantBatchMatmulV2: y = x @ ANTIQUANT(weight) + bias, with
 * ANTIQUANT(w) = (w + antiquantOffset) * antiquantScale (CANN's A2/A3 scenarios).
 *
 * x:               FLOAT16 or BFLOAT16, (m, k), contiguous or transposed (strides (1, m))
 * weight:          INT8, INT4 or INT32 (8 int4 values a word: (k, n/8), transposed (k/8, n)), (k, n), ND or
 *                  FRACTAL_NZ, contiguous or transposed (strides (1, k): the (n, k) matrix is what is stored,
 *                  as aclnnConvertWeightToINT4Pack packs it)
 * antiquantScale:  x's dtype, per-tensor (1,)/(1, 1), per-channel (n,)/(1, n) or per-group (ceil(k/g), n);
 *                  or UINT64/INT64 words holding a float in their low 32 bits (packed scale: x FLOAT16, a
 *                  transposed INT8 ND weight, per-channel, y FLOAT16, m <= 96, k and n multiples of 64)
 * antiquantOffsetOptional:  the scale's shape and dtype (INT32 with a packed scale); NULL: none
 * quantScaleOptional:       UINT64 (INT64 accepted) words, (1,), (n,) or (1, n): then y is INT8
 * quantOffsetOptional:      FLOAT, quantScale's shape; needs quantScale
 * biasOptional:             FLOAT16 for FLOAT16 x, FLOAT for BFLOAT16 x; (n,) or (1, n)
 * antiquantGroupSize:       0 (per-tensor, per-channel), or a multiple of 32 in [32, k - 1]
 * y:                        x's dtype (INT8 with quantScale), (m, n), contiguous
 *
 * Numerics follow CANN's golden steps: the antiquantized weight is rounded to x's dtype, products are
 * accumulated in float32, y is rounded once at the end. Unlike CANN's kernels, the result does not depend
 * on the thread count or the run. FRACTAL_NZ INT4 weights: per-channel needs the transposed weight;
 * per-group needs x and weight not transposed, a group size of 64 or 128, k % group == 0, n % 64 == 0.
 */
#ifndef INT4PACK_ACLNNOP_ACLNN_WEIGHT_QUANT_BATCH_MATMUL_V2_H_
#define INT4PACK_ACLNNOP_ACLNN_WEIGHT_QUANT_BATCH_MATMUL_V2_H_

#include "../aclnn/aclnn_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Phase 1: checks every argument (CANN's order; the first failure wins) and makes an executor, capturing
 * the tensors' data addresses and shapes as they are now. workspaceSize, executor: out, caller-owned.
 */
ACL_FUNC_VISIBILITY aclnnStatus aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(
    const aclTensor *x, const aclTensor *weight, const aclTensor *antiquantScale,
    const aclTensor *antiquantOffsetOptional, const aclTensor *quantScaleOptional, const aclTensor *quantOffsetOptional,
    const aclTensor *biasOptional, int antiquantGroupSize, const aclTensor *y, uint64_t *workspaceSize,
    aclOpExecutor **executor);
/* Phase 2: enqueues the matmul on stream (NULL: the default stream); y is complete after aclrtSynchronizeStream. */
ACL_FUNC_VISIBILITY aclnnStatus aclnnWeightQuantBatchMatmulV2(void *workspace, uint64_t workspaceSize,
                                                              aclOpExecutor *executor, aclrtStream stream);

#ifdef __cplusplus
}
#endif

#endif /* INT4PACK_ACLNNOP_ACLNN_WEIGHT_QUANT_BATCH_MATMUL_V2_H_ */
