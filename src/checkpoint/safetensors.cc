#include "checkpoint/safetensors.h"

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
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t *>(data_), size_);
}

MappedFile::MappedFile(MappedFile &&other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
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
  } catch (const Json::parse_error &e) {
    // The parser quotes what it last read; keep the message printable (and valid UTF-8) whatever that was.
    std::string what = e.what();
    for (char &ch : what) {
      if (static_cast<unsigned char>(ch) >= 0x80 || (static_cast<unsigned char>(ch) < 0x20 && ch != '\n')) ch = '?';
    }
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

namespace {

class FileSink : public Sink {
 public:
  explicit FileSink(const std::string &path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw IoError(path + ": cannot create: " + std::strerror(errno));
    buffer_.reserve(kBuffer);
  }
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void write(const void *data, size_t bytes) override {
    written_ += bytes;
    const auto *p = static_cast<const uint8_t *>(data);
    if (buffer_.size() + bytes <= kBuffer) {
      buffer_.insert(buffer_.end(), p, p + bytes);
      return;
    }
    drain();
    if (bytes >= kBuffer) {
      put(p, bytes);
    } else {
      buffer_.insert(buffer_.end(), p, p + bytes);
    }
  }
  void finish() {
    drain();
    // On disk before it is renamed into place: a crash never leaves a renamed but empty file.
    if (::fdatasync(fd_) != 0) throw IoError(path_ + ": cannot sync: " + std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw IoError(path_ + ": cannot close: " + std::strerror(errno));
  }
  uint64_t written() const { return written_; }

 private:
  static constexpr size_t kBuffer = size_t{4} << 20;
  void drain() {
    put(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  void put(const uint8_t *p, size_t bytes) {
    while (bytes > 0) {
      const ssize_t n = ::write(fd_, p, bytes);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw IoError(path_ + ": write failed: " + std::strerror(n < 0 ? errno : ENOSPC));
      p += n;
      bytes -= static_cast<size_t>(n);
      on_disk_ += static_cast<uint64_t>(n);
    }
    // Start writing back what is complete, so the final sync has little left to wait for and the disk
    // works while the next tensors are packed.
    if (on_disk_ - synced_ >= kWritebackStep) {
      ::sync_file_range(fd_, static_cast<off_t>(synced_), static_cast<off_t>(on_disk_ - synced_), SYNC_FILE_RANGE_WRITE);
      synced_ = on_disk_;
    }
  }
  static constexpr uint64_t kWritebackStep = uint64_t{32} << 20;
  uint64_t on_disk_ = 0;
  uint64_t synced_ = 0;
  std::string path_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
  uint64_t written_ = 0;
};

}  // namespace

void write_safetensors(const std::string &path, const std::map<std::string, std::string> &metadata,
                       const std::vector<OutputTensor> &tensors) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto &[k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  for (const OutputTensor &t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  FileSink sink(path);
  sink.write(length, 8);
  sink.write(text.data(), text.size());
  for (const OutputTensor &t : tensors) {
    const uint64_t before = sink.written();
    t.write(sink);
    if (sink.written() - before != t.bytes) {
      throw FormatError(path + ": tensor " + in_quotes(t.name) + " wrote " + std::to_string(sink.written() - before) +
                        " bytes instead of " + std::to_string(t.bytes));
    }
  }
  sink.finish();
}

}  // namespace int4pack::checkpoint
