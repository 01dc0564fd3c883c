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

// The work an executor performs on the stream's worker. It captures everything it needs by value.
using ExecutorWork = std::function<void()>;

// The end of every operator's phase 1: checks the out-pointers, registers work as a new executor and
// reports it with a workspace size of 0 (no operator here needs a workspace).
INT4PACK_INTERNAL aclnnStatus publish_executor(const char *api, ExecutorWork work, uint64_t *workspaceSize,
                                               aclOpExecutor **executor);

// Phase 2 of every operator: checks the handle, consumes it unless repeatable, enqueues its work.
INT4PACK_INTERNAL aclnnStatus launch_executor(const char *api, aclOpExecutor *executor, aclrtStream stream);

}  // namespace int4pack::ops

#endif  // INT4PACK_OPS_EXECUTOR_H_
