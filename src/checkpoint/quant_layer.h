// The quantized linear layers of compressed-tensors, GPTQ, AWQ and msModelSlim checkpoints: finding them
// (which tensors make up layer P, checked against each other from the headers), reading their scales,
// zero points and group indices (checked against their values), and yielding the int4 (k, n) matrix the
// operator consumes, row by row (formats.md in ../shared/spec: checkpoint-formats.md has the layouts).
#ifndef INT4PACK_CHECKPOINT_QUANT_LAYER_H_
#define INT4PACK_CHECKPOINT_QUANT_LAYER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/layer_source.h"
#include "checkpoint/source_format.h"

namespace int4pack::checkpoint {

struct SourceTensor {
  const SafetensorsFile *file = nullptr;
  const TensorEntry *entry = nullptr;
  explicit operator bool() const { return entry != nullptr; }
};

// How an msModelSlim W4A16 weight is stored: one int4 per int8 (n, k), or two per byte, packed along n
// ((n/2, k), per-group saves) or along k ((n, k/2), per-channel saves); low nibble first.
enum class SlimLayout { kBytes, kPairsAlongN, kPairsAlongK };

// A quantized layer P of a checkpoint: its tensors and what their headers say.
struct QuantLayerPlan {
  std::string prefix;  // P: the output is P.weight, P.antiquant_scale, ...
  SourceFormat format = SourceFormat::kCarrier;
  size_t shard = 0;     // where the outputs go: the shard holding the weight
  SourceTensor weight;  // weight_packed, qweight, or msModelSlim's weight
  SourceTensor scale;   // weight_scale or scales
  SourceTensor zeros;   // weight_zero_point, qzeros, or msModelSlim's weight_offset; absent: symmetric
  SourceTensor g_idx;   // weight_g_idx or g_idx; absent: column c is in group c / group_size
  SourceTensor shape;   // compressed-tensors' weight_shape
  int64_t k = 0, n = 0;
  int64_t groups = 1;             // G
  int64_t group_size = 0;         // rows of k per group (k when G = 1)
  bool scale_transposed = false;  // stored (n, G) rather than (G, n)
  int zero_bias = 0;              // GPTQ v1 stores Zu - 1: add 1
  SlimLayout slim = SlimLayout::kBytes;

  // The source tensors the layer replaces.
  std::vector<const TensorEntry *> consumed() const;
};

struct LayerSearch {
  std::vector<QuantLayerPlan> layers;
  std::vector<std::string> problems;  // each names the file, the tensor and the rule
};

// Every quantized layer of `in` as `config`'s format stores them, except the layers the config ignores;
// what is wrong with any, from the headers (and compressed-tensors' small weight_shape tensors).
LayerSearch find_quant_layers(const Checkpoint &in, const QuantConfig &config);

// A layer's quantization parameters, decoded and checked (finite scales, group indices in range and
// groups of group_size columns). Problems are appended; the result is then incomplete.
QuantParams read_quant_params(const QuantLayerPlan &layer, std::vector<std::string> *problems);

// The layer as a source of the operator's int4 matrix: M = Qs (k, n), or Qs[perm] when params.perm is
// given, or its transpose (n, k) when `transposed`.
class QuantLayer : public QuantizedLayerSource {
 public:
  QuantLayer(const QuantLayerPlan &plan, const QuantParams &params, bool transposed);

  // Reads the weight's bytes (once: the rows are decoded from this copy, in a per-thread buffer that the
  // next load() on the thread reuses). IoError when it cannot.
  void load();
  const std::string &name() const override { return weight_name_; }
  MatrixShape matrix() const override;
  RowSource rows() const override;
  IoError read_error() const override;
  QuantParams params() const override { return params_; }
  std::vector<const TensorEntry *> consumed() const override { return plan_.consumed(); }
  void describe(PackedRecord *record) const override;
  // The value of the signed int4 Qs[row][col] of the (k, n) matrix (before any permutation).
  int32_t value(int64_t row, int64_t col) const;

 private:
  static constexpr int64_t kBlockRows = 128;
  struct DecodedBlock {  // the source words of kBlockRows rows of a layer's (k, n) matrix, for one thread
    uint64_t layer = 0;  // the load() they come from
    int64_t first = 0;   // the first row
    int64_t pitch = 0;
    std::vector<uint32_t> words;  // kBlockRows / 8 rows of n words, `pitch` apart
  };
  void decode_rows(int64_t first, int64_t count, int32_t *out) const;
  void fill_block(int64_t b, DecodedBlock *block) const;

  const QuantLayerPlan &plan_;
  QuantParams params_;
  bool transposed_;
  std::string weight_name_;
  const uint8_t *bytes_ = nullptr;  // the weight's copy: a per-thread buffer, valid until the next load()
  uint64_t id_ = 0;                 // which load() this is, process-wide
};

// msModelSlim names its layers' tensors P.weight, P.weight_scale, P.weight_offset; compressed-tensors
// P.weight_packed, ...; GPTQ and AWQ P.qweight, ... This is the layer name P of a tensor name, or "".
std::string layer_of(const std::string &tensor_name, SourceFormat format);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_QUANT_LAYER_H_
