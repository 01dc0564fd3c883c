#include "checkpoint/safetensors_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "checkpoint/scratch.h"

namespace int4pack::checkpoint {
namespace {

std::string in_quotes(const std::string &s) { return "'" + s + "'"; }

uint64_t read_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Where the n bytes at x and y first differ, or n.
size_t first_difference_in(const uint8_t *x, const uint8_t *y, size_t n) {
  return std::memcmp(x, y, n) == 0 ? n : static_cast<size_t>(std::mismatch(x, x + n, y).first - x);
}

}  // namespace

MappedFile::MappedFile(const std::string &path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw IoError(path + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(path + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void *p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw IoError(path + ": cannot map: " + std::strerror(e));
    }
    data_ = static_cast<const uint8_t *>(p);
  }
  fd_ = fd;  // kept for read()
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t *>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

MappedFile::MappedFile(MappedFile &&other) noexcept : data_(other.data_), size_(other.size_), fd_(other.fd_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.fd_ = -1;
}

std::string MappedFile::read_failure() const {
  // (errno is not kept: the failed read may have run on another thread.)
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<uint64_t>(st.st_size) != size_) {
    return "the file changed size while it was being read (truncated?)";
  }
  return "read error";
}

IoError SafetensorsFile::read_error(const TensorEntry &t) const {
  return IoError(path_ + ": tensor " + in_quotes(t.name) + ": cannot read its data: " + map_.read_failure());
}

void read_in_chunks(const SafetensorsFile &file, const TensorEntry &t, uint64_t from,
                    const std::function<bool(uint64_t, const uint8_t *, size_t)> &visit) {
  thread_local ScratchBuffer buffer;
  uint8_t *chunk = buffer.get(static_cast<size_t>(std::min(kReadChunkBytes, t.bytes())));
  for (uint64_t at = from; at < t.bytes(); at += kReadChunkBytes) {
    const size_t n = static_cast<size_t>(std::min(kReadChunkBytes, t.bytes() - at));
    if (!file.read(t, at, chunk, n)) throw file.read_error(t);
    if (!visit(at, static_cast<const uint8_t *>(chunk), n)) return;
  }
}

uint64_t first_difference(const SafetensorsFile &file, const TensorEntry &t, const uint8_t *expected) {
  uint64_t first = t.bytes();
  read_in_chunks(file, t, 0, [&](uint64_t at, const uint8_t *chunk, size_t n) {
    const size_t i = first_difference_in(chunk, expected + at, n);
    if (i != n) first = at + i;
    return i == n;
  });
  return first;
}

uint64_t first_difference(const SafetensorsFile &a, const TensorEntry &ta, const SafetensorsFile &b,
                          const TensorEntry &tb) {
  thread_local ScratchBuffer other;
  uint64_t first = std::min(ta.bytes(), tb.bytes());
  uint8_t *y = other.get(static_cast<size_t>(std::min(kReadChunkBytes, first)));
  read_in_chunks(a, ta, 0, [&](uint64_t at, const uint8_t *x, size_t n) {
    if (at >= first) return false;
    n = static_cast<size_t>(std::min<uint64_t>(n, first - at));
    if (!b.read(tb, at, y, n)) throw b.read_error(tb);
    const size_t i = first_difference_in(x, y, n);
    if (i != n) first = at + i;
    return i == n;
  });
  return first;
}

bool MappedFile::read(uint64_t offset, void *out, size_t bytes) const {
  if (offset > size_ || bytes > size_ - offset) return false;
  auto *p = static_cast<uint8_t *>(out);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // an error, or end of file: the file shrank under us
    p += n;
    bytes -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

void MappedFile::release(uint64_t offset, uint64_t bytes) const {
  if (data_ == nullptr || bytes == 0) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = (offset + page - 1) / page * page;  // only whole pages inside the range
  const uint64_t last = (offset + bytes) / page * page;
  if (last > first) ::madvise(const_cast<uint8_t *>(data_) + first, last - first, MADV_DONTNEED);
}

void MappedFile::prefetch(uint64_t offset, uint64_t bytes) const {
#if defined(MADV_POPULATE_READ)
  constexpr int kPopulateRead = MADV_POPULATE_READ;
#else
  constexpr int kPopulateRead = 22;  // Linux 5.14+; older kernels answer EINVAL and pages fault in as usual
#endif
  if (data_ == nullptr || bytes == 0) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = offset / page * page;
  ::madvise(const_cast<uint8_t *>(data_) + first, offset + bytes - first, kPopulateRead);
}

SafetensorsFile::SafetensorsFile(const std::string &path) : path_(path), map_(path) {
  const uint64_t size = map_.size();
  if (size < 8) {
    throw FormatError(path + ": truncated: " + std::to_string(size) + " bytes, not even the 8-byte header length");
  }
  const uint64_t header_bytes = read_le64(map_.data());
  if (header_bytes > kMaxHeaderBytes) {
    throw FormatError(path + ": header length " + std::to_string(header_bytes) + " is over the 100 MB limit");
  }
  if (header_bytes > size - 8) {
    throw FormatError(path + ": header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
                      std::to_string(size) + " bytes): truncated?");
  }
  data_start_ = 8 + header_bytes;
  tensors_ =
      parse_header(path, reinterpret_cast<const char *>(map_.data() + 8), header_bytes, size - data_start_, &metadata_);
}

const TensorEntry *SafetensorsFile::find(const std::string &name) const {
  for (const TensorEntry &t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace int4pack::checkpoint
