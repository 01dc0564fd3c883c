// verify --matmul's matmul: a converted layer multiplied by aclnnWeightQuantBatchMatmulV2 through the CANN API
// (checkpoint/verify.h draws x and judges y).
#ifndef INT4PACK_TOOLS_MATMUL_CHECK_H_
#define INT4PACK_TOOLS_MATMUL_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/verify.h"

namespace int4pack::tool {

// A checkpoint::LayerMatmul: the layer's tensors copied to device memory, described as the record says
// (the (k, n) view of the packed weight, FRACTAL_NZ or ND, transposed or not), and multiplied.
std::string cann_matmul(const checkpoint::PackedRecord &record, const checkpoint::ConvertedTensors &tensors,
                        const std::vector<uint16_t> &x, int64_t rows, std::vector<uint16_t> *y);

}  // namespace int4pack::tool

#endif  // INT4PACK_TOOLS_MATMUL_CHECK_H_
