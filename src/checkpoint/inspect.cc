#include "checkpoint/inspect.h"

#include "checkpoint/checkpoint.h"
#include "checkpoint/quant_layer.h"

namespace int4pack::checkpoint {
namespace {

const std::string *record_text(const SafetensorsFile &file, const TensorEntry &t) {
  auto it = file.metadata().find(kMetadataPrefix + t.name);
  return it == file.metadata().end() ? nullptr : &it->second;
}

std::string packed_description(const PackedRecord &r) {
  const std::string transposed = r.options.transpose ? " transposed" : "";
  if (r.quantized()) {
    return packing_name(r) + transposed + " from " + source_format_name(r.layer.source) + " (k, n) " +
           shape_text(r.layer.weight_shape);
  }
  return packing_name(r) + " of " + dtype_name(r.original_dtype) + " " + shape_text(r.original_shape) + transposed +
         (r.options.input == InputEncoding::kOffset8 ? " offset8" : "");
}

// The layers of a checkpoint that is no int4pack output, as its config files describe it.
void source_layers(const std::string &path, const Checkpoint &in, Inspection *out) {
  const QuantConfig config = read_quant_config(path, std::nullopt);
  out->format = source_format_name(config.format);
  if (config.format == SourceFormat::kCarrier) return;
  LayerSearch search = find_quant_layers(in, config);
  out->problems = std::move(search.problems);
  for (const QuantLayerPlan &p : search.layers) {
    const QuantParams q = read_quant_params(p, &out->problems);
    out->layers.push_back({p.prefix, p.format, p.k, p.n, q.group_size, q.offsets.empty(), !q.perm.empty(), ""});
  }
}

}  // namespace

std::string packing_name(const PackedRecord &r) {
  return std::string(r.options.int32_words ? "int32" : "int4") + " " + (r.options.layout == Layout::kNz ? "nz" : "nd");
}

Inspection inspect_checkpoint(const std::string &path) {
  const Checkpoint in = open_checkpoint(path);
  Inspection out;
  out.shards = in.shard_names;
  out.bytes = in.total_bytes();
  for (size_t s = 0; s < in.shards.size(); ++s) {
    const SafetensorsFile &file = *in.shards[s];
    for (const TensorEntry &t : file.tensors()) {
      TensorSummary summary{in.shard_names[s], t.name, t.dtype, t.shape, t.bytes(), ""};
      if (const std::string *text = record_text(file, t)) {
        const PackedRecord r = decode_record(file.path() + ": tensor '" + t.name + "'", *text);
        summary.packed = packed_description(r);
        if (r.quantized()) {
          out.format = std::string("int4pack output of ") + source_format_name(r.layer.source);
          out.layers.push_back({t.name.substr(0, t.name.size() - std::string(".weight").size()), r.layer.source,
                                r.layer.weight_shape[0], r.layer.weight_shape[1], r.layer.group_size,
                                r.layer.offset.empty(), !r.layer.perm.empty(),
                                packing_name(r) + (r.options.transpose ? " transposed" : "")});
        }
      }
      out.tensors.push_back(std::move(summary));
    }
  }
  if (out.layers.empty()) source_layers(path, in, &out);
  return out;
}

}  // namespace int4pack::checkpoint
