// Operator executors: what phase 1 of an operator builds and phase 2 runs on a stream.
//
// Handles are not addresses: each executor gets a never-reused number, so a consumed or destroyed
// executor is recognised as such for the life of the process instead of being read after it was freed.
#ifndef INT4PACK_OPS_EXECUTOR_H_
#define INT4PACK_OPS_EXECUTOR_H_

#include <functional>

#include "aclnn/aclnn_base.h"
#include "runtime/internal_api.h"

namespace int4pack::ops {

// The work an executor performs on the stream's worker, given the workspace phase 2 passed (null when it
// needs none). It captures everything else by value at phase 1; what it returns is what
// aclrtSynchronizeStream reports.
using ExecutorWork = std::function<aclError(void *workspace)>;

// The end of every operator's phase 1: checks the out-pointers, registers work as a new executor that
// needs workspace_bytes of workspace, and reports that size.
INT4PACK_INTERNAL aclnnStatus publish_executor(const char *api, ExecutorWork work, uint64_t workspace_bytes,
                                               uint64_t *workspaceSize, aclOpExecutor **executor);

// Phase 2 of every operator: checks the handle and the workspace against what phase 1 reported,
// consumes the executor unless repeatable, enqueues its work.
INT4PACK_INTERNAL aclnnStatus launch_executor(const char *api, aclOpExecutor *executor, void *workspace,
                                              uint64_t workspaceSize, aclrtStream stream);

}  // namespace int4pack::ops

#endif  // INT4PACK_OPS_EXECUTOR_H_
