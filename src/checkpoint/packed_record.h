// How a packed tensor was made, and the record that says so in the file it is written to: metadata key
// "int4pack:<name>", a JSON object, parsed here (once, into this struct) and nowhere else.
#ifndef INT4PACK_CHECKPOINT_PACKED_RECORD_H_
#define INT4PACK_CHECKPOINT_PACKED_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/dtype.h"
#include "checkpoint/source_format.h"
#include "core/layout.h"
#include "int4pack/engine.h"

namespace int4pack::checkpoint {

enum class InputEncoding { kSigned, kOffset8 };  // [-8, 7], or unsigned [0, 15] with zero point 8

struct PackOptions {
  Layout layout = Layout::kNd;
  bool int32_words = false;  // label the output INT32 (8 values per word) instead of INT4 (U8 bytes)
  bool transpose = false;    // pack the transposed matrix: (k, n) from a stored (n, k)
  InputEncoding input = InputEncoding::kSigned;
};

// What a loader needs to call aclnnWeightQuantBatchMatmulV2 on a quantized layer P converted from a
// quantizer's checkpoint (none of it for carriers).
struct LayerRecord {
  SourceFormat source = SourceFormat::kCarrier;
  std::vector<int64_t> weight_shape;  // the operator's view (k, n)
  int64_t group_size = 0;             // antiquantGroupSize: 0 per-channel
  Dtype act_dtype = Dtype::kF16;      // of x, the scale and the offset
  std::string scale, offset, perm;    // the tensors' names; offset and perm "" when absent
  std::vector<std::string> source_tensors;
};

struct PackedRecord {
  PackOptions options;                  // format ("nd" | "nz"), dtype ("int4" | "int32"), transposed, input
  std::vector<int64_t> view_shape;      // the packed int4 matrix, in values: (rows, cols)
  Dtype original_dtype = Dtype::kI32;   // the carrier (I32, I16, I8 or U8), or the source's weight tensor
  std::vector<int64_t> original_shape;  // as stored in the original checkpoint
  LayerRecord layer;
  bool quantized() const { return layer.source != SourceFormat::kCarrier; }
};

inline constexpr const char *kMetadataPrefix = "int4pack:";

// The record as JSON: format, dtype, view_shape, original_dtype, original_shape, transposed, input and
// nibble_order ("low_first": value 2j in bits 0-3 of byte j, 2j+1 in bits 4-7); for a quantized layer
// also source_format, weight_shape, group_size, act_dtype, scale, offset, perm (null when absent) and
// source_tensors.
std::string encode_record(const PackedRecord &r);
// The record a file holds; FormatError (prefixed with `where`) when it is not valid JSON, or not a record
// this version wrote and can read back.
PackedRecord decode_record(const std::string &where, const std::string &json);

// How a packed matrix is stored: U8 bytes (INT4) or I32 words, in CANN's storage shape. The matrix must
// be packable (positive dims, cols even, a multiple of 8 for INT32 words).
struct PackedStorage {
  Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t bytes;
};
PackedStorage packed_storage(MatrixShape matrix, const PackOptions &options);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_PACKED_RECORD_H_
