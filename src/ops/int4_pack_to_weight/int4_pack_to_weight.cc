// aclnnInt4PackToWeight (int4pack extension): the inverse of aclnnConvertWeightToINT4Pack.
#include "aclnnop/aclnn_int4_pack_to_weight.h"
#include "core/pack.h"
#include "ops/executor.h"
#include "ops/int4_pack_checks.h"

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
  const UnpackPlan plan{pair.shape, pair.layout, static_cast<const uint8_t *>(pair.packed_data),
                        static_cast<int32_t *>(pair.carrier_data)};
  return ops::publish_executor(
      kPhase1, [plan] { unpack(plan); }, workspaceSize, executor);
}

aclnnStatus aclnnInt4PackToWeight(void * /*workspace*/, uint64_t /*workspaceSize*/, aclOpExecutor *executor,
                                  aclrtStream stream) {
  return int4pack::ops::launch_executor("aclnnInt4PackToWeight", executor, stream);
}

}  // extern "C"
