#include "checkpoint/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "checkpoint/scratch.h"

namespace int4pack::checkpoint {
namespace {

std::string in_quotes(const std::string &s) { return "'" + s + "'"; }

}  // namespace

void Sink::copy(const SafetensorsFile &file, const TensorEntry &t, uint64_t from) {
  read_in_chunks(file, t, from, [this](uint64_t, const uint8_t *chunk, size_t n) {
    write(chunk, n);
    return true;
  });
}

class FileSink : public Sink {
 public:
  explicit FileSink(const std::string &path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw IoError(path + ": cannot create: " + std::strerror(errno));
    thread_local ScratchBuffer area;  // one per thread, reused by every file it writes: see scratch.h
    buffer_ = area.get(kBuffer);
  }
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void write(const void *data, size_t bytes) override {
    written_ += bytes;
    const auto *p = static_cast<const uint8_t *>(data);
    if (buffered_ + bytes <= kBuffer) {
      std::memcpy(buffer_ + buffered_, p, bytes);
      buffered_ += bytes;
      return;
    }
    drain();
    if (bytes >= kBuffer) {
      put(p, bytes);
    } else {
      std::memcpy(buffer_, p, bytes);
      buffered_ = bytes;
    }
  }
  void finish(bool durable) {
    drain();
    // On disk before it is renamed into place: a crash never leaves a renamed but empty file.
    if (durable && ::fdatasync(fd_) != 0) throw IoError(path_ + ": cannot sync: " + std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw IoError(path_ + ": cannot close: " + std::strerror(errno));
  }
  uint64_t written() const { return written_; }
  // In the kernel (copy_file_range): no copy through this process, no touching of mapped pages. Where
  // the kernel cannot (another file system on old kernels), the default pread-and-write.
  void copy(const SafetensorsFile &file, const TensorEntry &t) override {
    drain();
    uint64_t done = 0;
    while (done < t.bytes()) {
      loff_t from = static_cast<loff_t>(file.file_offset(t) + done);
      loff_t to = static_cast<loff_t>(on_disk_);
      const ssize_t n = ::copy_file_range(file.descriptor(), &from, fd_, &to, static_cast<size_t>(t.bytes() - done), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<uint64_t>(n);
      advance(static_cast<uint64_t>(n));
    }
    written_ += done;
    if (done < t.bytes()) Sink::copy(file, t, done);  // the kernel could not: the default (reports read errors)
  }
  // Overwrites bytes already written (the reserved header), after flushing what is buffered.
  void write_at(uint64_t offset, const void *data, size_t bytes) {
    drain();
    write_fully(offset, static_cast<const uint8_t *>(data), bytes);
  }

 private:
  static constexpr size_t kBuffer = size_t{4} << 20;
  void drain() {
    put(buffer_, buffered_);
    buffered_ = 0;
  }
  // Every write names its offset (pwrite, copy_file_range): data is appended at on_disk_, and the
  // reserved header is overwritten at 0.
  void write_fully(uint64_t offset, const uint8_t *p, size_t bytes) {
    while (bytes > 0) {
      const ssize_t n = ::pwrite(fd_, p, bytes, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw IoError(path_ + ": write failed: " + std::strerror(n < 0 ? errno : ENOSPC));
      p += n;
      bytes -= static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
  }
  void put(const uint8_t *p, size_t bytes) {
    write_fully(on_disk_, p, bytes);
    advance(bytes);
  }
  void advance(uint64_t bytes) {
    on_disk_ += bytes;
    // Start writing back what is complete, so the final sync has little left to wait for and the disk
    // works while the next tensors are packed.
    if (on_disk_ - synced_ >= kWritebackStep) {
      ::sync_file_range(fd_, static_cast<off_t>(synced_), static_cast<off_t>(on_disk_ - synced_),
                        SYNC_FILE_RANGE_WRITE);
      synced_ = on_disk_;
    }
  }
  static constexpr uint64_t kWritebackStep = uint64_t{8} << 20;
  uint64_t on_disk_ = 0;
  uint64_t synced_ = 0;
  std::string path_;
  int fd_ = -1;
  uint8_t *buffer_ = nullptr;  // kBuffer bytes
  size_t buffered_ = 0;
  uint64_t written_ = 0;
};

SafetensorsWriter::SafetensorsWriter(const std::string &path, uint64_t header_capacity, bool durable)
    : path_(path),
      capacity_((header_capacity + 7) / 8 * 8),
      durable_(durable),
      sink_(std::make_unique<FileSink>(path)) {
  const std::string reserved(8 + capacity_, ' ');  // overwritten by finish()
  sink_->write(reserved.data(), reserved.size());
}

SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::add(const std::string &name, Dtype dtype, const std::vector<int64_t> &shape, uint64_t bytes,
                            const std::function<void(Sink &)> &write) {
  const uint64_t before = sink_->written();
  write(*sink_);
  if (sink_->written() - before != bytes) {
    throw FormatError(path_ + ": tensor " + in_quotes(name) + " wrote " + std::to_string(sink_->written() - before) +
                      " bytes instead of " + std::to_string(bytes));
  }
  entries_.push_back({name, dtype, shape, data_bytes_, data_bytes_ + bytes});
  data_bytes_ += bytes;
}

void SafetensorsWriter::finish(const std::map<std::string, std::string> &metadata) {
  std::string text = header_text(metadata, entries_);
  if (text.size() > capacity_) {
    throw FormatError(path_ + ": internal error: the header (" + std::to_string(text.size()) +
                      " bytes) outgrew the room reserved for it (" + std::to_string(capacity_) + ")");
  }
  text.append(capacity_ - text.size(), ' ');  // trailing spaces: the padding the format allows
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(capacity_ >> (8 * i));
  text.insert(0, reinterpret_cast<const char *>(length), 8);
  sink_->write_at(0, text.data(), text.size());
  sink_->finish(durable_);
}

void write_safetensors(const std::string &path, const std::map<std::string, std::string> &metadata,
                       const std::vector<OutputTensor> &tensors, bool durable) {
  std::vector<HeaderEntry> entries;
  uint64_t offset = 0;
  for (const OutputTensor &t : tensors) {
    entries.push_back({t.name, t.dtype, t.shape, offset, offset + t.bytes});
    offset += t.bytes;
  }
  SafetensorsWriter writer(path, header_text(metadata, entries).size(), durable);
  for (const OutputTensor &t : tensors) writer.add(t.name, t.dtype, t.shape, t.bytes, t.write);
  writer.finish(metadata);
}

}  // namespace int4pack::checkpoint
