// Converting a checkpoint: every selected int4 weight packed for Ascend, everything else passed through,
// every problem reported and then nothing written. The int4pack CLI's `convert`, and the Python package's
// convert_checkpoint.
#ifndef INT4PACK_CHECKPOINT_CONVERT_H_
#define INT4PACK_CHECKPOINT_CONVERT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/output.h"
#include "checkpoint/packed_record.h"
#include "checkpoint/source_format.h"

namespace int4pack::checkpoint {

struct ConvertRequest {
  std::string input, output;
  PackOptions options;
  std::optional<SourceFormat> from;  // nothing: detected from the checkpoint's config files
  bool auto_layout = false;          // quantized layers: FRACTAL_NZ where the operator takes it, else ND
  std::optional<Dtype> act_dtype;    // quantized layers' scale dtype; nothing: config.json's torch_dtype
  std::string include, exclude;      // ECMAScript regular expressions (tensor names; layer names for a
                                     // quantizer's checkpoint); empty: not given
  bool force = false;                // replace an existing output
  bool sync = true;                  // make the output durable (fdatasync) before renaming it into place
};

struct PackedTensor {
  std::string name;            // the packed weight's (a quantized layer P's: P.weight)
  Dtype dtype;                 // as stored in the input (a quantized layer's source weight tensor)
  std::vector<int64_t> shape;  // as stored in the input
  PackedRecord record;
  PackedStorage storage;
  uint64_t bytes_in = 0;  // of every source tensor it replaces
};

struct ConvertReport {
  SourceFormat format = SourceFormat::kCarrier;  // what the input was read as
  std::string format_source;                     // the config file that said so
  // When not empty, every problem found, each a line naming the file, tensor, element and value, and
  // nothing was written.
  std::vector<std::string> problems;
  std::vector<PackedTensor> packed;
  uint64_t tensor_count = 0;  // in the input
  uint64_t input_file_bytes = 0;
  uint64_t output_tensor_bytes = 0;  // tensor data written
};

// One read of the input. The input is read as its config files say (or request.from): int4 carriers, or
// a quantizer's layers (quant_layer.h), each written as quant_output.h says. Each selected tensor is
// checked and packed in the same read and written to a
// temporary output; the first problem stops the writing, every later tensor is still checked, and then
// all problems are reported and the temporary output removed: nothing appears at the output unless every
// tensor passed. (A first pass that only checked would read the whole checkpoint twice.) Throws
// UsageError for what the request gets wrong (nothing to pack, an existing output, a bad pattern),
// FormatError and IoError for the files.
ConvertReport convert_checkpoint(const ConvertRequest &request, Observer &observer);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_CONVERT_H_
