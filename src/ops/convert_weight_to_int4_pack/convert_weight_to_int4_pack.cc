// aclnnConvertWeightToINT4Pack: phase 1 checks and captures a PackPlan; phase 2 runs it on the stream.
#include "aclnnop/aclnn_convert_weight_to_int4_pack.h"
#include "core/pack.h"
#include "ops/executor.h"
#include "ops/int4_pack_checks.h"

namespace {

constexpr const char *kPhase1 = "aclnnConvertWeightToINT4PackGetWorkspaceSize";

}  // namespace

extern "C" {

aclnnStatus aclnnConvertWeightToINT4PackGetWorkspaceSize(const aclTensor *weight, aclTensor *weightInt4Pack,
                                                         uint64_t *workspaceSize, aclOpExecutor **executor) {
  using namespace int4pack;
  ops::Int4Pair pair;
  const aclnnStatus status =
      ops::check_int4_pair({kPhase1, "weight", "weightInt4Pack", false}, weight, weightInt4Pack, &pair);
  if (status != ACLNN_SUCCESS) return status;
  const PackPlan plan{pair.shape, pair.layout, static_cast<const int32_t *>(pair.carrier_data),
                      static_cast<uint8_t *>(pair.packed_data)};
  return ops::publish_executor(
      kPhase1, [plan] { pack(plan); }, workspaceSize, executor);
}

aclnnStatus aclnnConvertWeightToINT4Pack(void * /*workspace*/, uint64_t /*workspaceSize*/, aclOpExecutor *executor,
                                         aclrtStream stream) {
  return int4pack::ops::launch_executor("aclnnConvertWeightToINT4Pack", executor, stream);
}

}  // extern "C"
