// fuzz_safetensors: untrusted safetensors files and sharded-checkpoint indexes.
//
// Every input is used three ways:
//   1. checkpoint::parse_header: the first 8 bytes give the data-section size (modulo 2^48), the rest is
//      the JSON header;
//   2. the whole input as a file (one temporary file per process, rewritten each time), opened with
//      SafetensorsFile, then run through what the converter does with an opened file: the default
//      selection (looks_like_int4_weight), check_tensor, packing, pass-through, and the int4pack records
//      of __metadata__ (decode_record, unpacked_output); and the quantizers' readers (compressed-tensors,
//      GPTQ, AWQ, msModelSlim) under a configuration the last byte chooses, checked against each format's
//      own dequantization rule;
//   3. when it starts with '{': as the *.safetensors.index.json of a checkpoint directory that holds two
//      small valid shards, a subdirectory and a config file, opened with open_checkpoint; an accepted index
//      goes through rewrite_index.
// FormatError and IoError are the accepted refusals. Any other exception, a crash, a sanitizer report, or
// an accepted file that breaks what the reader promises (in-bounds, ordered, gap-free tensors whose byte
// length is dtype x shape, unique names) is a finding.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/int4_tensors.h"
#include "checkpoint/original_layer.h"
#include "checkpoint/quant_output.h"
#include "checkpoint/safetensors_writer.h"
#include "core/floats.h"
#include "core/layout.h"
#include "fuzz_common.h"
#include "kernels/reference.h"

namespace {

namespace ck = int4pack::checkpoint;
namespace fs = std::filesystem;

std::string g_file;  // per process: /tmp/fuzz_safetensors.<pid>.safetensors
std::string g_dir;   // per process: /tmp/fuzz_safetensors.<pid>.d, a checkpoint directory

constexpr uint64_t kMaxConvertBytes = 256 << 10;  // tensors packed / unpacked in full, at most

class BytesSink : public ck::Sink {
 public:
  void write(const void *data, size_t bytes) override {
    const auto *p = static_cast<const uint8_t *>(data);
    this->bytes.insert(this->bytes.end(), p, p + bytes);
  }
  std::vector<uint8_t> bytes;
};

double half_at(const std::vector<uint8_t> &bytes, size_t i) {
  uint16_t h;
  std::memcpy(&h, bytes.data() + 2 * i, 2);
  return int4pack::half_to_float(h);
}

class CountingSink : public ck::Sink {
 public:
  void write(const void *data, size_t bytes) override {
    const auto *p = static_cast<const volatile uint8_t *>(data);
    if (bytes > 0) sum_ += p[0] + p[bytes - 1];  // touch both ends: ASan checks the span
    written += bytes;
  }
  uint64_t written = 0;

 private:
  uint64_t sum_ = 0;
};

void write_file(const std::string &path, const uint8_t *data, size_t size) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    fuzz::finding("cannot write %s", path.c_str());
  }
}

ck::OutputTensor small_tensor(const std::string &name, const std::string &dtype, std::vector<int64_t> shape,
                              std::vector<uint8_t> bytes) {
  ck::OutputTensor t;
  t.name = name;
  t.dtype = *ck::parse_dtype(dtype);
  t.shape = std::move(shape);
  t.bytes = bytes.size();
  t.write = [bytes](ck::Sink &s) { s.write(bytes.data(), bytes.size()); };
  return t;
}

void remove_temporaries() {
  std::error_code ec;
  fs::remove(g_file, ec);
  fs::remove_all(g_dir, ec);
}

// What an accepted header promises, checked independently of the reader.
void check_entries(const char *what, const std::vector<ck::TensorEntry> &tensors, uint64_t data_bytes) {
  uint64_t covered = 0;
  std::set<std::string> names;
  for (const ck::TensorEntry &t : tensors) {
    if (!names.insert(t.name).second) fuzz::finding("%s: accepted duplicate tensor name '%s'", what, t.name.c_str());
    if (t.name == "__metadata__") fuzz::finding("%s: __metadata__ returned as a tensor", what);
    if (t.begin != covered || t.end < t.begin) {
      fuzz::finding("%s: tensor '%s' at [%llu, %llu) does not follow the previous one (ends at %llu)", what,
                    t.name.c_str(), static_cast<unsigned long long>(t.begin), static_cast<unsigned long long>(t.end),
                    static_cast<unsigned long long>(covered));
    }
    covered = t.end;
    const size_t width = ck::dtype_size(t.dtype);
    if (width == 0)
      fuzz::finding("%s: tensor '%s' has unknown dtype '%s'", what, t.name.c_str(), ck::dtype_name(t.dtype));
    bool zero = false;
    for (int64_t d : t.shape) {
      if (d < 0)
        fuzz::finding("%s: tensor '%s' has a negative dim %lld", what, t.name.c_str(), static_cast<long long>(d));
      zero = zero || d == 0;
    }
    uint64_t product = width;
    bool overflow = false;
    for (int64_t d : t.shape)
      overflow = overflow || __builtin_mul_overflow(product, static_cast<uint64_t>(d), &product);
    if (zero ? t.bytes() != 0 : (overflow || product != t.bytes())) {
      fuzz::finding("%s: tensor '%s' holds %llu bytes, not dtype x shape", what, t.name.c_str(),
                    static_cast<unsigned long long>(t.bytes()));
    }
    // The element count callers (the converter) take from an accepted entry.
    const int64_t n = t.elements();
    if (static_cast<uint64_t>(n) * width != t.bytes() && n >= 0) {
      fuzz::finding("%s: tensor '%s' elements() = %lld disagrees with its %llu bytes", what, t.name.c_str(),
                    static_cast<long long>(n), static_cast<unsigned long long>(t.bytes()));
    }
  }
  if (covered != data_bytes) {
    fuzz::finding("%s: tensors cover %llu of %llu data bytes", what, static_cast<unsigned long long>(covered),
                  static_cast<unsigned long long>(data_bytes));
  }
}

uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void fuzz_parse_header(const uint8_t *data, size_t size) {
  if (size < 8) return;
  const uint64_t data_bytes = le64(data) % (uint64_t{1} << 48);
  std::map<std::string, std::string> metadata;
  std::vector<ck::TensorEntry> tensors;
  try {
    tensors = ck::parse_header("fuzz", reinterpret_cast<const char *>(data + 8), size - 8, data_bytes, &metadata);
  } catch (const ck::FormatError &) {
    return;
  }
  check_entries("parse_header", tensors, data_bytes);
}

void convert_paths(const ck::SafetensorsFile &file) {
  const std::vector<ck::TensorEntry> &tensors = file.tensors();
  for (const ck::TensorEntry &t : tensors) {
    if (file.find(t.name) != &t) fuzz::finding("find('%s') is not the entry", t.name.c_str());
    file.prefetch(t);
    for (auto input : {ck::InputEncoding::kSigned, ck::InputEncoding::kOffset8})
      ck::looks_like_int4_weight(file, t, input);
    ck::PackOptions options[4];
    options[1].layout = int4pack::Layout::kNz;
    options[1].int32_words = true;
    options[2].transpose = true;
    options[2].input = ck::InputEncoding::kOffset8;
    options[3].layout = int4pack::Layout::kNz;
    options[3].transpose = true;
    for (const ck::PackOptions &o : options) {
      const std::vector<std::string> problems = ck::check_tensor(file, t, o);
      if (t.bytes() > kMaxConvertBytes) continue;
      if (!problems.empty()) {
        // Only values out of range (the header checks pass): the one-read path must refuse it too.
        if (ck::check_tensor(file, t, o, /*values_known_in_range=*/true).empty() &&
            ck::pack_if_in_range(file, t, o) != nullptr) {
          fuzz::finding("pack_if_in_range('%s') packed a tensor with values out of range", t.name.c_str());
        }
        continue;
      }
      const ck::CarrierLayer layer(file, t, o);
      // The record the converter writes must read back.
      ck::decode_record("fuzz", ck::encode_record(ck::record_of(layer, o)));
      // The converter's one-read path (check and pack together) packs what the reference packs of the same
      // values, since check_tensor found every value in range.
      const int4pack::MatrixShape m = layer.matrix();
      std::vector<int32_t> values(static_cast<size_t>(m.rows * m.cols));
      ck::for_each_carrier(file.data(t), t.dtype, t.elements(), [&](int64_t i, int32_t v) {
        const int64_t r = i / t.shape[1], c = i % t.shape[1];
        values[static_cast<size_t>(o.transpose ? c * m.cols + r : i)] =
            v - (o.input == ck::InputEncoding::kOffset8 ? 8 : 0);
        return true;
      });
      const int4pack::PackedLayout layout =
          o.layout == int4pack::Layout::kNz ? int4pack::PackedLayout::kNz : int4pack::PackedLayout::kNd;
      std::vector<uint8_t> want(int4pack::packed_bytes(m, layout));
      int4pack::reference::pack(values.data(), m, layout, want.data());
      const uint8_t *one_read = ck::pack_if_in_range(file, t, o);
      if (one_read == nullptr) {
        fuzz::finding("pack_if_in_range('%s') refused a tensor check_tensor accepts", t.name.c_str());
      } else if (std::memcmp(one_read, want.data(), want.size()) != 0) {
        fuzz::finding("pack_if_in_range('%s') packed different bytes from the reference", t.name.c_str());
      }
    }
    if (t.bytes() <= kMaxConvertBytes) {
      ck::OutputTensor copy = ck::passthrough_output(file, t);
      CountingSink sink;
      copy.write(sink);
      if (sink.written != t.bytes()) fuzz::finding("passthrough_output('%s') wrote the wrong length", t.name.c_str());
    }
    file.release(t);
  }
  // Records of packed tensors, as `int4pack unpack` reads them.
  const std::string prefix = ck::kMetadataPrefix;
  for (const auto &[key, value] : file.metadata()) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const ck::TensorEntry *t = file.find(key.substr(prefix.size()));
    try {
      const ck::PackedRecord r = ck::decode_record(key, value);
      if (t == nullptr || t->bytes() > kMaxConvertBytes) continue;
      ck::OutputTensor out = ck::unpacked_output(file, *t, r);
      if (out.bytes > 8 * kMaxConvertBytes) continue;
      CountingSink sink;
      out.write(sink);
      if (sink.written != out.bytes) {
        fuzz::finding("unpacked_output('%s') wrote %llu bytes, declared %llu", t->name.c_str(),
                      static_cast<unsigned long long>(sink.written), static_cast<unsigned long long>(out.bytes));
      }
    } catch (const ck::FormatError &) {
    }
  }
}

// The quantizers' readers on the file, read as each format with a configuration chosen by the input's
// last byte. Every layer the reader accepts and converts must give, for every weight, the original's own
// dequantization (original_layer.cc, written independently of quant_layer.cc): (M[r][j] + offset) * scale
// from the packed bytes (unpacked by the reference) equals W[perm[r]][j], up to the rounding of scale and
// offset to FLOAT16.
void quant_paths(const uint8_t selector) {
  const ck::Checkpoint in = ck::open_checkpoint(g_file);
  for (ck::SourceFormat f : {ck::SourceFormat::kCompressedTensors, ck::SourceFormat::kGptq, ck::SourceFormat::kAwq,
                             ck::SourceFormat::kMsModelSlim}) {
    ck::QuantConfig config;
    config.format = f;
    const int64_t sizes[4] = {-1, 0, 32, 64};
    config.group_size = sizes[selector & 3];
    config.symmetric = (selector & 4) != 0;
    config.gptq_v2 = (selector & 8) != 0;
    config.slim_version = (selector & 16) ? "ascendV1" : "";
    ck::WeightScheme scheme;
    scheme.targets = {"Linear"};
    scheme.format = "pack-quantized";
    scheme.num_bits = 4;
    scheme.type = "int";
    scheme.strategy = (selector & 3) == 0 ? "channel" : "group";
    scheme.group_size = config.group_size;
    scheme.symmetric = config.symmetric;
    config.schemes = {scheme};
    for (const ck::TensorEntry &t : in.shards[0]->tensors()) config.tensor_types[t.name] = "W4A16";
    const ck::LayerSearch search = ck::find_quant_layers(in, config);
    for (const ck::QuantLayerPlan &plan : search.layers) {
      if (plan.k * plan.n > int64_t{1} << 16 || plan.weight.entry->bytes() > kMaxConvertBytes) continue;
      ck::LayerOptions o;
      if ((selector & 32) != 0) o.layout = int4pack::Layout::kNd;
      o.int32_words = (selector & 64) != 0;
      o.act_dtype = ck::Dtype::kF16;
      ck::ConvertedLayer c;
      std::vector<std::string> problems;
      if (!ck::convert_layer(plan, o, &c, &problems)) {
        if (problems.empty()) fuzz::finding("convert_layer('%s') failed without a problem", plan.prefix.c_str());
        continue;
      }
      const int4pack::MatrixShape m{c.record.view_shape[0], c.record.view_shape[1]};
      const int4pack::PackedLayout layout =
          c.record.options.layout == int4pack::Layout::kNz ? int4pack::PackedLayout::kNz : int4pack::PackedLayout::kNd;
      if (c.storage.bytes != int4pack::packed_bytes(m, layout))
        fuzz::finding("packed size of '%s'", plan.prefix.c_str());
      std::vector<int32_t> values(static_cast<size_t>(m.rows * m.cols));
      int4pack::reference::unpack(c.weight, m, layout, values.data());
      std::vector<std::vector<uint8_t>> params;
      for (const ck::OutputTensor &t : c.params) {
        BytesSink sink;
        t.write(sink);
        if (sink.bytes.size() != t.bytes) fuzz::finding("'%s' wrote the wrong length", t.name.c_str());
        params.push_back(sink.bytes);
      }
      const ck::OriginalLayer original(plan);
      const bool transposed = c.record.options.transpose;
      const bool has_offset = !c.record.layer.offset.empty(), has_perm = !c.record.layer.perm.empty();
      const int64_t group = c.record.layer.group_size == 0 ? plan.k : c.record.layer.group_size;
      for (int64_t r = 0; r < plan.k; ++r) {
        int32_t from = static_cast<int32_t>(r);
        if (has_perm) std::memcpy(&from, params.back().data() + 4 * r, 4);
        for (int64_t j = 0; j < plan.n; ++j) {
          const size_t at = static_cast<size_t>((r / group) * plan.n + j);
          const double q = values[static_cast<size_t>(transposed ? j * plan.k + r : r * plan.n + j)];
          const double s = half_at(params[0], at);
          const double off = has_offset ? half_at(params[1], at) : 0.0;
          double magnitude = 0;
          const double want = original.weight(from, j, &magnitude);
          const double got = (q + off) * s;
          if (!(std::fabs(got - want) <= magnitude * 1.5e-3 + 17 * 0x1p-24)) {  // FLOAT16 rounding, subnormals
            fuzz::finding("%s layer '%s': weight [%lld, %lld] is %g, the original's rule gives %g",
                          ck::source_format_name(f), plan.prefix.c_str(), static_cast<long long>(r),
                          static_cast<long long>(j), got, want);
          }
        }
      }
    }
  }
}

void fuzz_file(const uint8_t *data, size_t size) {
  write_file(g_file, data, size);
  try {
    const ck::SafetensorsFile file(g_file);
    if (file.file_size() != size)
      fuzz::finding("file_size %llu of a %zu-byte file", static_cast<unsigned long long>(file.file_size()), size);
    const uint64_t data_start = 8 + le64(data);  // the reader accepted it: the header length is in bounds
    if (data_start > size) fuzz::finding("accepted a header length past the end of the file");
    check_entries("SafetensorsFile", file.tensors(), size - data_start);
    for (const ck::TensorEntry &t : file.tensors()) {
      // The mapping starts at the file's first byte: data(t) must be data_start + begin into it.
      if (t.bytes() > 0) {
        const volatile uint8_t first = *file.data(t);
        const volatile uint8_t last = file.data(t)[t.bytes() - 1];
        if (first != data[data_start + t.begin] || last != data[data_start + t.end - 1]) {
          fuzz::finding("data('%s') does not point at its bytes", t.name.c_str());
        }
      }
    }
    convert_paths(file);
    if (size > 0) quant_paths(data[size - 1]);
  } catch (const ck::FormatError &) {
  } catch (const ck::IoError &) {
  }
}

void fuzz_index(const uint8_t *data, size_t size) {
  write_file(g_dir + "/model.safetensors.index.json", data, size);
  try {
    const ck::Checkpoint c = ck::open_checkpoint(g_dir);
    if (c.shards.size() != c.shard_names.size()) fuzz::finding("shards and shard_names differ in length");
    for (const std::string &name : c.shard_names) {
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        fuzz::finding("accepted shard name '%s' outside the directory", name.c_str());
      }
    }
    // An accepted index is one rewrite_index must handle.
    const std::string rewritten = ck::rewrite_index(c.index_text, c.total_bytes());
    const auto j = nlohmann::ordered_json::parse(rewritten);
    if (j.at("metadata").at("total_size").get<uint64_t>() != c.total_bytes()) {
      fuzz::finding("rewrite_index did not record total_size");
    }
  } catch (const ck::FormatError &) {
  } catch (const ck::IoError &) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const std::string base = (fs::temp_directory_path() / ("fuzz_safetensors." + std::to_string(::getpid()))).string();
  g_file = base + ".safetensors";
  g_dir = base + ".d";
  std::error_code ec;
  fs::remove_all(g_dir, ec);
  fs::create_directories(g_dir + "/original");
  write_file(g_dir + "/config.json", reinterpret_cast<const uint8_t *>("{}\n"), 3);
  ck::write_safetensors(
      g_dir + "/model-00001-of-00002.safetensors", {{"format", "pt"}},
      {small_tensor("model.a.weight", "I32", {2, 4}, {0, 0, 0, 0, 1, 0, 0, 0, 0xF8, 0xFF, 0xFF, 0xFF, 7, 0, 0, 0,
                                                      2, 0, 0, 0, 3, 0, 0, 0, 0xFC, 0xFF, 0xFF, 0xFF, 5, 0, 0, 0}),
       small_tensor("model.norm", "F32", {1}, {0, 0, 0x80, 0x3F})});
  ck::write_safetensors(g_dir + "/model-00002-of-00002.safetensors", {},
                        {small_tensor("model.b.weight", "I8", {2, 2}, {1, 0xFF, 7, 0xF8})});
  std::atexit(remove_temporaries);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    fuzz_parse_header(data, size);
    fuzz_file(data, size);
    size_t i = 0;
    while (i < size && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r')) ++i;
    if (i < size && data[i] == '{') fuzz_index(data, size);
  } catch (const std::exception &e) {
    fuzz::finding("unexpected exception: %s", e.what());
  } catch (...) {
    fuzz::finding("unexpected exception of a non-std type");
  }
  return 0;
}
