// A quantized layer's real weights as its own format defines them (checkpoint-formats.md): W = (Qu - Zu)
// * S for compressed-tensors, GPTQ (v1: Zu is the stored zero + 1) and AWQ, (Qs - weight_offset) *
// weight_scale for msModelSlim, each read straight from the source tensors with that format's rule. This
// is what `verify --matmul` compares the operator against; it shares no decoding with quant_layer.cc,
// which turns the same tensors into the operator's terms (a flipped offset there shows up here).
#ifndef INT4PACK_CHECKPOINT_ORIGINAL_LAYER_H_
#define INT4PACK_CHECKPOINT_ORIGINAL_LAYER_H_

#include <cstdint>
#include <vector>

#include "checkpoint/quant_layer.h"

namespace int4pack::checkpoint {

class OriginalLayer {
 public:
  // Reads the layer's tensors; IoError when one cannot be read.
  explicit OriginalLayer(const QuantLayerPlan &plan);

  int64_t k() const { return plan_.k; }
  int64_t n() const { return plan_.n; }
  // The real weight of input c and output j, and its size for error bounds: (|Qs| + |Zs|) * |S|.
  double weight(int64_t c, int64_t j, double *magnitude) const;

 private:
  int64_t group_of(int64_t c) const;
  const QuantLayerPlan &plan_;
  std::vector<uint8_t> weight_, scale_, zeros_, g_idx_;
};

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_ORIGINAL_LAYER_H_
