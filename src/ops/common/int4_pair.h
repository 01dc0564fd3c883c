// The checks shared by aclnnConvertWeightToINT4Pack and its inverse: an INT32 carrier matrix on one side,
// its packed INT4/INT32, ND/FRACTAL_NZ form on the other. Order and status codes follow CANN's operator.
#ifndef INT4PACK_OPS_COMMON_INT4_PAIR_H_
#define INT4PACK_OPS_COMMON_INT4_PAIR_H_

#include <cstdint>
#include <vector>

#include "aclnn/aclnn_base.h"
#include "int4pack/engine.h"

namespace int4pack::ops {

struct PairNames {
  const char *api;      // e.g. "aclnnConvertWeightToINT4PackGetWorkspaceSize"
  const char *carrier;  // the INT32 ND tensor's argument name
  const char *packed;   // the packed tensor's argument name
  bool packed_first;    // the packed tensor is the operator's first argument (checks follow argument order)
};

// What the checks establish, ready for the engine's pack / unpack.
struct Int4Pair {
  std::vector<int64_t> shape;  // of the carrier: (rows, cols) int4 values
  Layout layout = Layout::kNd;
  void *carrier_data = nullptr;  // first element of the carrier's view
  void *packed_data = nullptr;   // first byte of the packed encoding
  size_t packed_bytes = 0;
};

// Runs every check in order; on the first failure records a message naming the argument, the rule and
// the actual values, and returns its status. On success fills *pair.
aclnnStatus check_int4_pair(const PairNames &names, const aclTensor *carrier, const aclTensor *packed, Int4Pair *pair);

}  // namespace int4pack::ops

#endif  // INT4PACK_OPS_COMMON_INT4_PAIR_H_
