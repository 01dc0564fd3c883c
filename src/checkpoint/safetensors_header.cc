#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoint/safetensors.h"

namespace int4pack::checkpoint {
namespace {

using Json = nlohmann::ordered_json;

std::string in_quotes(const std::string &s) { return "'" + s + "'"; }

bool is_unsigned_integer(const Json &j) {
  return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
}

}  // namespace

std::string shape_text(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t TensorEntry::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // parse_header refused shapes whose partial products leave int64
  return n;
}

std::string json_refusal(const std::exception &e) {
  // The parser quotes what it last read, which may be any bytes.
  std::string what = e.what();
  for (char &ch : what) {
    if (static_cast<unsigned char>(ch) >= 0x80 || (static_cast<unsigned char>(ch) < 0x20 && ch != '\n')) ch = '?';
  }
  return what;
}

std::vector<TensorEntry> parse_header(const std::string &where, const char *json, size_t json_bytes,
                                      uint64_t data_bytes, std::map<std::string, std::string> *metadata) {
  // Duplicate names are legal JSON but ambiguous tensors: refuse them while parsing.
  std::set<std::string> top_keys;
  const Json::parser_callback_t no_duplicates = [&](int depth, Json::parse_event_t event, Json &parsed) {
    if (depth == 1 && event == Json::parse_event_t::key) {
      const std::string key = parsed.get<std::string>();
      if (!top_keys.insert(key).second) throw FormatError(where + ": duplicate tensor name " + in_quotes(key));
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(json, json + json_bytes, no_duplicates);
  } catch (const Json::exception &e) {
    const std::string what = json_refusal(e);
    if (what.find("UTF-8") != std::string::npos) {
      throw FormatError(where + ": header holds text that is not valid UTF-8 (a tensor name?): " + what);
    }
    throw FormatError(where + ": header is not valid JSON: " + what);
  }
  if (!header.is_object()) throw FormatError(where + ": header is not a JSON object");

  std::vector<TensorEntry> tensors;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    const Json &entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) throw FormatError(where + ": __metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string())
          throw FormatError(where + ": __metadata__ value of " + in_quotes(m.key()) + " is not a string");
        (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = where + ": tensor " + in_quotes(name);
    if (!entry.is_object()) throw FormatError(what + ": entry is not an object");
    TensorEntry t;
    t.name = name;
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) throw FormatError(what + ": no dtype string");
    const std::string dtype = entry["dtype"].get<std::string>();
    const std::optional<Dtype> parsed = parse_dtype(dtype);
    if (!parsed) throw FormatError(what + ": unknown dtype " + in_quotes(dtype));
    t.dtype = *parsed;
    const size_t element_bytes = dtype_size(t.dtype);
    if (!entry.contains("shape") || !entry["shape"].is_array()) throw FormatError(what + ": no shape array");
    uint64_t elements = 1;
    for (const Json &d : entry["shape"]) {
      if (!is_unsigned_integer(d) || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        throw FormatError(what + ": shape " + entry["shape"].dump() + " is not a list of non-negative integers");
      }
      t.shape.push_back(d.get<int64_t>());
      // Every partial product must fit int64 too: shapes are int64 everywhere downstream.
      if (__builtin_mul_overflow(elements, d.get<uint64_t>(), &elements) ||
          elements > static_cast<uint64_t>(INT64_MAX)) {
        throw FormatError(what + ": shape " + entry["shape"].dump() + " has too many elements");
      }
    }
    const Json &offsets = entry.contains("data_offsets") ? entry["data_offsets"] : Json();
    if (!offsets.is_array() || offsets.size() != 2 || !is_unsigned_integer(offsets[0]) ||
        !is_unsigned_integer(offsets[1])) {
      throw FormatError(what + ": data_offsets is not a pair of non-negative integers");
    }
    t.begin = offsets[0].get<uint64_t>();
    t.end = offsets[1].get<uint64_t>();
    if (t.begin > t.end)
      throw FormatError(what + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                        "] run backwards");
    if (t.end > data_bytes) {
      throw FormatError(what + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                        "] are out of bounds (data section: " + std::to_string(data_bytes) + " bytes)");
    }
    uint64_t expected = 0;
    if (__builtin_mul_overflow(elements, element_bytes, &expected) || expected != t.bytes()) {
      throw FormatError(what + ": byte length " + std::to_string(t.bytes()) + " does not match dtype " +
                        dtype_name(t.dtype) + " x shape " + shape_text(t.shape) + " = " +
                        std::to_string(elements * element_bytes));
    }
    tensors.push_back(std::move(t));
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorEntry &a, const TensorEntry &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const TensorEntry *previous = nullptr;
  for (const TensorEntry &t : tensors) {
    if (t.begin < covered) {
      throw FormatError(where + ": tensors " + in_quotes(previous->name) + " and " + in_quotes(t.name) + " overlap");
    }
    if (t.begin > covered) {
      throw FormatError(where + ": bytes [" + std::to_string(covered) + ", " + std::to_string(t.begin) +
                        ") of the data section belong to no tensor (a hole before " + in_quotes(t.name) + ")");
    }
    covered = t.end;
    previous = &t;
  }
  if (covered != data_bytes) {
    throw FormatError(where + ": bytes [" + std::to_string(covered) + ", " + std::to_string(data_bytes) +
                      ") at the end of the data section belong to no tensor");
  }
  return tensors;
}

std::string header_text(const std::map<std::string, std::string> &metadata, const std::vector<HeaderEntry> &entries) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto &[k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  for (const HeaderEntry &e : entries) {
    header[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  }
  return header.dump();
}

}  // namespace int4pack::checkpoint
