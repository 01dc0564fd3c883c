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
  return j.dump();
}

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
  } catch (const Json::exception &e) {
    throw FormatError(where + ": int4pack record is not valid: " + json_refusal(e));
  }
  r.options.layout = format == "nz" ? Layout::kNz : Layout::kNd;
  r.options.int32_words = dtype == "int32";
  r.options.input = input == "offset8" ? InputEncoding::kOffset8 : InputEncoding::kSigned;
  const std::optional<Dtype> carrier = parse_dtype(original_dtype);
  if (carrier) r.original_dtype = *carrier;
  const bool shapes_ok =
      r.view_shape.size() == 2 && r.original_shape.size() == 2 && r.view_shape[0] > 0 && r.view_shape[1] > 0 &&
      r.view_shape[1] % 2 == 0 &&
      r.original_shape == (r.options.transpose ? std::vector<int64_t>{r.view_shape[1], r.view_shape[0]} : r.view_shape);
  if ((format != "nd" && format != "nz") || (dtype != "int4" && dtype != "int32") || !shapes_ok ||
      (dtype == "int32" && r.view_shape[1] % 8 != 0) || !carrier || !is_carrier_dtype(*carrier) ||
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
