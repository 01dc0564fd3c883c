/*
 * int4pack — CANN-compatible tensor descriptors and operator executors.
 *
 * An aclTensor describes memory it does not own: a view (shape, strides, offset in elements), a dtype,
 * one format for view and storage, a storage shape, and the data address. Destroying a tensor never
 * frees its data. Tensors are not synchronised: one tensor must not be changed by one thread while
 * another reads it.
 */
#ifndef INT4PACK_ACLNN_ACL_META_H_
#define INT4PACK_ACLNN_ACL_META_H_

#include <stdint.h>

#include "../acl/acl_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t aclnnStatus;
typedef struct aclTensor aclTensor;
typedef struct aclOpExecutor aclOpExecutor;

/*
 * Creates a descriptor; the caller owns it (aclDestroyTensor). The dims and stride arrays are copied;
 * tensorData is borrowed, never freed. stride NULL means row-major contiguous. Returns NULL when a dims
 * pointer is NULL while its count is > 0, when a count is over 64, or when memory runs out.
 */
ACL_FUNC_VISIBILITY aclTensor *aclCreateTensor(const int64_t *viewDims, uint64_t viewDimsNum, aclDataType dataType,
                                               const int64_t *stride, int64_t offset, aclFormat format,
                                               const int64_t *storageDims, uint64_t storageDimsNum, void *tensorData);
/* Re-describes an existing tensor with the same rules. 161001 when tensor is NULL. */
ACL_FUNC_VISIBILITY aclnnStatus aclInitTensor(aclTensor *tensor, const int64_t *viewDims, uint64_t viewDimsNum,
                                              aclDataType dataType, const int64_t *stride, int64_t offset,
                                              aclFormat format, const int64_t *storageDims, uint64_t storageDimsNum,
                                              void *tensorData);
/* NULL is accepted (returns 0). A pointer that is not a live tensor is refused with 161002. */
ACL_FUNC_VISIBILITY aclnnStatus aclDestroyTensor(const aclTensor *tensor);

/* Accessors: the arrays handed out are new[]-allocated and owned by the caller (release with delete[]). */
ACL_FUNC_VISIBILITY aclnnStatus aclGetViewShape(const aclTensor *tensor, int64_t **viewDims, uint64_t *viewDimsNum);
ACL_FUNC_VISIBILITY aclnnStatus aclGetStorageShape(const aclTensor *tensor, int64_t **storageDims,
                                                   uint64_t *storageDimsNum);
ACL_FUNC_VISIBILITY aclnnStatus aclGetViewStrides(const aclTensor *tensor, int64_t **stridesValue,
                                                  uint64_t *stridesNum);
ACL_FUNC_VISIBILITY aclnnStatus aclGetViewOffset(const aclTensor *tensor, int64_t *offset);
ACL_FUNC_VISIBILITY aclnnStatus aclGetFormat(const aclTensor *tensor, aclFormat *format);
ACL_FUNC_VISIBILITY aclnnStatus aclGetDataType(const aclTensor *tensor, aclDataType *dataType);

/*
 * An executor made by an operator's phase 1 is consumed (and released) by its phase 2. After this call it
 * may run any number of times instead, and the caller releases it with aclDestroyAclOpExecutor.
 * NULL executor: 561103. An executor that is no longer live (consumed or destroyed): 161002.
 */
ACL_FUNC_VISIBILITY aclnnStatus aclSetAclOpExecutorRepeatable(aclOpExecutor *executor);
/* Safe while runs of the executor are still queued on a stream: they complete first. */
ACL_FUNC_VISIBILITY aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor *executor);

#ifdef __cplusplus
}
#endif

#endif /* INT4PACK_ACLNN_ACL_META_H_ */
