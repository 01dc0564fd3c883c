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
#include <memory>
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
  // Copies [offset, offset + bytes) into `out` with pread, bypassing the map: for data read once and
  // streamed through a small buffer, the kernel's copy is faster than touching mapped pages. False on a
  // read error or when the file has shrunk. Safe from several threads at once.
  bool read(uint64_t offset, void *out, size_t bytes) const;
  int descriptor() const { return fd_; }  // open for reading while the object lives
  // Why a read() just failed, in words.
  std::string read_failure() const;

 private:
  const uint8_t *data_ = nullptr;
  uint64_t size_ = 0;
  int fd_ = -1;
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
  // Bytes [offset, offset + bytes) of t's data (within it), copied; see MappedFile::read.
  bool read(const TensorEntry &t, uint64_t offset, void *out, size_t bytes) const {
    return offset <= t.bytes() && bytes <= t.bytes() - offset && map_.read(data_start_ + t.begin + offset, out, bytes);
  }
  uint64_t file_size() const { return map_.size(); }
  uint64_t file_offset(const TensorEntry &t) const { return data_start_ + t.begin; }
  int descriptor() const { return map_.descriptor(); }
  // The IoError for a failed read of t's data: "<path>: tensor '<name>': cannot read its data: <why>".
  IoError read_error(const TensorEntry &t) const;

 private:
  std::string path_;
  MappedFile map_;
  uint64_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorEntry> tensors_;
};

// Where t's data in `file` first differs from `expected` (t.bytes() bytes), or t.bytes() when it does not.
// Reads with pread in chunks (see MappedFile::read); IoError when a read fails.
uint64_t first_difference(const SafetensorsFile &file, const TensorEntry &t, const uint8_t *expected);
// The same between two tensors' data of equal length, in two files.
uint64_t first_difference(const SafetensorsFile &a, const TensorEntry &ta, const SafetensorsFile &b,
                          const TensorEntry &tb);

// Checks a header (the JSON text) against a data section of data_bytes; returns the tensors in data order
// and fills metadata. `where` prefixes messages. Exposed for the fuzz target and the tests.
std::vector<TensorEntry> parse_header(const std::string &where, const char *json, size_t json_bytes,
                                      uint64_t data_bytes, std::map<std::string, std::string> *metadata);

// What the JSON parser said about text it refused (syntax, or a number too large for any type), made printable
// and valid UTF-8 whatever the text held.
std::string json_refusal(const std::exception &e);

// Writes exactly `bytes` bytes.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const void *data, size_t bytes) = 0;
  // Copies the data of tensor t of `file`. This default reads it with pread through a buffer and writes
  // it; a file sink lets the kernel copy it. Throws IoError when it cannot be read.
  virtual void copy(const SafetensorsFile &file, const TensorEntry &t) { copy(file, t, 0); }

 protected:
  void copy(const SafetensorsFile &file, const TensorEntry &t, uint64_t from);  // from byte `from` of t on
};

struct OutputTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;                  // must equal elements x dtype size
  std::function<void(Sink &)> write;  // writes exactly `bytes` bytes
  uint64_t source_bytes = 0;           // input read to make it (for progress reports)
};

// One header entry: a tensor's dtype, shape and data offsets.
struct HeaderEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// The header JSON as written: "__metadata__" (when there is any) first, then the entries in order. Its
// length is the sum of its parts, so a header made of longer parts bounds a real one's length.
std::string header_text(const std::map<std::string, std::string> &metadata, const std::vector<HeaderEntry> &entries);

class FileSink;

// Writes a safetensors file at `path` (which the caller makes a temporary name) data first: room for
// the header is reserved at the front, tensors are appended as they are made, and finish() writes the
// header into that room, padded with spaces (as the format allows). So what a tensor becomes (packed or
// passed through) can depend on its values, read once while it is written. Throws IoError on a failed
// write (disk full) and FormatError when a tensor writes the wrong number of bytes.
class SafetensorsWriter {
 public:
  // header_capacity: at least the length of the header finish() will write (header_text of a bound).
  // durable: finish() waits until the file is on disk (fdatasync), so that once it is renamed into place
  // a power failure cannot leave it empty or partial.
  SafetensorsWriter(const std::string &path, uint64_t header_capacity, bool durable = true);
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter &) = delete;
  SafetensorsWriter &operator=(const SafetensorsWriter &) = delete;

  // Appends a tensor: write(sink) must write exactly `bytes` bytes.
  void add(const std::string &name, const std::string &dtype, const std::vector<int64_t> &shape, uint64_t bytes,
           const std::function<void(Sink &)> &write);
  // Writes the header, makes the file durable (fdatasync) if asked to, and closes it.
  void finish(const std::map<std::string, std::string> &metadata);
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  std::string path_;
  uint64_t capacity_;  // header bytes reserved, a multiple of 8 so that data starts 8-byte aligned
  bool durable_;
  std::unique_ptr<FileSink> sink_;
  std::vector<HeaderEntry> entries_;
  uint64_t data_bytes_ = 0;
};

// All of it at once, when every tensor is known in advance: header, then each tensor's data in order.
void write_safetensors(const std::string &path, const std::map<std::string, std::string> &metadata,
                       const std::vector<OutputTensor> &tensors, bool durable = true);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_SAFETENSORS_H_
