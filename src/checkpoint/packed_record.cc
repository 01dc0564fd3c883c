#include "checkpoint/packed_record.h"

#include <nlohmann/json.hpp>

#include "checkpoint/safetensors.h"

namespace int4pack::checkpoint {
namespace {

using Json = nlohmann::ordered_json;

}  // namespace

std::string encode_record(const PackedRecord &r) {
  const PackOptions &o = r.options;
  Json j = {{"format", o.layout == Layout::kNz ? "nz" : "nd"},
            {"dtype", o.int32_words ? "int32" : "int4"},
            {"view_shape", r.view_shape},
            {"original_dtype", dtype_name(r.original_dtype)},
            {"original_shape", r.original_shape},
            {"transposed", o.transpose},
            {"input", o.input == InputEncoding::kOffset8 ? "offset8" : "signed"},
            {"nibble_order", "low_first"}};
  if (r.quantized()) {
    const LayerRecord &l = r.layer;
    const auto name_or_null = [](const std::string &n) { return n.empty() ? Json(nullptr) : Json(n); };
    j["source_format"] = source_format_name(l.source);
    j["weight_shape"] = l.weight_shape;
    j["group_size"] = l.group_size;
    j["act_dtype"] = dtype_name(l.act_dtype);
    j["scale"] = l.scale;
    j["offset"] = name_or_null(l.offset);
    j["perm"] = name_or_null(l.perm);
    j["source_tensors"] = l.source_tensors;
  }
  return j.dump();
}

namespace {

// The quantized layer's part of a record; false when it is not one this version wrote.
bool decode_layer(const Json &j, LayerRecord *l) {
  const std::optional<SourceFormat> source = parse_source_format(j.at("source_format").get<std::string>());
  const std::optional<Dtype> act = parse_dtype(j.at("act_dtype").get<std::string>());
  if (!source || *source == SourceFormat::kCarrier || !act || (*act != Dtype::kF16 && *act != Dtype::kBF16))
    return false;
  l->source = *source;
  l->act_dtype = *act;
  l->weight_shape = j.at("weight_shape").get<std::vector<int64_t>>();
  l->group_size = j.at("group_size").get<int64_t>();
  l->scale = j.at("scale").get<std::string>();
  l->offset = j.at("offset").is_null() ? "" : j.at("offset").get<std::string>();
  l->perm = j.at("perm").is_null() ? "" : j.at("perm").get<std::string>();
  l->source_tensors = j.at("source_tensors").get<std::vector<std::string>>();
  return l->weight_shape.size() == 2 && l->weight_shape[0] > 0 && l->weight_shape[1] > 0 && l->group_size >= 0 &&
         !l->scale.empty();
}

}  // namespace

PackedRecord decode_record(const std::string &where, const std::string &text) {
  PackedRecord r;
  std::string format, dtype, original_dtype, input, nibble_order;
  try {
    const Json j = Json::parse(text);
    format = j.at("format").get<std::string>();
    dtype = j.at("dtype").get<std::string>();
    r.view_shape = j.at("view_shape").get<std::vector<int64_t>>();
    original_dtype = j.at("original_dtype").get<std::string>();
    r.original_shape = j.at("original_shape").get<std::vector<int64_t>>();
    r.options.transpose = j.at("transposed").get<bool>();
    input = j.at("input").get<std::string>();
    nibble_order = j.at("nibble_order").get<std::string>();
    if (j.contains("source_format") && j.at("source_format") != "carrier" && !decode_layer(j, &r.layer)) {
      throw FormatError(where + ": int4pack record is not one this version can read: " + text);
    }
  } catch (const Json::exception &e) {
    throw FormatError(where + ": int4pack record is not valid: " + json_refusal(e));
  }
  r.options.layout = format == "nz" ? Layout::kNz : Layout::kNd;
  r.options.int32_words = dtype == "int32";
  r.options.input = input == "offset8" ? InputEncoding::kOffset8 : InputEncoding::kSigned;
  const std::optional<Dtype> carrier = parse_dtype(original_dtype);
  if (carrier) r.original_dtype = *carrier;
  // A carrier's stored shape is the packed matrix's (transposed or not); a quantized layer's packed matrix
  // is its (k, n) view's.
  const std::vector<int64_t> stored = r.quantized() ? r.layer.weight_shape : r.original_shape;
  const bool shapes_ok =
      r.view_shape.size() == 2 && stored.size() == 2 && r.view_shape[0] > 0 && r.view_shape[1] > 0 &&
      r.view_shape[1] % 2 == 0 &&
      stored == (r.options.transpose ? std::vector<int64_t>{r.view_shape[1], r.view_shape[0]} : r.view_shape);
  if ((format != "nd" && format != "nz") || (dtype != "int4" && dtype != "int32") || !shapes_ok ||
      (dtype == "int32" && r.view_shape[1] % 8 != 0) || !carrier || (!r.quantized() && !is_carrier_dtype(*carrier)) ||
      (input != "signed" && input != "offset8") || nibble_order != "low_first") {
    throw FormatError(where + ": int4pack record is not one this version can read: " + text);
  }
  return r;
}

PackedStorage packed_storage(MatrixShape m, const PackOptions &o) {
  PackedStorage s;
  s.dtype = o.int32_words ? Dtype::kI32 : Dtype::kU8;
  s.shape = storage_shape({m.rows, m.cols}, o.layout, o.int32_words ? 8 : 2);  // U8: two values per byte
  size_t bytes = 0;
  packed_size({m.rows, m.cols}, o.layout, &bytes);
  s.bytes = bytes;
  return s;
}

}  // namespace int4pack::checkpoint
