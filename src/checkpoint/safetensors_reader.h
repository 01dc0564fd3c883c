// Reading safetensors files: a validating reader over a memory map, with pread for data read once.
#ifndef INT4PACK_CHECKPOINT_SAFETENSORS_READER_H_
#define INT4PACK_CHECKPOINT_SAFETENSORS_READER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"

namespace int4pack::checkpoint {

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
  // Maps and validates the file (see parse_header).
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

// Reads t's data from byte `from` on with pread, in chunks of up to kReadChunkBytes through the calling
// thread's buffer, calling visit(offset, chunk, bytes) for each while it returns true. IoError when a read
// fails.
inline constexpr uint64_t kReadChunkBytes = uint64_t{4} << 20;
void read_in_chunks(const SafetensorsFile &file, const TensorEntry &t, uint64_t from,
                    const std::function<bool(uint64_t, const uint8_t *, size_t)> &visit);

// Where t's data in `file` first differs from `expected` (t.bytes() bytes), or t.bytes() when it does not.
uint64_t first_difference(const SafetensorsFile &file, const TensorEntry &t, const uint8_t *expected);
// The same between two tensors' data of equal length, in two files.
uint64_t first_difference(const SafetensorsFile &a, const TensorEntry &ta, const SafetensorsFile &b,
                          const TensorEntry &tb);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_SAFETENSORS_READER_H_
