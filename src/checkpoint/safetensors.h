// safetensors files: a validating reader over a memory map, and a streaming writer.
//
// Format: 8 bytes little-endian header length N, N bytes of JSON header (an object: "__metadata__" ->
// {string: string}, and per tensor {"dtype", "shape", "data_offsets": [begin, end]} relative to the data
// section), then the data section. Everything read from a file is checked before it is trusted; any
// problem is a FormatError naming the file, the tensor and the values.
#ifndef INT4PACK_CHECKPOINT_SAFETENSORS_H_
#define INT4PACK_CHECKPOINT_SAFETENSORS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace int4pack::checkpoint {

struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;  // 100 MB, as the reference reader

// "[2, 3]": shapes in messages and tables.
std::string shape_text(const std::vector<int64_t> &shape);

// Bytes per element of a safetensors dtype ("I32", "F16", ...), or 0 when the name is unknown.
size_t dtype_size(const std::string &dtype);

struct TensorEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // offsets into the data section
  uint64_t end = 0;
  uint64_t bytes() const { return end - begin; }
  int64_t elements() const;
};

// A read-only memory map of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  MappedFile(MappedFile &&other) noexcept;

  const uint8_t *data() const { return data_; }
  uint64_t size() const { return size_; }
  // Gives the pages of [offset, offset + bytes) back to the kernel (they are re-read if touched again),
  // so that streaming through a large file keeps the resident set small.
  void release(uint64_t offset, uint64_t bytes) const;
  // Maps [offset, offset + bytes) in one go (MADV_POPULATE_READ), instead of a page fault per 64 KiB.
  void prefetch(uint64_t offset, uint64_t bytes) const;

 private:
  const uint8_t *data_ = nullptr;
  uint64_t size_ = 0;
};

class SafetensorsFile {
 public:
  // Maps and validates the file: sizes, header JSON, dtypes, shapes, offsets (in bounds, no overlap, no
  // hole), byte lengths, unique UTF-8 names, a string-to-string __metadata__.
  explicit SafetensorsFile(const std::string &path);

  const std::string &path() const { return path_; }
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  // In data order (by offset), which is also the order the writer keeps.
  const std::vector<TensorEntry> &tensors() const { return tensors_; }
  const TensorEntry *find(const std::string &name) const;
  const uint8_t *data(const TensorEntry &t) const { return map_.data() + data_start_ + t.begin; }
  void release(const TensorEntry &t) const { map_.release(data_start_ + t.begin, t.bytes()); }
  void prefetch(const TensorEntry &t) const { map_.prefetch(data_start_ + t.begin, t.bytes()); }
  uint64_t file_size() const { return map_.size(); }

 private:
  std::string path_;
  MappedFile map_;
  uint64_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorEntry> tensors_;
};

// Checks a header (the JSON text) against a data section of data_bytes; returns the tensors in data order
// and fills metadata. `where` prefixes messages. Exposed for the fuzz target and the tests.
std::vector<TensorEntry> parse_header(const std::string &where, const char *json, size_t json_bytes,
                                      uint64_t data_bytes, std::map<std::string, std::string> *metadata);

// Writes exactly `bytes` bytes.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const void *data, size_t bytes) = 0;
};

struct OutputTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;                  // must equal elements x dtype size
  std::function<void(Sink &)> write;  // writes exactly `bytes` bytes
  uint64_t source_bytes = 0;           // input read to make it (for progress reports)
};

// Writes a safetensors file at `path` (which the caller makes a temporary name): header, then each
// tensor's data in the given order. Throws IoError on a failed write (disk full) and FormatError when a
// tensor writes the wrong number of bytes.
void write_safetensors(const std::string &path, const std::map<std::string, std::string> &metadata,
                       const std::vector<OutputTensor> &tensors);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_SAFETENSORS_H_
