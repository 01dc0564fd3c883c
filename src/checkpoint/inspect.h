// What a checkpoint holds, summarised: its tensors (and how int4pack packed each), its format, and its
// quantized layers with their source format, group size and symmetry. The CLI's `inspect` and the Python
// package's inspect_checkpoint.
#ifndef INT4PACK_CHECKPOINT_INSPECT_H_
#define INT4PACK_CHECKPOINT_INSPECT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/packed_record.h"

namespace int4pack::checkpoint {

struct TensorSummary {
  std::string shard, name;
  Dtype dtype = Dtype::kU8;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  std::string packed;  // how int4pack packed it ("int4 nz of I32 [64, 512]", ...), or ""
};

struct LayerSummary {
  std::string layer;  // P
  SourceFormat source = SourceFormat::kCarrier;
  int64_t k = 0, n = 0;
  int64_t group_size = 0;  // 0: per-channel
  bool symmetric = true;
  bool act_order = false;  // a permutation makes its groups contiguous
  std::string packed_as;   // for a converted checkpoint ("int4 nz transposed"), else ""
};

struct Inspection {
  std::vector<std::string> shards;
  uint64_t bytes = 0;
  std::string format;  // "carrier", "gptq", ..., or "int4pack output of gptq"
  std::vector<TensorSummary> tensors;
  std::vector<LayerSummary> layers;
  std::vector<std::string> problems;  // what the layers' readers found wrong
};

// "int4 nz", "int32 nd": a record's packing.
std::string packing_name(const PackedRecord &r);

// Reads every header and record; for a quantizer's checkpoint also each layer's small parameter tensors
// (to tell symmetric layers from asymmetric ones). FormatError / IoError for unreadable files.
Inspection inspect_checkpoint(const std::string &path);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_INSPECT_H_
