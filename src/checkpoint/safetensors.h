// The safetensors format: what a header says, and the checks that make it safe to trust.
//
// Format: 8 bytes little-endian header length N, N bytes of JSON header (an object: "__metadata__" ->
// {string: string}, and per tensor {"dtype", "shape", "data_offsets": [begin, end]} relative to the data
// section), then the data section. Everything read from a file is checked before it is trusted; any
// problem is a FormatError naming the file, the tensor and the values. Reading files is
// safetensors_reader.h, writing them safetensors_writer.h.
#ifndef INT4PACK_CHECKPOINT_SAFETENSORS_H_
#define INT4PACK_CHECKPOINT_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "checkpoint/dtype.h"

namespace int4pack::checkpoint {

struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A problem with what the caller asked for (an output that exists, nothing to pack, a bad pattern).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;  // 100 MB, as the reference reader

// "[2, 3]": shapes in messages and tables.
std::string shape_text(const std::vector<int64_t> &shape);

struct TensorEntry {
  std::string name;
  Dtype dtype = Dtype::kU8;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // offsets into the data section
  uint64_t end = 0;
  uint64_t bytes() const { return end - begin; }
  int64_t elements() const;
};

// Checks a header (the JSON text) against a data section of data_bytes: dtypes, shapes, offsets (in
// bounds, no overlap, no hole), byte lengths, unique UTF-8 names, a string-to-string __metadata__.
// Returns the tensors in data order and fills metadata. `where` prefixes messages.
std::vector<TensorEntry> parse_header(const std::string &where, const char *json, size_t json_bytes,
                                      uint64_t data_bytes, std::map<std::string, std::string> *metadata);

// What the JSON parser said about text it refused (syntax, or a number too large for any type), made
// printable and valid UTF-8 whatever the text held.
std::string json_refusal(const std::exception &e);

// One header entry as written: a tensor's dtype, shape and data offsets.
struct HeaderEntry {
  std::string name;
  Dtype dtype = Dtype::kU8;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// The header JSON as written: "__metadata__" (when there is any) first, then the entries in order. Its
// length is the sum of its parts, so a header made of longer parts bounds a real one's length.
std::string header_text(const std::map<std::string, std::string> &metadata, const std::vector<HeaderEntry> &entries);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_SAFETENSORS_H_
