#include "commands.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoint/checkpoint.h"
#include "checkpoint/int4_tensors.h"
#include "int4pack/engine.h"
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
    std::printf("packed %llu of %llu tensors (%.3f GB of carriers -> %.3f GB packed) in %.2f s into %s\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(report.tensor_count),
                carrier_bytes / 1e9, packed_bytes / 1e9, seconds, request.output.c_str());
  }
  return 0;
}

int unpack(const std::string &input, const std::string &output, const Common &common) {
  const auto start = std::chrono::steady_clock::now();
  apply_threads(common);
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

int verify(const std::string &original_path, const std::string &packed_path, const Common &common) {
  apply_threads(common);
  const Checkpoint original = checkpoint::open_checkpoint(original_path);
  const Checkpoint packed = checkpoint::open_checkpoint(packed_path);
  struct Located {
    const SafetensorsFile *file;
    const TensorEntry *tensor;
  };
  std::map<std::string, Located> in_packed;
  for (const auto &shard : packed.shards) {
    for (const TensorEntry &t : shard->tensors()) in_packed[t.name] = {shard.get(), &t};
  }
  Json results = Json::array();
  uint64_t failures = 0;
  uint64_t packed_count = 0;
  const auto report = [&](const std::string &name, const std::string &status, const std::string &detail) {
    if (status != "ok" && status != "packed ok") ++failures;
    results.push_back({{"name", name}, {"status", status}, {"detail", detail}});
    if (!common.json && (!common.quiet || (status != "ok" && status != "packed ok"))) {
      std::printf("%-10s %s%s%s\n", status == "ok" ? "same" : status.c_str(), name.c_str(), detail.empty() ? "" : ": ",
                  detail.c_str());
    }
  };
  std::set<std::string> seen;
  for (const auto &shard : original.shards) {
    for (const TensorEntry &t : shard->tensors()) {
      throw_if_interrupted();
      seen.insert(t.name);
      auto it = in_packed.find(t.name);
      if (it == in_packed.end()) {
        report(t.name, "MISSING", "not in " + packed_path);
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
          report(t.name, "MISMATCH",
                 std::string("record says ") + checkpoint::dtype_name(r.original_dtype) + " " +
                     shape_text(r.original_shape) + ", the original is " + checkpoint::dtype_name(t.dtype) + " " +
                     shape_text(t.shape));
          continue;
        }
        const std::vector<std::string> problems = checkpoint::check_tensor(*shard, t, r.options, true);
        const uint8_t *expected = problems.empty() ? checkpoint::pack_if_in_range(*shard, t, r.options) : nullptr;
        if (expected == nullptr) {
          report(t.name, "MISMATCH",
                 "the original cannot be packed as recorded: " +
                     (problems.empty() ? "a value lies outside the int4 range" : problems[0]));
          continue;
        }
        const uint64_t expected_bytes = checkpoint::packed_storage({r.view_shape[0], r.view_shape[1]}, r.options).bytes;
        if (expected_bytes != pt.bytes()) {
          report(t.name, "MISMATCH",
                 std::to_string(pt.bytes()) + " bytes instead of " + std::to_string(expected_bytes));
          continue;
        }
        first = checkpoint::first_difference(pf, pt, expected);
        ++packed_count;
      } else {
        if (pt.dtype != t.dtype || pt.shape != t.shape) {
          report(t.name, "MISMATCH",
                 std::string(checkpoint::dtype_name(pt.dtype)) + " " + shape_text(pt.shape) + " instead of " +
                     checkpoint::dtype_name(t.dtype) + " " + shape_text(t.shape));
          continue;
        }
        first = checkpoint::first_difference(*shard, t, pf, pt);
      }
      if (first != pt.bytes()) {
        report(t.name, "MISMATCH", "first differing byte at offset " + std::to_string(first));
        continue;
      }
      report(t.name, text != nullptr ? "packed ok" : "ok", text != nullptr ? "re-derived and identical" : "");
    }
  }
  for (const auto &[name, where] : in_packed) {
    if (!seen.count(name)) report(name, "EXTRA", "not in " + original_path);
  }
  if (common.json) {
    std::printf("%s\n", Json({{"command", "verify"},
                              {"original", original_path},
                              {"packed", packed_path},
                              {"packed_tensors_checked", packed_count},
                              {"failures", failures},
                              {"tensors", results}})
                            .dump(2)
                            .c_str());
  } else {
    std::printf("%s: %llu tensors (%llu packed) checked, %llu failure%s\n", failures ? "FAILED" : "verified",
                static_cast<unsigned long long>(results.size()), static_cast<unsigned long long>(packed_count),
                static_cast<unsigned long long>(failures), failures == 1 ? "" : "s");
  }
  return failures == 0 ? 0 : 1;
}

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
        packed_as = tool::packed_as(r) + " of " + checkpoint::dtype_name(r.original_dtype) + " " +
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
  if (common.json) {
    std::printf("%s\n", Json({{"path", input}, {"shards", in.shard_names}, {"tensors", list}}).dump(2).c_str());
  } else {
    std::printf("%llu tensors in %zu shard%s, %llu bytes\n", static_cast<unsigned long long>(in.tensor_count()),
                in.shards.size(), in.shards.size() == 1 ? "" : "s", static_cast<unsigned long long>(in.total_bytes()));
  }
  return 0;
}

}  // namespace int4pack::tool
