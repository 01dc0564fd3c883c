// What the converter writes for a quantized layer P, from its plan (quant_layer.h): the packed weight
// P.weight, P.antiquant_scale, P.antiquant_offset (asymmetric layers), P.weight_perm (act-order layers whose
// groups are not contiguous), and the record that tells a loader how to call
// aclnnWeightQuantBatchMatmulV2 on them; the operator's rules are checked first.
#ifndef INT4PACK_CHECKPOINT_QUANT_OUTPUT_H_
#define INT4PACK_CHECKPOINT_QUANT_OUTPUT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/packed_record.h"
#include "checkpoint/quant_layer.h"
#include "checkpoint/safetensors_writer.h"

namespace int4pack::checkpoint {

struct LayerOptions {
  std::optional<Layout> layout;      // nothing: auto, FRACTAL_NZ where the operator takes it, else ND
  bool int32_words = false;          // P.weight as I32 words of 8 values instead of U8 bytes
  std::optional<Dtype> act_dtype;    // F16 or BF16; nothing: config.json's torch_dtype, else the scales'
  std::optional<Dtype> torch_dtype;  // what config.json says
};

struct ConvertedLayer {
  PackedRecord record;
  PackedStorage storage;             // of P.weight
  const uint8_t *weight = nullptr;   // its bytes: a per-thread buffer, valid until the next layer
  std::vector<OutputTensor> params;  // P.antiquant_scale, then P.antiquant_offset and P.weight_perm if any
};

// Converts a layer: false, with problems naming the layer and the rule, when it cannot be (the operator's
// rules for the chosen layout, the parameters' values, a weight value outside the int4 range). IoError
// when a tensor cannot be read.
bool convert_layer(const QuantLayerPlan &plan, const LayerOptions &options, ConvertedLayer *out,
                   std::vector<std::string> *problems);

// Bounds for the header of a file holding the layer's outputs (see SafetensorsWriter): every entry it may
// write, and its record in the longest form, added to `entries` and `metadata`.
void bound_layer_header(const QuantLayerPlan &plan, const LayerOptions &options, std::vector<HeaderEntry> *entries,
                        std::map<std::string, std::string> *metadata);

// The output's names for layer P.
std::string weight_name(const std::string &prefix);
std::string scale_name(const std::string &prefix);
std::string offset_name(const std::string &prefix);
std::string perm_name(const std::string &prefix);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_QUANT_OUTPUT_H_
