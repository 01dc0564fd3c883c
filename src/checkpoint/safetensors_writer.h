// Writing safetensors files: data first, header last into room reserved for it, through a sink that lets
// the kernel copy tensors passed through unchanged.
#ifndef INT4PACK_CHECKPOINT_SAFETENSORS_WRITER_H_
#define INT4PACK_CHECKPOINT_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/safetensors_reader.h"

namespace int4pack::checkpoint {

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
  Dtype dtype = Dtype::kU8;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;                 // must equal elements x dtype size
  std::function<void(Sink &)> write;  // writes exactly `bytes` bytes
  uint64_t source_bytes = 0;          // input read to make it (for progress reports)
};

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
  void add(const std::string &name, Dtype dtype, const std::vector<int64_t> &shape, uint64_t bytes,
           const std::function<void(Sink &)> &write);
  void add(const OutputTensor &t) { add(t.name, t.dtype, t.shape, t.bytes, t.write); }
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

#endif  // INT4PACK_CHECKPOINT_SAFETENSORS_WRITER_H_
