// Which quantizer wrote a checkpoint, and what its configuration says, parsed once into structs: config.json's
// quantization_config (compressed-tensors, GPTQ, AWQ), quantize_config.json / quant_config.json, and
// msModelSlim's quant_model_description*.json. The rest of the converter reads these structs, never JSON.
#ifndef INT4PACK_CHECKPOINT_SOURCE_FORMAT_H_
#define INT4PACK_CHECKPOINT_SOURCE_FORMAT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/dtype.h"

namespace int4pack::checkpoint {

// X(enumerator, name on the command line and in records)
#define INT4PACK_SOURCE_FORMATS(X)            \
  X(kCarrier, "carrier")                      \
  X(kCompressedTensors, "compressed-tensors") \
  X(kGptq, "gptq")                            \
  X(kAwq, "awq")                              \
  X(kMsModelSlim, "msmodelslim")

enum class SourceFormat : uint8_t {
#define INT4PACK_SOURCE_FORMAT_ENUMERATOR(e, name) e,
  INT4PACK_SOURCE_FORMATS(INT4PACK_SOURCE_FORMAT_ENUMERATOR)
#undef INT4PACK_SOURCE_FORMAT_ENUMERATOR
};

std::optional<SourceFormat> parse_source_format(std::string_view name);
const char *source_format_name(SourceFormat format);

// One compressed-tensors config group's weight scheme.
struct WeightScheme {
  std::vector<std::string> targets;  // class names ("Linear"), layer names, or "re:" regexes
  std::string format;                // "pack-quantized", ... (the group's own, else the config's)
  int num_bits = 0;
  std::string type;  // "int", "float"
  bool symmetric = true;
  std::string strategy;           // "group", "channel", "tensor", ...
  int64_t group_size = -1;        // -1: none given
  bool act_order_groups = false;  // actorder "group" (or true): weight_g_idx gives each column's group
};

struct QuantConfig {
  SourceFormat format = SourceFormat::kCarrier;
  std::string source;                // the file that said so ("" for carriers or a forced format without one)
  std::optional<Dtype> torch_dtype;  // config.json "torch_dtype" (or "dtype"), when F16, BF16 or F32
  std::vector<std::string> ignore;   // layers left as they are: names or "re:" regexes
  // GPTQ and AWQ.
  int bits = 4;
  int64_t group_size = -1;  // -1: one group over all of k (per-channel)
  bool desc_act = false;
  bool symmetric = true;
  bool gptq_v2 = false;  // checkpoint_format "gptq_v2": qzeros store Zu, not Zu - 1
  std::string awq_version = "gemm";
  // compressed-tensors.
  std::vector<WeightScheme> schemes;
  // msModelSlim.
  std::string model_quant_type;
  std::string slim_version;                         // "ascendV1": int4 weights packed two per byte
  std::map<std::string, std::string> tensor_types;  // tensor name -> "W4A16", "FLOAT", ...
};

// The configuration of the checkpoint at `path` (a directory, or a .safetensors file whose directory holds
// the config files), detected from its files or, with `forced`, read as that format (a forced format
// reads its own config when there is one, else uses its defaults). FormatError for a config file that is
// not valid JSON or has fields of the wrong type; UsageError for a quantization method int4pack does not
// read.
QuantConfig read_quant_config(const std::string &path, std::optional<SourceFormat> forced);

// Whether layer `name` matches a list of names and "re:" regexes (ignore lists, scheme targets).
bool matches_layer(const std::vector<std::string> &patterns, const std::string &name);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_SOURCE_FORMAT_H_
