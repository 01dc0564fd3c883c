#include "commands.h"

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoint/checkpoint.h"
#include "checkpoint/inspect.h"
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
                             {"packed_as", checkpoint::packing_name(p.record)},
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

int inspect(const std::string &input, const Common &common) {
  const checkpoint::Inspection in = checkpoint::inspect_checkpoint(input);
  for (const std::string &p : in.problems) std::fprintf(stderr, "int4pack: %s\n", p.c_str());
  if (common.json) {
    Json tensors = Json::array(), layers = Json::array();
    for (const checkpoint::TensorSummary &t : in.tensors) {
      tensors.push_back({{"shard", t.shard},
                         {"name", t.name},
                         {"dtype", checkpoint::dtype_name(t.dtype)},
                         {"shape", t.shape},
                         {"bytes", t.bytes},
                         {"packed", t.packed}});
    }
    for (const checkpoint::LayerSummary &l : in.layers) {
      layers.push_back({{"layer", l.layer},
                        {"source_format", checkpoint::source_format_name(l.source)},
                        {"k", l.k},
                        {"n", l.n},
                        {"group_size", l.group_size},
                        {"symmetric", l.symmetric},
                        {"act_order", l.act_order},
                        {"packed_as", l.packed_as}});
    }
    std::printf(
        "%s\n",
        Json({{"path", input}, {"shards", in.shards}, {"format", in.format}, {"tensors", tensors}, {"layers", layers}})
            .dump(2)
            .c_str());
    return 0;
  }
  std::printf("%-48s %-5s %-22s %12s  %s\n", "tensor", "dtype", "shape", "bytes", "packed");
  for (const checkpoint::TensorSummary &t : in.tensors) {
    std::printf("%-48s %-5s %-22s %12llu  %s\n", t.name.c_str(), checkpoint::dtype_name(t.dtype),
                shape_text(t.shape).c_str(), static_cast<unsigned long long>(t.bytes), t.packed.c_str());
  }
  std::printf("%zu tensors in %zu shard%s, %llu bytes; format: %s\n", in.tensors.size(), in.shards.size(),
              in.shards.size() == 1 ? "" : "s", static_cast<unsigned long long>(in.bytes), in.format.c_str());
  if (!in.layers.empty()) {
    std::printf("%-48s %-19s %-13s %-6s %-12s %-9s %s\n", "layer", "format", "k x n", "group", "symmetry", "act-order",
                "packed");
  }
  for (const checkpoint::LayerSummary &l : in.layers) {
    const std::string dims = std::to_string(l.k) + " x " + std::to_string(l.n);
    std::printf("%-48s %-19s %-13s %-6s %-12s %-9s %s\n", l.layer.c_str(), checkpoint::source_format_name(l.source),
                dims.c_str(), l.group_size == 0 ? "chan" : std::to_string(l.group_size).c_str(),
                l.symmetric ? "symmetric" : "asymmetric", l.act_order ? "perm" : "-", l.packed_as.c_str());
  }
  return 0;
}

}  // namespace int4pack::tool
