// verify --matmul: a converted layer multiplied by aclnnWeightQuantBatchMatmulV2 through the CANN API,
// against the original layer's own dequantization in double precision.
#ifndef INT4PACK_TOOLS_MATMUL_CHECK_H_
#define INT4PACK_TOOLS_MATMUL_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/original_layer.h"
#include "checkpoint/packed_record.h"

namespace int4pack::tool {

// A converted layer's tensors as the output file holds them.
struct ConvertedTensors {
  const uint8_t *weight = nullptr;  // P.weight's bytes
  size_t weight_bytes = 0;
  std::vector<int64_t> weight_storage;  // its stored shape (U8 bytes or I32 words)
  const uint8_t *scale = nullptr;       // in the record's act dtype
  const uint8_t *offset = nullptr;      // or null
  std::vector<int64_t> param_shape;     // (n,) or (G, n)
  const uint8_t *perm = nullptr;        // int32 (k,), or null
};

struct MatmulCheck {
  int64_t rows = 0;        // of the random x
  double worst_ratio = 0;  // max |y - y_ref| / tolerance over y; above 1 fails
  double error = 0;        // at the worst element
  double tolerance = 0;    // there
  std::string failure;     // the operator refused the call (its status and message), else ""
  bool ok() const { return failure.empty() && worst_ratio <= 1.0; }
};

// y = x' W' for a seeded random x (a few rows, in the act dtype; x' = x[:, perm] with act-order), with the
// operator, against y_ref = x W with the original's weights in double. The tolerance of each y is
//   (3.2 u + 1.02 k 2^-24) * sum_c |x_c| (|Qs| + |Zs|) |S|  +  u |y_ref|  +  2^-24
// with u the act dtype's unit roundoff (2^-11 FLOAT16, 2^-8 BFLOAT16): the scale and (for msModelSlim)
// the offset rounded to the act dtype and the antiquantized weight rounded once more (3 u), the float32
// sum over k (k 2^-24), the final rounding of y (u), and half an FLOAT16 subnormal step.
MatmulCheck check_matmul(const checkpoint::OriginalLayer &original, const checkpoint::PackedRecord &record,
                         const ConvertedTensors &tensors, uint64_t seed);

}  // namespace int4pack::tool

#endif  // INT4PACK_TOOLS_MATMUL_CHECK_H_
