/*
 * int4pack — CANN-compatible operator base header: tensors, executors and ACLNN status codes.
 */
#ifndef INT4PACK_ACLNN_ACLNN_BASE_H_
#define INT4PACK_ACLNN_ACLNN_BASE_H_

#include "acl_meta.h"

/* ACLNN status codes. Ranges: 1xxxxx caller's mistake, 3xxxxx runtime state, 5xxxxx internal. */
#define ACLNN_SUCCESS 0
#define ACLNN_ERR_PARAM_NULLPTR 161001
#define ACLNN_ERR_PARAM_INVALID 161002
#define ACLNN_ERR_RUNTIME_ERROR 361001
#define ACLNN_ERR_INNER 561000
#define ACLNN_ERR_INNER_INFERSHAPE_ERROR 561001
#define ACLNN_ERR_INNER_TILING_ERROR 561002
#define ACLNN_ERR_INNER_FIND_KERNEL_ERROR 561003
#define ACLNN_ERR_INNER_CREATE_EXECUTOR 561101
#define ACLNN_ERR_INNER_NOT_TRANS_EXECUTOR 561102
#define ACLNN_ERR_INNER_NULLPTR 561103

#endif /* INT4PACK_ACLNN_ACLNN_BASE_H_ */
