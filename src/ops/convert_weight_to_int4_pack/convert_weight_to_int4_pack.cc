// aclnnConvertWeightToINT4Pack: phase 1 checks and captures the pack; phase 2 runs it on the stream.
#include "aclnnop/aclnn_convert_weight_to_int4_pack.h"
#include "int4pack/engine.h"
#include "ops/common/int4_pair.h"
#include "ops/executor.h"

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
  Array values;
  values.data = pair.carrier_data;
  values.shape = pair.shape;
  PackOptions unchecked;
  unchecked.check = false;  // CANN masks with 0xF and cannot see the data before the stream runs
  return ops::publish_executor(
      kPhase1,
      [values, pair, unchecked](void *) -> aclError {
        return pack(values, pair.layout, pair.packed_data, pair.packed_bytes, unchecked) ? ACL_SUCCESS
                                                                                         : ACL_ERROR_INTERNAL_ERROR;
      },
      0, workspaceSize, executor);
}

aclnnStatus aclnnConvertWeightToINT4Pack(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor,
                                         aclrtStream stream) {
  return int4pack::ops::launch_executor("aclnnConvertWeightToINT4Pack", executor, workspace, workspaceSize, stream);
}

}  // extern "C"
