#include "checkpoint/safetensors.h"

#include "checkpoint/scratch.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace int4pack::checkpoint {
namespace {

using Json = nlohmann::ordered_json;

std::string in_quotes(const std::string &s) { return "'" + s + "'"; }

uint64_t read_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool is_unsigned_integer(const Json &j) { return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0); }

}  // namespace

std::string shape_text(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

size_t dtype_size(const std::string &dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

int64_t TensorEntry::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // parse_header refused shapes whose partial products leave int64
  return n;
}

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

namespace {

constexpr uint64_t kChunkBytes = uint64_t{4} << 20;  // per read of read_in_chunks

// Reads t's data from byte `from` on with pread, in chunks through the calling thread's buffer, calling
// visit(offset, bytes, count) for each while it returns true. IoError when a read fails.
template <typename Visit>
void read_in_chunks(const SafetensorsFile &file, const TensorEntry &t, uint64_t from, Visit visit) {
  thread_local ScratchBuffer buffer;
  uint8_t *chunk = buffer.get(static_cast<size_t>(std::min(kChunkBytes, t.bytes())));
  for (uint64_t at = from; at < t.bytes(); at += kChunkBytes) {
    const size_t n = static_cast<size_t>(std::min(kChunkBytes, t.bytes() - at));
    if (!file.read(t, at, chunk, n)) throw file.read_error(t);
    if (!visit(at, static_cast<const uint8_t *>(chunk), n)) return;
  }
}

// Where the n bytes at x and y first differ, or n.
size_t first_difference_in(const uint8_t *x, const uint8_t *y, size_t n) {
  return std::memcmp(x, y, n) == 0 ? n : static_cast<size_t>(std::mismatch(x, x + n, y).first - x);
}

}  // namespace

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
  uint8_t *y = other.get(static_cast<size_t>(std::min(kChunkBytes, first)));
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

std::string json_refusal(const std::exception &e) {
  // The parser quotes what it last read, which may be any bytes.
  std::string what = e.what();
  for (char &ch : what) {
    if (static_cast<unsigned char>(ch) >= 0x80 || (static_cast<unsigned char>(ch) < 0x20 && ch != '\n')) ch = '?';
  }
  return what;
}

std::vector<TensorEntry> parse_header(const std::string &where, const char *json, size_t json_bytes,
                                      uint64_t data_bytes, std::map<std::string, std::string> *metadata) {
  // Duplicate names are legal JSON but ambiguous tensors: refuse them while parsing.
  std::set<std::string> top_keys;
  const Json::parser_callback_t no_duplicates = [&](int depth, Json::parse_event_t event, Json &parsed) {
    if (depth == 1 && event == Json::parse_event_t::key) {
      const std::string key = parsed.get<std::string>();
      if (!top_keys.insert(key).second) throw FormatError(where + ": duplicate tensor name " + in_quotes(key));
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(json, json + json_bytes, no_duplicates);
  } catch (const Json::exception &e) {
    const std::string what = json_refusal(e);
    if (what.find("UTF-8") != std::string::npos) {
      throw FormatError(where + ": header holds text that is not valid UTF-8 (a tensor name?): " + what);
    }
    throw FormatError(where + ": header is not valid JSON: " + what);
  }
  if (!header.is_object()) throw FormatError(where + ": header is not a JSON object");

  std::vector<TensorEntry> tensors;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    const Json &entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) throw FormatError(where + ": __metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) throw FormatError(where + ": __metadata__ value of " + in_quotes(m.key()) + " is not a string");
        (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = where + ": tensor " + in_quotes(name);
    if (!entry.is_object()) throw FormatError(what + ": entry is not an object");
    TensorEntry t;
    t.name = name;
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) throw FormatError(what + ": no dtype string");
    t.dtype = entry["dtype"].get<std::string>();
    const size_t element_bytes = dtype_size(t.dtype);
    if (element_bytes == 0) throw FormatError(what + ": unknown dtype " + in_quotes(t.dtype));
    if (!entry.contains("shape") || !entry["shape"].is_array()) throw FormatError(what + ": no shape array");
    uint64_t elements = 1;
    for (const Json &d : entry["shape"]) {
      if (!is_unsigned_integer(d) || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        throw FormatError(what + ": shape " + entry["shape"].dump() + " is not a list of non-negative integers");
      }
      t.shape.push_back(d.get<int64_t>());
      // Every partial product must fit int64 too: shapes are int64 everywhere downstream.
      if (__builtin_mul_overflow(elements, d.get<uint64_t>(), &elements) ||
          elements > static_cast<uint64_t>(INT64_MAX)) {
        throw FormatError(what + ": shape " + entry["shape"].dump() + " has too many elements");
      }
    }
    const Json &offsets = entry.contains("data_offsets") ? entry["data_offsets"] : Json();
    if (!offsets.is_array() || offsets.size() != 2 || !is_unsigned_integer(offsets[0]) || !is_unsigned_integer(offsets[1])) {
      throw FormatError(what + ": data_offsets is not a pair of non-negative integers");
    }
    t.begin = offsets[0].get<uint64_t>();
    t.end = offsets[1].get<uint64_t>();
    if (t.begin > t.end) throw FormatError(what + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] run backwards");
    if (t.end > data_bytes) {
      throw FormatError(what + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                        "] are out of bounds (data section: " + std::to_string(data_bytes) + " bytes)");
    }
    uint64_t expected = 0;
    if (__builtin_mul_overflow(elements, element_bytes, &expected) || expected != t.bytes()) {
      throw FormatError(what + ": byte length " + std::to_string(t.bytes()) + " does not match dtype " + t.dtype +
                        " x shape " + shape_text(t.shape) + " = " + std::to_string(elements * element_bytes));
    }
    tensors.push_back(std::move(t));
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorEntry &a, const TensorEntry &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const TensorEntry *previous = nullptr;
  for (const TensorEntry &t : tensors) {
    if (t.begin < covered) {
      throw FormatError(where + ": tensors " + in_quotes(previous->name) + " and " + in_quotes(t.name) + " overlap");
    }
    if (t.begin > covered) {
      throw FormatError(where + ": bytes [" + std::to_string(covered) + ", " + std::to_string(t.begin) +
                        ") of the data section belong to no tensor (a hole before " + in_quotes(t.name) + ")");
    }
    covered = t.end;
    previous = &t;
  }
  if (covered != data_bytes) {
    throw FormatError(where + ": bytes [" + std::to_string(covered) + ", " + std::to_string(data_bytes) +
                      ") at the end of the data section belong to no tensor");
  }
  return tensors;
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
  tensors_ = parse_header(path, reinterpret_cast<const char *>(map_.data() + 8), header_bytes, size - data_start_,
                          &metadata_);
}

const TensorEntry *SafetensorsFile::find(const std::string &name) const {
  for (const TensorEntry &t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

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
      ::sync_file_range(fd_, static_cast<off_t>(synced_), static_cast<off_t>(on_disk_ - synced_), SYNC_FILE_RANGE_WRITE);
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

std::string header_text(const std::map<std::string, std::string> &metadata, const std::vector<HeaderEntry> &entries) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto &[k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  for (const HeaderEntry &e : entries) {
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  }
  return header.dump();
}

SafetensorsWriter::SafetensorsWriter(const std::string &path, uint64_t header_capacity, bool durable)
    : path_(path), capacity_((header_capacity + 7) / 8 * 8), durable_(durable), sink_(std::make_unique<FileSink>(path)) {
  const std::string reserved(8 + capacity_, ' ');  // overwritten by finish()
  sink_->write(reserved.data(), reserved.size());
}

SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::add(const std::string &name, const std::string &dtype, const std::vector<int64_t> &shape,
                            uint64_t bytes, const std::function<void(Sink &)> &write) {
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
