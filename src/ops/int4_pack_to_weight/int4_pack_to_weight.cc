// aclnnInt4PackToWeight (int4pack extension): the inverse of aclnnConvertWeightToINT4Pack.
#include "aclnnop/aclnn_int4_pack_to_weight.h"
#include "int4pack/engine.h"
#include "ops/common/int4_pair.h"
#include "ops/executor.h"

namespace {

constexpr const char *kPhase1 = "aclnnInt4PackToWeightGetWorkspaceSize";

}  // namespace

extern "C" {

aclnnStatus aclnnInt4PackToWeightGetWorkspaceSize(const aclTensor *packed, aclTensor *weight, uint64_t *workspaceSize,
                                                  aclOpExecutor **executor) {
  using namespace int4pack;
  ops::Int4Pair pair;
  const aclnnStatus status = ops::check_int4_pair({kPhase1, "weight", "packed", true}, weight, packed, &pair);
  if (status != ACLNN_SUCCESS) return status;
  size_t values = 1;
  for (int64_t d : pair.shape) values *= static_cast<size_t>(d);
  return ops::publish_executor(
      kPhase1,
      [pair, values](void *) -> aclError {
        return unpack(pair.packed_data, pair.packed_bytes, pair.shape, pair.layout,
                      static_cast<int32_t *>(pair.carrier_data), values)
                   ? ACL_SUCCESS
                   : ACL_ERROR_INTERNAL_ERROR;
      },
      0, workspaceSize, executor);
}

aclnnStatus aclnnInt4PackToWeight(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor,
                                  aclrtStream stream) {
  return int4pack::ops::launch_executor("aclnnInt4PackToWeight", executor, workspace, workspaceSize, stream);
}

}  // extern "C"
