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
#include "checkpoint/verify.h"
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

int verify(const std::string &original_path, const std::string &packed_path, const Common &common, bool matmul) {
  apply_threads(common);
  Session session(false);
  const checkpoint::LayerMatmul run = cann_matmul;
  const checkpoint::VerifyReport report =
      checkpoint::verify_checkpoint(original_path, packed_path, matmul ? &run : nullptr, session);
  Json results = Json::array();
  for (const checkpoint::VerifyEntry &e : report.entries) {
    Json entry = {{"name", e.name}, {"status", e.status}, {"detail", e.detail}};
    if (e.matmul_ratio >= 0) entry["matmul_ratio"] = e.matmul_ratio;
    results.push_back(std::move(entry));
    const bool shown = !common.quiet || !e.good() || (common.show_matmul && e.status == "matmul ok");
    if (!common.json && shown) {
      std::printf("%-10s %s%s%s\n", e.status == "ok" ? "same" : e.status.c_str(), e.name.c_str(),
                  e.detail.empty() ? "" : ": ", e.detail.c_str());
    }
  }
  if (common.json) {
    std::printf("%s\n", Json({{"command", "verify"},
                              {"original", original_path},
                              {"packed", packed_path},
                              {"packed_tensors_checked", report.packed_checked},
                              {"matmul", matmul},
                              {"failures", report.failures},
                              {"tensors", results}})
                            .dump(2)
                            .c_str());
  } else {
    std::printf("%s: %llu tensors (%llu packed) checked, %llu failure%s\n", report.failures ? "FAILED" : "verified",
                static_cast<unsigned long long>(results.size()), static_cast<unsigned long long>(report.packed_checked),
                static_cast<unsigned long long>(report.failures), report.failures == 1 ? "" : "s");
  }
  return report.failures == 0 ? 0 : 1;
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
