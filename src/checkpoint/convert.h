// Converting a checkpoint: every selected int4 weight packed for Ascend, everything else passed through,
// every problem reported and then nothing written. The int4pack CLI's `convert`, and the Python package's
// convert_checkpoint.
#ifndef INT4PACK_CHECKPOINT_CONVERT_H_
#define INT4PACK_CHECKPOINT_CONVERT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/output.h"
#include "checkpoint/packed_record.h"

namespace int4pack::checkpoint {

struct ConvertRequest {
  std::string input, output;
  PackOptions options;
  std::string include, exclude;  // ECMAScript regular expressions; empty: not given
  bool force = false;            // replace an existing output
  bool sync = true;              // make the output durable (fdatasync) before renaming it into place
};

struct PackedTensor {
  std::string name;
  Dtype dtype;                 // as stored in the input
  std::vector<int64_t> shape;  // as stored in the input
  PackedRecord record;
  PackedStorage storage;
  uint64_t bytes_in = 0;
};

struct ConvertReport {
  // When not empty, every problem found, each a line naming the file, tensor, element and value, and
  // nothing was written.
  std::vector<std::string> problems;
  std::vector<PackedTensor> packed;
  uint64_t tensor_count = 0;  // in the input
  uint64_t input_file_bytes = 0;
  uint64_t output_tensor_bytes = 0;  // tensor data written
};

// One read of the input. Each selected tensor is checked and packed in the same read and written to a
// temporary output; the first problem stops the writing, every later tensor is still checked, and then
// all problems are reported and the temporary output removed: nothing appears at the output unless every
// tensor passed. (A first pass that only checked would read the whole checkpoint twice.) Throws
// UsageError for what the request gets wrong (nothing to pack, an existing output, a bad pattern),
// FormatError and IoError for the files.
ConvertReport convert_checkpoint(const ConvertRequest &request, Observer &observer);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_CONVERT_H_
