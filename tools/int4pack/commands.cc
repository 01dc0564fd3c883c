#include "commands.h"

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoint/checkpoint.h"
#include "checkpoint/int4_tensors.h"
#include "checkpoint/quant_output.h"
#include "int4pack/engine.h"
#include "matmul_check.h"
#include "session.h"

namespace int4pack::tool {
namespace {

using checkpoint::Checkpoint;
using checkpoint::OutputTensor;
using checkpoint::PackedRecord;
using checkpoint::SafetensorsFile;
using checkpoint::shape_text;
using checkpoint::TensorEntry;
using Json = nlohmann::ordered_json;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void apply_threads(const Common &common) {
  if (common.threads < 0) throw UsageError("--threads must be >= 1");
  if (const Result status = engine_status(); !status) throw UsageError(status.message);
  set_num_threads(common.threads);
}

const std::string *record_of(const SafetensorsFile &file, const TensorEntry &t) {
  auto it = file.metadata().find(checkpoint::kMetadataPrefix + t.name);
  return it == file.metadata().end() ? nullptr : &it->second;
}

std::string packed_as(const PackedRecord &r) {
  return std::string(r.options.int32_words ? "int32" : "int4") + " " + (r.options.layout == Layout::kNz ? "nz" : "nd");
}

// Every OutputTensor of `tensors`, wrapped to stop on interruption and to advance `session`.
void track(std::vector<OutputTensor> &tensors, Session &session) {
  for (OutputTensor &t : tensors) {
    auto inner = std::move(t.write);
    const uint64_t bytes = t.source_bytes;
    t.write = [inner = std::move(inner), bytes, &session](checkpoint::Sink &sink) {
      session.check();
      inner(sink);
      session.check();
      session.advance(bytes);
    };
  }
}

// Writes one output checkpoint shaped like `in` (same shard names, index rewritten, other files copied),
// taking each shard's tensors and metadata from make(shard index, metadata). Returns the bytes of tensor
// data written.
template <typename MakeShard>
uint64_t write_checkpoint(const Checkpoint &in, const std::string &output, const Common &common, MakeShard make) {
  Session session(!common.quiet && !common.json);
  checkpoint::OutputTransaction out(output, in.is_directory, common.force, session);
  std::vector<std::vector<OutputTensor>> shards(in.shards.size());
  std::vector<std::map<std::string, std::string>> metadata(in.shards.size());
  uint64_t total = 0;  // tensor bytes written
  uint64_t to_read = 0;
  for (size_t s = 0; s < in.shards.size(); ++s) {
    shards[s] = make(s, &metadata[s]);
    for (const OutputTensor &t : shards[s]) {
      total += t.bytes;
      to_read += t.source_bytes;
    }
  }
  session.begin(in.tensor_count(), to_read);
  for (size_t s = 0; s < in.shards.size(); ++s) {
    track(shards[s], session);
    const std::string path = checkpoint::shard_output_path(in, out.staging(), s);
    session.writing(path, false);
    checkpoint::write_safetensors(path, metadata[s], shards[s], common.sync);
  }
  checkpoint::write_directory_rest(in, out.staging(), total, session);
  session.check();
  out.commit();
  session.finish();
  return total;
}

}  // namespace

int convert(checkpoint::ConvertRequest request, const Common &common) {
  const auto start = std::chrono::steady_clock::now();
  apply_threads(common);
  request.force = common.force;
  request.sync = common.sync;
  Session session(!common.quiet && !common.json);
  const checkpoint::ConvertReport report = checkpoint::convert_checkpoint(request, session);
  if (!report.problems.empty()) {
    for (const std::string &p : report.problems) std::fprintf(stderr, "int4pack: %s\n", p.c_str());
    std::fprintf(stderr, "int4pack: %zu problem%s found; nothing was written\n", report.problems.size(),
                 report.problems.size() == 1 ? "" : "s");
    return 1;
  }
  const double seconds = seconds_since(start);
  const uint64_t count = report.packed.size();
  if (common.json) {
    Json packed_list = Json::array();
    for (const checkpoint::PackedTensor &p : report.packed) {
      packed_list.push_back({{"name", p.name},
                             {"shape", p.shape},
                             {"dtype", checkpoint::dtype_name(p.dtype)},
                             {"packed_as", packed_as(p.record)},
                             {"stored_dtype", checkpoint::dtype_name(p.storage.dtype)},
                             {"stored_shape", p.storage.shape},
                             {"bytes_in", p.bytes_in},
                             {"bytes_out", p.storage.bytes}});
    }
    const Json summary = {{"command", "convert"},
                          {"input", request.input},
                          {"source_format", checkpoint::source_format_name(report.format)},
                          {"output", request.output},
                          {"packed_count", count},
                          {"passed_through_count", report.tensor_count - count},
                          {"input_file_bytes", report.input_file_bytes},
                          {"output_tensor_bytes", report.output_tensor_bytes},
                          {"seconds", seconds},
                          {"packed", packed_list}};
    std::printf("%s\n", summary.dump(2).c_str());
  } else if (!common.quiet) {
    uint64_t carrier_bytes = 0, packed_bytes = 0;
    for (const checkpoint::PackedTensor &p : report.packed) {
      carrier_bytes += p.bytes_in;
      packed_bytes += p.storage.bytes;
    }
    if (report.format == checkpoint::SourceFormat::kCarrier) {
      std::printf("packed %llu of %llu tensors (%.3f GB of carriers -> %.3f GB packed) in %.2f s into %s\n",
                  static_cast<unsigned long long>(count), static_cast<unsigned long long>(report.tensor_count),
                  carrier_bytes / 1e9, packed_bytes / 1e9, seconds, request.output.c_str());
    } else {
      std::printf("converted %llu %s layer%s (%.3f GB of their tensors -> %.3f GB packed weights) in %.2f s into %s\n",
                  static_cast<unsigned long long>(count), checkpoint::source_format_name(report.format),
                  count == 1 ? "" : "s", carrier_bytes / 1e9, packed_bytes / 1e9, seconds, request.output.c_str());
    }
  }
  return 0;
}

int unpack(const std::string &input, const std::string &output, const Common &common) {
  const auto start = std::chrono::steady_clock::now();
  apply_threads(common);
  checkpoint::refuse_output_over_input(input, output);
  checkpoint::refuse_existing_output(output, common.force);
  const Checkpoint in = checkpoint::open_checkpoint(input);
  // Read every record before writing anything.
  std::vector<std::map<std::string, PackedRecord>> records(in.shards.size());
  uint64_t count = 0;
  for (size_t s = 0; s < in.shards.size(); ++s) {
    for (const TensorEntry &t : in.shards[s]->tensors()) {
      if (const std::string *text = record_of(*in.shards[s], t)) {
        records[s][t.name] = checkpoint::decode_record(in.shards[s]->path() + ": tensor '" + t.name + "'", *text);
        ++count;
      }
    }
  }
  if (count == 0) throw UsageError(input + " holds no tensor packed by int4pack");
  const uint64_t written =
      write_checkpoint(in, output, common, [&](size_t s, std::map<std::string, std::string> *meta) {
        const SafetensorsFile &file = *in.shards[s];
        for (const auto &[key, value] : file.metadata()) {
          if (key.rfind(checkpoint::kMetadataPrefix, 0) != 0 && key != "int4pack.version") (*meta)[key] = value;
        }
        std::vector<OutputTensor> tensors;
        for (const TensorEntry &t : file.tensors()) {
          auto it = records[s].find(t.name);
          tensors.push_back(it == records[s].end() ? checkpoint::passthrough_output(file, t)
                                                   : checkpoint::unpacked_output(file, t, it->second));
        }
        return tensors;
      });
  if (common.json) {
    std::printf("%s\n", Json({{"command", "unpack"},
                              {"input", input},
                              {"output", output},
                              {"unpacked_count", count},
                              {"output_tensor_bytes", written},
                              {"seconds", seconds_since(start)}})
                            .dump(2)
                            .c_str());
  } else if (!common.quiet) {
    std::printf("unpacked %llu tensors in %.2f s into %s\n", static_cast<unsigned long long>(count),
                seconds_since(start), output.c_str());
  }
  return 0;
}

namespace {

struct Located {
  const SafetensorsFile *file;
  const TensorEntry *tensor;
};

// A layer converted from a quantizer's checkpoint, as the packed checkpoint holds it.
struct PackedLayer {
  Located weight;
  PackedRecord record;
  std::string record_text;
};

class BytesSink : public checkpoint::Sink {
 public:
  void write(const void *data, size_t bytes) override {
    const auto *p = static_cast<const uint8_t *>(data);
    bytes_.insert(bytes_.end(), p, p + bytes);
  }
  const std::vector<uint8_t> &bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// The checks of `verify` and their report.
class Verification {
 public:
  Verification(const Common &common) : common_(common) {}

  void report(const std::string &name, const std::string &status, const std::string &detail) {
    const bool good = status == "ok" || status == "packed ok" || status == "matmul ok";
    if (!good) ++failures_;
    results_.push_back({{"name", name}, {"status", status}, {"detail", detail}});
    if (!common_.json && (!common_.quiet || !good || (common_.show_matmul && status == "matmul ok"))) {
      std::printf("%-10s %s%s%s\n", status == "ok" ? "same" : status.c_str(), name.c_str(), detail.empty() ? "" : ": ",
                  detail.c_str());
    }
  }
  uint64_t failures() const { return failures_; }
  Json &results() { return results_; }

 private:
  const Common &common_;
  uint64_t failures_ = 0;
  Json results_ = Json::array();
};

// `a` and the bytes of `b` (an output tensor re-derived) hold the same tensor.
std::string same_tensor(const Located &a, const OutputTensor &b) {
  if (a.tensor->dtype != b.dtype || a.tensor->shape != b.shape) {
    return std::string(checkpoint::dtype_name(a.tensor->dtype)) + " " + shape_text(a.tensor->shape) + " instead of " +
           checkpoint::dtype_name(b.dtype) + " " + shape_text(b.shape);
  }
  BytesSink sink;
  b.write(sink);
  const uint64_t first = checkpoint::first_difference(*a.file, *a.tensor, sink.bytes().data());
  return first == a.tensor->bytes() ? "" : "first differing byte at offset " + std::to_string(first);
}

ConvertedTensors tensors_of(const PackedLayer &l, const std::map<std::string, Located> &in_packed) {
  ConvertedTensors t;
  const auto data = [](const Located &at) {
    at.file->prefetch(*at.tensor);
    return at.file->data(*at.tensor);
  };
  t.weight = data(l.weight);
  t.weight_bytes = l.weight.tensor->bytes();
  t.weight_storage = l.weight.tensor->shape;
  const Located &scale = in_packed.at(l.record.layer.scale);
  t.scale = data(scale);
  t.param_shape = scale.tensor->shape;
  if (!l.record.layer.offset.empty()) t.offset = data(in_packed.at(l.record.layer.offset));
  if (!l.record.layer.perm.empty()) t.perm = data(in_packed.at(l.record.layer.perm));
  return t;
}

// A converted layer re-derived from the original and compared tensor by tensor; with `matmul`, also
// multiplied. Returns the names it covered in the packed checkpoint.
std::set<std::string> verify_layer(const std::string &prefix, const PackedLayer &l,
                                   const checkpoint::QuantLayerPlan *plan,
                                   const std::map<std::string, Located> &in_packed, bool matmul, Verification &v) {
  const std::string name = checkpoint::weight_name(prefix);
  std::set<std::string> covered{name};
  if (plan == nullptr) {
    v.report(name, "MISMATCH",
             "the original has no " + std::string(checkpoint::source_format_name(l.record.layer.source)) + " layer '" +
                 prefix + "'");
    return covered;
  }
  checkpoint::LayerOptions o;
  o.layout = l.record.options.layout;
  o.int32_words = l.record.options.int32_words;
  o.act_dtype = l.record.layer.act_dtype;
  checkpoint::ConvertedLayer c;
  std::vector<std::string> problems;
  if (!checkpoint::convert_layer(*plan, o, &c, &problems)) {
    v.report(name, "MISMATCH", "the original layer cannot be converted as recorded: " + problems[0]);
    return covered;
  }
  if (checkpoint::encode_record(c.record) != l.record_text) {
    v.report(name, "MISMATCH", "its record is not the one the original gives: " + checkpoint::encode_record(c.record));
    return covered;
  }
  if (c.storage.bytes != l.weight.tensor->bytes()) {
    v.report(name, "MISMATCH",
             std::to_string(l.weight.tensor->bytes()) + " bytes instead of " + std::to_string(c.storage.bytes));
    return covered;
  }
  const uint64_t first = checkpoint::first_difference(*l.weight.file, *l.weight.tensor, c.weight);
  if (first != c.storage.bytes) {
    v.report(name, "MISMATCH", "first differing byte at offset " + std::to_string(first));
    return covered;
  }
  v.report(name, "packed ok", "re-derived and identical");
  for (const OutputTensor &p : c.params) {
    covered.insert(p.name);
    auto it = in_packed.find(p.name);
    if (it == in_packed.end()) {
      v.report(p.name, "MISSING", "the packed checkpoint lacks it");
      continue;
    }
    const std::string differs = same_tensor(it->second, p);
    v.report(p.name, differs.empty() ? "ok" : "MISMATCH", differs);
  }
  if (!matmul) return covered;
  const checkpoint::OriginalLayer original(*plan);
  const MatmulCheck m = check_matmul(original, l.record, tensors_of(l, in_packed), std::hash<std::string>{}(prefix));
  char detail[256];
  if (!m.failure.empty()) {
    v.report(prefix, "MATMUL", m.failure);
  } else {
    std::snprintf(detail, sizeof detail,
                  "max |y - y_ref| / tolerance = %.3g (|y - y_ref| = %.3g, tolerance %.3g; %lld x %lld x %lld)",
                  m.worst_ratio, m.error, m.tolerance, static_cast<long long>(m.rows),
                  static_cast<long long>(original.k()), static_cast<long long>(original.n()));
    v.report(prefix, m.ok() ? "matmul ok" : "MATMUL", detail);
  }
  return covered;
}

}  // namespace

int verify(const std::string &original_path, const std::string &packed_path, const Common &common, bool matmul) {
  apply_threads(common);
  const Checkpoint original = checkpoint::open_checkpoint(original_path);
  const Checkpoint packed = checkpoint::open_checkpoint(packed_path);
  std::map<std::string, Located> in_packed;
  std::map<std::string, PackedLayer> layers;  // by prefix P
  std::set<std::string> consumed;             // the original tensors the layers replace
  for (const auto &shard : packed.shards) {
    for (const TensorEntry &t : shard->tensors()) {
      in_packed[t.name] = {shard.get(), &t};
      const std::string *text = record_of(*shard, t);
      if (text == nullptr) continue;
      PackedRecord r = checkpoint::decode_record(shard->path() + ": tensor '" + t.name + "'", *text);
      if (!r.quantized()) continue;
      for (const std::string &s : r.layer.source_tensors) consumed.insert(s);
      layers[t.name.substr(0, t.name.size() - std::string(".weight").size())] = {
          {shard.get(), &t}, std::move(r), *text};
    }
  }
  Verification v(common);
  uint64_t packed_count = 0;
  std::set<std::string> seen;
  if (!layers.empty()) {
    const checkpoint::QuantConfig config =
        checkpoint::read_quant_config(original_path, layers.begin()->second.record.layer.source);
    const checkpoint::LayerSearch search = checkpoint::find_quant_layers(original, config);
    for (const std::string &p : search.problems) v.report(original_path, "ORIGINAL", p);
    std::map<std::string, const checkpoint::QuantLayerPlan *> plans;
    for (const checkpoint::QuantLayerPlan &p : search.layers) plans[p.prefix] = &p;
    for (const auto &[prefix, layer] : layers) {
      throw_if_interrupted();
      auto it = plans.find(prefix);
      const std::set<std::string> covered =
          verify_layer(prefix, layer, it == plans.end() ? nullptr : it->second, in_packed, matmul, v);
      seen.insert(covered.begin(), covered.end());
      ++packed_count;
    }
  } else if (matmul) {
    throw UsageError(packed_path + " holds no layer converted from a quantizer's checkpoint; --matmul checks those");
  }
  for (const auto &shard : original.shards) {
    for (const TensorEntry &t : shard->tensors()) {
      throw_if_interrupted();
      if (consumed.count(t.name)) continue;  // checked through its layer
      seen.insert(t.name);
      auto it = in_packed.find(t.name);
      if (it == in_packed.end()) {
        v.report(t.name, "MISSING", "not in " + packed_path);
        continue;
      }
      const SafetensorsFile &pf = *it->second.file;
      const TensorEntry &pt = *it->second.tensor;
      // Both sides are read with pread, the original once: checked and re-packed chunk by chunk.
      uint64_t first = 0;
      const std::string *text = record_of(pf, pt);
      if (text != nullptr) {
        const PackedRecord r = checkpoint::decode_record(pf.path() + ": tensor '" + pt.name + "'", *text);
        if (r.original_dtype != t.dtype || r.original_shape != t.shape) {
          v.report(t.name, "MISMATCH",
                   std::string("record says ") + checkpoint::dtype_name(r.original_dtype) + " " +
                       shape_text(r.original_shape) + ", the original is " + checkpoint::dtype_name(t.dtype) + " " +
                       shape_text(t.shape));
          continue;
        }
        const std::vector<std::string> problems = checkpoint::check_tensor(*shard, t, r.options, true);
        const uint8_t *expected = problems.empty() ? checkpoint::pack_if_in_range(*shard, t, r.options) : nullptr;
        if (expected == nullptr) {
          v.report(t.name, "MISMATCH",
                   "the original cannot be packed as recorded: " +
                       (problems.empty() ? "a value lies outside the int4 range" : problems[0]));
          continue;
        }
        const uint64_t expected_bytes = checkpoint::packed_storage({r.view_shape[0], r.view_shape[1]}, r.options).bytes;
        if (expected_bytes != pt.bytes()) {
          v.report(t.name, "MISMATCH",
                   std::to_string(pt.bytes()) + " bytes instead of " + std::to_string(expected_bytes));
          continue;
        }
        first = checkpoint::first_difference(pf, pt, expected);
        ++packed_count;
      } else {
        if (pt.dtype != t.dtype || pt.shape != t.shape) {
          v.report(t.name, "MISMATCH",
                   std::string(checkpoint::dtype_name(pt.dtype)) + " " + shape_text(pt.shape) + " instead of " +
                       checkpoint::dtype_name(t.dtype) + " " + shape_text(t.shape));
          continue;
        }
        first = checkpoint::first_difference(*shard, t, pf, pt);
      }
      if (first != pt.bytes()) {
        v.report(t.name, "MISMATCH", "first differing byte at offset " + std::to_string(first));
        continue;
      }
      v.report(t.name, text != nullptr ? "packed ok" : "ok", text != nullptr ? "re-derived and identical" : "");
    }
  }
  for (const auto &[name, where] : in_packed) {
    if (!seen.count(name)) v.report(name, "EXTRA", "not in " + original_path);
  }
  const uint64_t failures = v.failures();
  if (common.json) {
    std::printf("%s\n", Json({{"command", "verify"},
                              {"original", original_path},
                              {"packed", packed_path},
                              {"packed_tensors_checked", packed_count},
                              {"matmul", matmul},
                              {"failures", failures},
                              {"tensors", v.results()}})
                            .dump(2)
                            .c_str());
  } else {
    std::printf("%s: %llu tensors (%llu packed) checked, %llu failure%s\n", failures ? "FAILED" : "verified",
                static_cast<unsigned long long>(v.results().size()), static_cast<unsigned long long>(packed_count),
                static_cast<unsigned long long>(failures), failures == 1 ? "" : "s");
  }
  return failures == 0 ? 0 : 1;
}

namespace {

// The quantized layers of a checkpoint: from int4pack's records when it is converted, else as its config
// files describe it (each layer's parameters read, to tell symmetric layers from asymmetric ones).
Json layer_table(const std::string &input, const Checkpoint &in, std::string *format) {
  Json layers = Json::array();
  for (const auto &shard : in.shards) {
    for (const TensorEntry &t : shard->tensors()) {
      const std::string *text = record_of(*shard, t);
      if (text == nullptr) continue;
      const PackedRecord r = checkpoint::decode_record(shard->path() + ": tensor '" + t.name + "'", *text);
      if (!r.quantized()) continue;
      *format = std::string("int4pack output of ") + checkpoint::source_format_name(r.layer.source);
      layers.push_back({{"layer", t.name.substr(0, t.name.size() - std::string(".weight").size())},
                        {"source_format", checkpoint::source_format_name(r.layer.source)},
                        {"k", r.layer.weight_shape[0]},
                        {"n", r.layer.weight_shape[1]},
                        {"group_size", r.layer.group_size},
                        {"symmetric", r.layer.offset.empty()},
                        {"act_order", !r.layer.perm.empty()},
                        {"packed_as", packed_as(r) + (r.options.transpose ? " transposed" : "")}});
    }
  }
  if (!layers.empty()) return layers;
  const checkpoint::QuantConfig config = checkpoint::read_quant_config(input, std::nullopt);
  *format = checkpoint::source_format_name(config.format);
  if (config.format == checkpoint::SourceFormat::kCarrier) return layers;
  const checkpoint::LayerSearch search = checkpoint::find_quant_layers(in, config);
  for (const std::string &p : search.problems) std::fprintf(stderr, "int4pack: %s\n", p.c_str());
  for (const checkpoint::QuantLayerPlan &p : search.layers) {
    std::vector<std::string> problems;
    const checkpoint::QuantParams q = checkpoint::read_quant_params(p, &problems);
    for (const std::string &m : problems) std::fprintf(stderr, "int4pack: %s\n", m.c_str());
    layers.push_back({{"layer", p.prefix},
                      {"source_format", checkpoint::source_format_name(p.format)},
                      {"k", p.k},
                      {"n", p.n},
                      {"group_size", q.group_size},
                      {"symmetric", q.offsets.empty()},
                      {"act_order", !q.perm.empty()},
                      {"packed_as", ""}});
  }
  return layers;
}

}  // namespace

int inspect(const std::string &input, const Common &common) {
  const Checkpoint in = checkpoint::open_checkpoint(input);
  Json list = Json::array();
  if (!common.json) std::printf("%-48s %-5s %-22s %12s  %s\n", "tensor", "dtype", "shape", "bytes", "packed");
  for (size_t s = 0; s < in.shards.size(); ++s) {
    const SafetensorsFile &file = *in.shards[s];
    for (const TensorEntry &t : file.tensors()) {
      std::string packed_as;
      if (const std::string *text = record_of(file, t)) {
        const PackedRecord r = checkpoint::decode_record(file.path() + ": tensor '" + t.name + "'", *text);
        packed_as = r.quantized() ? tool::packed_as(r) + (r.options.transpose ? " transposed" : "") + " from " +
                                        checkpoint::source_format_name(r.layer.source) + " (k, n) " +
                                        shape_text(r.layer.weight_shape)
                                  : tool::packed_as(r) + " of " + checkpoint::dtype_name(r.original_dtype) + " " +
                                        shape_text(r.original_shape) + (r.options.transpose ? " transposed" : "") +
                                        (r.options.input == checkpoint::InputEncoding::kOffset8 ? " offset8" : "");
      }
      list.push_back({{"shard", in.shard_names[s]},
                      {"name", t.name},
                      {"dtype", checkpoint::dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"bytes", t.bytes()},
                      {"packed", packed_as}});
      if (!common.json) {
        std::printf("%-48s %-5s %-22s %12llu  %s\n", t.name.c_str(), checkpoint::dtype_name(t.dtype),
                    shape_text(t.shape).c_str(), static_cast<unsigned long long>(t.bytes()), packed_as.c_str());
      }
    }
  }
  std::string format;
  const Json layers = layer_table(input, in, &format);
  if (common.json) {
    std::printf(
        "%s\n",
        Json({{"path", input}, {"shards", in.shard_names}, {"format", format}, {"tensors", list}, {"layers", layers}})
            .dump(2)
            .c_str());
    return 0;
  }
  std::printf("%llu tensors in %zu shard%s, %llu bytes; format: %s\n",
              static_cast<unsigned long long>(in.tensor_count()), in.shards.size(), in.shards.size() == 1 ? "" : "s",
              static_cast<unsigned long long>(in.total_bytes()), format.c_str());
  if (!layers.empty())
    std::printf("%-48s %-19s %-13s %-6s %-12s %-9s %s\n", "layer", "format", "k x n", "group", "symmetry", "act-order",
                "packed");
  for (const Json &l : layers) {
    const std::string dims = std::to_string(l["k"].get<int64_t>()) + " x " + std::to_string(l["n"].get<int64_t>());
    const int64_t g = l["group_size"].get<int64_t>();
    std::printf("%-48s %-19s %-13s %-6s %-12s %-9s %s\n", l["layer"].get<std::string>().c_str(),
                l["source_format"].get<std::string>().c_str(), dims.c_str(),
                g == 0 ? "chan" : std::to_string(g).c_str(), l["symmetric"].get<bool>() ? "symmetric" : "asymmetric",
                l["act_order"].get<bool>() ? "perm" : "-", l["packed_as"].get<std::string>().c_str());
  }
  return 0;
}

}  // namespace int4pack::tool
