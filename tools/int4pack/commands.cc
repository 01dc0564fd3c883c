#include "commands.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "core/pack.h"
#include "session.h"

namespace int4pack::tool {
namespace {

namespace fs = std::filesystem;
using checkpoint::Checkpoint;
using checkpoint::OutputTensor;
using checkpoint::PackedRecord;
using checkpoint::shape_text;
using checkpoint::SafetensorsFile;
using checkpoint::TensorEntry;
using Json = nlohmann::ordered_json;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void apply_threads(const Common &common) {
  if (common.threads < 0) throw UsageError("--threads must be >= 1");
  if (!engine_error().empty()) throw UsageError(engine_error());
  set_thread_count(common.threads);
}

std::regex compile(const std::string &pattern, const char *option) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error &e) {
    throw UsageError(std::string(option) + " '" + pattern + "' is not a valid regular expression: " + e.what());
  }
}

const std::string *record_of(const SafetensorsFile &file, const TensorEntry &t) {
  auto it = file.metadata().find(checkpoint::kMetadataPrefix + t.name);
  return it == file.metadata().end() ? nullptr : &it->second;
}

// The rest of an output checkpoint directory beside its shards: the index, rewritten for `tensor_bytes`
// of tensor data, and the other files (config, tokenizer), copied. Nothing for a single file.
void write_directory_rest(const Checkpoint &in, const std::string &staging, uint64_t tensor_bytes) {
  if (!in.is_directory) return;
  if (!in.index_name.empty()) {
    const std::string index = checkpoint::rewrite_index(in.index_text, tensor_bytes);
    const std::string path = (fs::path(staging) / in.index_name).string();
    std::FILE *f = std::fopen(path.c_str(), "wb");
    const bool ok = f != nullptr && std::fwrite(index.data(), 1, index.size(), f) == index.size();
    if (f != nullptr && std::fclose(f) != 0) throw checkpoint::IoError(path + ": cannot write");
    if (!ok) throw checkpoint::IoError(path + ": cannot write");
  }
  for (const std::string &name : in.other_files) {
    throw_if_interrupted();
    std::error_code ec;
    fs::copy(fs::path(in.path) / name, fs::path(staging) / name,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) throw checkpoint::IoError((fs::path(in.path) / name).string() + ": cannot copy: " + ec.message());
  }
}

// Writes one output checkpoint shaped like `in` (same shard names, index rewritten, other files copied),
// taking each shard's tensors and metadata from make(shard index, metadata). Returns the bytes of tensor
// data written.
template <typename MakeShard>
uint64_t write_checkpoint(const Checkpoint &in, const std::string &output, const Common &common, MakeShard make) {
  OutputTransaction out(output, in.is_directory, common.force);
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
  Progress progress(in.tensor_count(), to_read, !common.quiet && !common.json);
  for (size_t s = 0; s < in.shards.size(); ++s) {
    track(shards[s], progress);
    const std::string path = in.is_directory ? (fs::path(out.staging()) / in.shard_names[s]).string() : out.staging();
    will_write(path);
    checkpoint::write_safetensors(path, metadata[s], shards[s], common.sync);
  }
  write_directory_rest(in, out.staging(), total);
  throw_if_interrupted();
  out.commit();
  progress.finish();
  return total;
}

// What a tensor of the input may become, from its header entry alone.
enum class Role {
  kPassThrough,
  kCandidate,      // default selection: packed when every value is in the int4 range, else passed through
  kChosen,         // matched --include: packed, and anything in the way is a problem
  kAlreadyPacked,  // carries an int4pack record: a problem
};

}  // namespace

int convert(const ConvertRequest &request, const Common &common) {
  const auto start = std::chrono::steady_clock::now();
  apply_threads(common);
  refuse_existing_output(request.output, common.force);  // before reading anything
  const Checkpoint in = checkpoint::open_checkpoint(request.input);
  std::optional<std::regex> include, exclude;
  if (!request.include.empty()) include = compile(request.include, "--include");
  if (!request.exclude.empty()) exclude = compile(request.exclude, "--exclude");
  const checkpoint::PackOptions &options = request.options;

  // From the headers: what each tensor may become, and whether a problem is certain already.
  std::vector<std::vector<Role>> roles(in.shards.size());
  bool failing = false;  // a problem is known: from then on every tensor is checked and nothing is written
  uint64_t candidates = 0;
  for (size_t s = 0; s < in.shards.size(); ++s) {
    const SafetensorsFile &file = *in.shards[s];
    for (const TensorEntry &t : file.tensors()) {
      Role role = Role::kPassThrough;
      if (record_of(file, t) != nullptr) {
        role = Role::kAlreadyPacked;
        failing = true;
      } else if (exclude && std::regex_search(t.name, *exclude)) {
        role = Role::kPassThrough;
      } else if (include) {
        if (std::regex_search(t.name, *include)) {
          role = Role::kChosen;
          if (!checkpoint::check_tensor(file, t, options, /*values_known_in_range=*/true).empty()) failing = true;
        }
      } else if (checkpoint::could_be_int4_weight(t)) {
        role = Role::kCandidate;
      }
      if (role == Role::kChosen || role == Role::kCandidate) ++candidates;
      roles[s].push_back(role);
    }
  }
  const auto nothing_to_pack = [&] {
    return UsageError("no tensor to pack in " + request.input +
                      (include ? " (none matches --include)"
                               : " (none is a 2-D integer '...weight' tensor with every value in the int4 range; "
                                 "--include selects tensors by name)"));
  };
  if (candidates == 0 && !failing) throw nothing_to_pack();

  // One pass over the data. Each selected tensor is checked and packed in the same read and written to
  // the temporary output; the first problem stops the writing, every later tensor is still checked, and
  // then all problems are reported and the temporary output removed: nothing appears at OUT unless every
  // tensor passed. (A first pass that only checked would read the whole checkpoint twice.)
  std::optional<OutputTransaction> out;
  if (!failing) out.emplace(request.output, in.is_directory, common.force);
  uint64_t tensor_bytes = 0;
  for (const auto &shard : in.shards) {
    for (const TensorEntry &t : shard->tensors()) tensor_bytes += t.bytes();
  }
  Progress progress(in.tensor_count(), tensor_bytes, !common.quiet && !common.json);
  std::vector<std::string> problems;
  const auto report = [&](std::vector<std::string> found) {
    problems.insert(problems.end(), found.begin(), found.end());
  };
  Json packed_list = Json::array();
  uint64_t count = 0, carrier_bytes = 0, packed_bytes_out = 0, written = 0;
  for (size_t s = 0; s < in.shards.size(); ++s) {
    const SafetensorsFile &file = *in.shards[s];
    std::map<std::string, std::string> meta = file.metadata();
    meta["int4pack.version"] = "1";
    std::unique_ptr<checkpoint::SafetensorsWriter> writer;
    if (!failing) {
      const std::string path = in.is_directory ? (fs::path(out->staging()) / in.shard_names[s]).string() : out->staging();
      will_write(path);
      std::vector<bool> may_pack;
      for (Role r : roles[s]) may_pack.push_back(r == Role::kCandidate || r == Role::kChosen);
      writer = std::make_unique<checkpoint::SafetensorsWriter>(
          path, checkpoint::packed_header_room(file, may_pack, options, meta), common.sync);
    }
    const auto pass_through = [&](const TensorEntry &t) {
      if (failing) return;
      const OutputTensor copy = checkpoint::passthrough_output(file, t);
      writer->add(copy.name, copy.dtype, copy.shape, copy.bytes, copy.write);
    };
    // Packs t when every value is in range: true, and written. False when a value is not.
    const auto try_pack = [&](const TensorEntry &t) {
      const uint8_t *bytes = checkpoint::pack_if_in_range(file, t, options);
      if (bytes == nullptr) return false;
      PackedRecord record;
      const OutputTensor packed = checkpoint::packed_output(file, t, options, &record);
      file.release(t);
      writer->add(packed.name, packed.dtype, packed.shape, packed.bytes,
                  [bytes, n = packed.bytes](checkpoint::Sink &sink) { sink.write(bytes, n); });
      meta[checkpoint::kMetadataPrefix + t.name] = checkpoint::encode_record(record);
      ++count;
      carrier_bytes += t.bytes();
      packed_bytes_out += packed.bytes;
      packed_list.push_back({{"name", t.name}, {"shape", t.shape}, {"dtype", t.dtype},
                             {"packed_as", record.dtype + " " + record.format}, {"stored_dtype", packed.dtype},
                             {"stored_shape", packed.shape}, {"bytes_in", t.bytes()}, {"bytes_out", packed.bytes}});
      return true;
    };
    for (size_t i = 0; i < file.tensors().size(); ++i) {
      const TensorEntry &t = file.tensors()[i];
      throw_if_interrupted();
      switch (roles[s][i]) {
        case Role::kAlreadyPacked:
          problems.push_back(file.path() + ": tensor '" + t.name + "' is already packed by int4pack");
          break;
        case Role::kPassThrough:
          pass_through(t);
          break;
        case Role::kChosen:
          if (failing || !try_pack(t)) {
            report(checkpoint::check_tensor(file, t, options));  // names the elements out of range
            failing = true;
          }
          break;
        case Role::kCandidate: {
          // Header problems (alignment) count only for a tensor the selection takes: all values in range.
          const auto header_problems = checkpoint::check_tensor(file, t, options, /*values_known_in_range=*/true);
          if (!header_problems.empty()) {
            if (checkpoint::looks_like_int4_weight(file, t, options.input)) {
              report(header_problems);
              failing = true;
            } else {
              pass_through(t);
            }
          } else if (!failing && !try_pack(t)) {
            pass_through(t);  // a value out of range: not an int4 weight, so not selected
          }
          break;
        }
      }
      file.release(t);
      progress.advance(t.bytes());
    }
    if (!failing) {
      writer->finish(meta);
      written += writer->data_bytes();
    }
  }
  if (failing) {
    for (const std::string &p : problems) std::fprintf(stderr, "int4pack: %s\n", p.c_str());
    std::fprintf(stderr, "int4pack: %zu problem%s found; nothing was written\n", problems.size(),
                 problems.size() == 1 ? "" : "s");
    return 1;  // `out`, uncommitted, removes the temporary output
  }
  if (count == 0) throw nothing_to_pack();
  write_directory_rest(in, out->staging(), written);
  throw_if_interrupted();
  out->commit();
  progress.finish();

  const double seconds = seconds_since(start);
  if (common.json) {
    const Json summary = {{"command", "convert"},
                          {"input", request.input},
                          {"output", request.output},
                          {"packed_count", count},
                          {"passed_through_count", in.tensor_count() - count},
                          {"input_file_bytes", in.total_bytes()},
                          {"output_tensor_bytes", written},
                          {"seconds", seconds},
                          {"packed", packed_list}};
    std::printf("%s\n", summary.dump(2).c_str());
  } else if (!common.quiet) {
    std::printf("packed %llu of %llu tensors (%.3f GB of carriers -> %.3f GB packed) in %.2f s into %s\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(in.tensor_count()),
                carrier_bytes / 1e9, packed_bytes_out / 1e9, seconds, request.output.c_str());
  }
  return 0;
}

int unpack(const std::string &input, const std::string &output, const Common &common) {
  const auto start = std::chrono::steady_clock::now();
  apply_threads(common);
  refuse_existing_output(output, common.force);
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
  const uint64_t written = write_checkpoint(in, output, common, [&](size_t s, std::map<std::string, std::string> *meta) {
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
    std::printf("%s\n", Json({{"command", "unpack"}, {"input", input}, {"output", output}, {"unpacked_count", count},
                               {"output_tensor_bytes", written}, {"seconds", seconds_since(start)}})
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
          report(t.name, "MISMATCH", "record says " + r.original_dtype + " " + shape_text(r.original_shape) +
                                         ", the original is " + t.dtype + " " + shape_text(t.shape));
          continue;
        }
        const std::vector<std::string> problems = checkpoint::check_tensor(*shard, t, r.options(), true);
        const uint8_t *expected = problems.empty() ? checkpoint::pack_if_in_range(*shard, t, r.options()) : nullptr;
        if (expected == nullptr) {
          report(t.name, "MISMATCH", "the original cannot be packed as recorded: " +
                                         (problems.empty() ? "a value lies outside the int4 range" : problems[0]));
          continue;
        }
        const uint64_t expected_bytes = checkpoint::packed_tensor_bytes(t, r.options());
        if (expected_bytes != pt.bytes()) {
          report(t.name, "MISMATCH", std::to_string(pt.bytes()) + " bytes instead of " + std::to_string(expected_bytes));
          continue;
        }
        first = checkpoint::first_difference(pf, pt, expected);
        ++packed_count;
      } else {
        if (pt.dtype != t.dtype || pt.shape != t.shape) {
          report(t.name, "MISMATCH", pt.dtype + " " + shape_text(pt.shape) + " instead of " + t.dtype + " " +
                                         shape_text(t.shape));
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
    std::printf("%s\n", Json({{"command", "verify"}, {"original", original_path}, {"packed", packed_path},
                               {"packed_tensors_checked", packed_count}, {"failures", failures}, {"tensors", results}})
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
        packed_as = r.dtype + " " + r.format + " of " + r.original_dtype + " " + shape_text(r.original_shape) +
                    (r.transposed ? " transposed" : "") + (r.input == "offset8" ? " offset8" : "");
      }
      list.push_back({{"shard", in.shard_names[s]}, {"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape},
                      {"bytes", t.bytes()}, {"packed", packed_as}});
      if (!common.json) {
        std::printf("%-48s %-5s %-22s %12llu  %s\n", t.name.c_str(), t.dtype.c_str(), shape_text(t.shape).c_str(),
                    static_cast<unsigned long long>(t.bytes()), packed_as.c_str());
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
