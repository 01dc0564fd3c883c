#include "checkpoint/convert.h"

#include <map>
#include <memory>
#include <optional>
#include <regex>

#include "checkpoint/carrier_layer.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/int4_tensors.h"
#include "checkpoint/quant_output.h"
#include "checkpoint/safetensors_writer.h"

namespace int4pack::checkpoint {
namespace {

// What a tensor of the input may become, from its header entry alone.
enum class Role {
  kPassThrough,
  kCandidate,      // default selection: packed when every value is in the int4 range, else passed through
  kChosen,         // matched --include: packed, and anything in the way is a problem
  kAlreadyPacked,  // carries an int4pack record: a problem
  kLayer,          // a quantized layer's weight: the layer's outputs are written in its place
  kConsumed,       // another tensor of a quantized layer: not written
};

std::regex compile(const std::string &pattern, const char *option) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error &e) {
    throw UsageError(std::string(option) + " '" + pattern + "' is not a valid regular expression: " + e.what());
  }
}

bool has_record(const SafetensorsFile &file, const TensorEntry &t) {
  return file.metadata().count(kMetadataPrefix + t.name) != 0;
}

// The roles of every tensor of every shard, from the headers; and whether a problem is certain already.
struct Plan {
  std::vector<std::vector<Role>> roles;
  bool failing = false;
  uint64_t candidates = 0;
  QuantConfig config;
  std::vector<QuantLayerPlan> layers;
  std::map<const TensorEntry *, size_t> layer_at;  // a kLayer tensor's layer
  std::vector<std::string> problems;               // found from the headers
};

// The roles in a quantizer's checkpoint: each layer's weight, the rest of its tensors consumed; every
// other tensor passed through. --include and --exclude choose layers by name.
Plan plan_layers(const Checkpoint &in, const ConvertRequest &request, QuantConfig config) {
  std::optional<std::regex> include, exclude;
  if (!request.include.empty()) include = compile(request.include, "--include");
  if (!request.exclude.empty()) exclude = compile(request.exclude, "--exclude");
  Plan plan;
  LayerSearch search = find_quant_layers(in, config);
  plan.config = std::move(config);
  plan.problems = std::move(search.problems);
  std::map<const TensorEntry *, Role> role_of;
  for (QuantLayerPlan &layer : search.layers) {
    if ((include && !std::regex_search(layer.prefix, *include)) ||
        (exclude && std::regex_search(layer.prefix, *exclude))) {
      continue;
    }
    for (const TensorEntry *t : layer.consumed()) role_of[t] = Role::kConsumed;
    role_of[layer.weight.entry] = Role::kLayer;
    plan.layer_at[layer.weight.entry] = plan.layers.size();
    plan.layers.push_back(std::move(layer));
  }
  plan.roles.resize(in.shards.size());
  for (size_t s = 0; s < in.shards.size(); ++s) {
    for (const TensorEntry &t : in.shards[s]->tensors()) {
      auto it = role_of.find(&t);
      Role role = it == role_of.end() ? Role::kPassThrough : it->second;
      if (has_record(*in.shards[s], t)) role = Role::kAlreadyPacked;
      plan.roles[s].push_back(role);
      if (role == Role::kAlreadyPacked) plan.failing = true;
    }
  }
  plan.candidates = plan.layers.size();
  plan.failing = plan.failing || !plan.problems.empty();
  return plan;
}

Plan plan_roles(const Checkpoint &in, const ConvertRequest &request) {
  QuantConfig config = read_quant_config(request.input, request.from);
  if (config.format != SourceFormat::kCarrier) {
    if (request.options.transpose || request.options.input != InputEncoding::kSigned) {
      throw UsageError(std::string("--transpose and --input apply to int4 carriers, not to a ") +
                       source_format_name(config.format) + " checkpoint (its layers say how they are stored)");
    }
    return plan_layers(in, request, std::move(config));
  }
  if (request.auto_layout)
    throw UsageError("--format auto applies to a quantizer's checkpoint; carriers take nd or nz");
  std::optional<std::regex> include, exclude;
  if (!request.include.empty()) include = compile(request.include, "--include");
  if (!request.exclude.empty()) exclude = compile(request.exclude, "--exclude");
  Plan plan;
  plan.roles.resize(in.shards.size());
  for (size_t s = 0; s < in.shards.size(); ++s) {
    const SafetensorsFile &file = *in.shards[s];
    for (const TensorEntry &t : file.tensors()) {
      Role role = Role::kPassThrough;
      if (has_record(file, t)) {
        role = Role::kAlreadyPacked;
        plan.failing = true;
      } else if (exclude && std::regex_search(t.name, *exclude)) {
        role = Role::kPassThrough;
      } else if (include) {
        if (std::regex_search(t.name, *include)) {
          role = Role::kChosen;
          if (!check_tensor(file, t, request.options, /*values_known_in_range=*/true).empty()) plan.failing = true;
        }
      } else if (could_be_int4_weight(t)) {
        role = Role::kCandidate;
      }
      if (role == Role::kChosen || role == Role::kCandidate) ++plan.candidates;
      plan.roles[s].push_back(role);
    }
  }
  return plan;
}

UsageError nothing_to_pack(const ConvertRequest &request, const QuantConfig &config) {
  if (config.format != SourceFormat::kCarrier) {
    return UsageError("no " + std::string(source_format_name(config.format)) + " layer to convert in " + request.input +
                      (config.source.empty() ? ""
                                             : " (read as " + std::string(source_format_name(config.format)) +
                                                   " because of " + config.source + ")") +
                      (request.include.empty() && request.exclude.empty() ? "" : " that --include/--exclude select"));
  }
  return UsageError("no tensor to pack in " + request.input +
                    (!request.include.empty()
                         ? " (none matches --include)"
                         : " (none is a 2-D integer '...weight' tensor with every value in the int4 range; "
                           "--include selects tensors by name)"));
}

// Converts the shards one after another into the staging output (none while `failing`), collecting
// problems and what was packed.
class Conversion {
 public:
  Conversion(const Checkpoint &in, const ConvertRequest &request, Plan plan, Observer &observer)
      : in_(in), request_(request), plan_(std::move(plan)), observer_(observer) {}

  ConvertReport run() {
    report_.problems = plan_.problems;
    if (!plan_.failing) out_.emplace(request_.output, in_.is_directory, request_.force, observer_);
    uint64_t tensor_bytes = 0;
    for (const auto &shard : in_.shards) {
      for (const TensorEntry &t : shard->tensors()) tensor_bytes += t.bytes();
    }
    observer_.begin(in_.tensor_count(), tensor_bytes);
    for (size_t s = 0; s < in_.shards.size(); ++s) convert_shard(s);
    if (plan_.failing) return std::move(report_);
    if (report_.packed.empty()) throw nothing_to_pack(request_, plan_.config);
    write_directory_rest(in_, out_->staging(), report_.output_tensor_bytes, observer_, &index_changes_);
    observer_.check();
    out_->commit();
    observer_.finish();
    return std::move(report_);
  }

 private:
  void convert_shard(size_t s) {
    const SafetensorsFile &file = *in_.shards[s];
    meta_ = file.metadata();
    meta_["int4pack.version"] = "1";
    writer_.reset();
    if (!plan_.failing) {
      const std::string path = shard_output_path(in_, out_->staging(), s);
      observer_.writing(path, false);
      writer_ = std::make_unique<SafetensorsWriter>(path, header_room(s), request_.sync);
    }
    for (size_t i = 0; i < file.tensors().size(); ++i) {
      const TensorEntry &t = file.tensors()[i];
      observer_.check();
      convert_tensor(file, t, plan_.roles[s][i]);
      file.release(t);
      observer_.advance(t.bytes());
    }
    if (!plan_.failing) {
      writer_->finish(meta_);
      report_.output_tensor_bytes += writer_->data_bytes();
    }
  }

  void convert_tensor(const SafetensorsFile &file, const TensorEntry &t, Role role) {
    const PackOptions &o = request_.options;
    switch (role) {
      case Role::kAlreadyPacked:
        report_.problems.push_back(file.path() + ": tensor '" + t.name + "' is already packed by int4pack");
        break;
      case Role::kPassThrough:
        pass_through(file, t);
        break;
      case Role::kLayer:
        convert_layer_at(plan_.layers[plan_.layer_at.at(&t)]);
        break;
      case Role::kConsumed:
        break;
      case Role::kChosen:
        if (plan_.failing || !try_pack(file, t)) fail(check_tensor(file, t, o));  // names the elements out of range
        break;
      case Role::kCandidate: {
        // Header problems (alignment) count only for a tensor the selection takes: all values in range.
        const auto header_problems = check_tensor(file, t, o, /*values_known_in_range=*/true);
        if (!header_problems.empty()) {
          if (looks_like_int4_weight(file, t, o.input)) {
            fail(header_problems);
          } else {
            pass_through(file, t);
          }
        } else if (!plan_.failing && !try_pack(file, t)) {
          pass_through(file, t);  // a value out of range: not an int4 weight, so not selected
        }
        break;
      }
    }
  }

  void fail(const std::vector<std::string> &problems) {
    report_.problems.insert(report_.problems.end(), problems.begin(), problems.end());
    plan_.failing = true;
  }

  void pass_through(const SafetensorsFile &file, const TensorEntry &t) {
    if (!plan_.failing) writer_->add(passthrough_output(file, t));
  }

  // Packs t when every value is in range: true, and written. False when a value is not.
  bool try_pack(const SafetensorsFile &file, const TensorEntry &t) {
    const PackOptions &o = request_.options;
    const CarrierLayer layer(file, t, o);
    const uint8_t *bytes = pack_layer(layer, o);
    if (bytes == nullptr) return false;
    PackedTensor packed{t.name, t.dtype, t.shape, record_of(layer, o), packed_storage(layer.matrix(), o), t.bytes()};
    file.release(t);
    writer_->add(t.name, packed.storage.dtype, packed.storage.shape, packed.storage.bytes,
                 [bytes, n = packed.storage.bytes](Sink &sink) { sink.write(bytes, n); });
    meta_[kMetadataPrefix + t.name] = encode_record(packed.record);
    report_.packed.push_back(std::move(packed));
    return true;
  }

  uint64_t header_room(size_t s) const {
    const SafetensorsFile &file = *in_.shards[s];
    if (plan_.config.format == SourceFormat::kCarrier) {
      std::vector<bool> may_pack;
      for (Role r : plan_.roles[s]) may_pack.push_back(r == Role::kCandidate || r == Role::kChosen);
      return packed_header_room(file, may_pack, request_.options, meta_);
    }
    std::map<std::string, std::string> meta = meta_;
    std::vector<HeaderEntry> entries;
    for (size_t i = 0; i < file.tensors().size(); ++i) {
      const TensorEntry &t = file.tensors()[i];
      if (plan_.roles[s][i] == Role::kLayer) {
        bound_layer_header(plan_.layers[plan_.layer_at.at(&t)], layer_options(), &entries, &meta);
      } else if (plan_.roles[s][i] != Role::kConsumed) {
        entries.push_back({t.name, t.dtype, t.shape, 0, 0});
      }
    }
    return bounded_header_room(meta, entries);
  }

  LayerOptions layer_options() const {
    LayerOptions o;
    if (!request_.auto_layout) o.layout = request_.options.layout;
    o.int32_words = request_.options.int32_words;
    o.act_dtype = request_.act_dtype;
    o.torch_dtype = plan_.config.torch_dtype;
    return o;
  }

  // Converts a quantized layer: its outputs written, or its problems recorded.
  void convert_layer_at(const QuantLayerPlan &layer) {
    ConvertedLayer c;
    if (!convert_layer(layer, layer_options(), &c, &report_.problems)) {
      plan_.failing = true;
      return;
    }
    uint64_t bytes_in = 0;
    for (const TensorEntry *t : layer.consumed()) bytes_in += t->bytes();
    const std::string name = weight_name(layer.prefix);
    PackedTensor packed{name, layer.weight.entry->dtype, layer.weight.entry->shape, c.record, c.storage, bytes_in};
    if (plan_.failing) return;
    const std::string shard = in_.shard_names[layer.shard];
    for (const TensorEntry *t : layer.consumed()) index_changes_.removed.insert(t->name);
    writer_->add(name, c.storage.dtype, c.storage.shape, c.storage.bytes,
                 [bytes = c.weight, n = c.storage.bytes](Sink &sink) { sink.write(bytes, n); });
    index_changes_.added[name] = shard;
    for (const OutputTensor &p : c.params) {
      writer_->add(p);
      index_changes_.added[p.name] = shard;
    }
    meta_[kMetadataPrefix + name] = encode_record(c.record);
    report_.packed.push_back(std::move(packed));
  }

  const Checkpoint &in_;
  const ConvertRequest &request_;
  Plan plan_;
  Observer &observer_;
  std::optional<OutputTransaction> out_;
  std::unique_ptr<SafetensorsWriter> writer_;
  std::map<std::string, std::string> meta_;  // of the shard being written
  ConvertReport report_;
  IndexChanges index_changes_;
};

}  // namespace

ConvertReport convert_checkpoint(const ConvertRequest &request, Observer &observer) {
  refuse_output_over_input(request.input, request.output);  // before reading anything
  refuse_existing_output(request.output, request.force);
  const Checkpoint in = open_checkpoint(request.input);
  Plan plan = plan_roles(in, request);
  const SourceFormat plan_config_format = plan.config.format;
  const std::string plan_config_source = plan.config.source;
  if (plan.candidates == 0 && !plan.failing) throw nothing_to_pack(request, plan.config);
  Conversion conversion(in, request, std::move(plan), observer);
  ConvertReport report = conversion.run();
  report.format = plan_config_format;
  report.format_source = plan_config_source;
  report.tensor_count = in.tensor_count();
  report.input_file_bytes = in.total_bytes();
  return report;
}

}  // namespace int4pack::checkpoint
