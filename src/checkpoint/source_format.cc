#include "checkpoint/source_format.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "checkpoint/safetensors.h"

namespace int4pack::checkpoint {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr uint64_t kMaxConfigBytes = 100u * 1000u * 1000u;

// A config file read and parsed; nothing when it does not exist.
std::optional<Json> read_json(const fs::path &p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  if (fs::file_size(p, ec) > kMaxConfigBytes) throw FormatError(p.string() + ": over the 100 MB limit");
  std::ifstream in(p, std::ios::binary);
  if (!in) throw IoError(p.string() + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    Json j = Json::parse(text.str());
    if (!j.is_object()) throw FormatError(p.string() + ": not a JSON object");
    return j;
  } catch (const Json::exception &e) {
    throw FormatError(p.string() + ": not valid JSON: " + json_refusal(e));
  }
}

// Typed fields of a config object, with messages that name the file and the key.
class Fields {
 public:
  Fields(const Json &j, std::string where) : j_(j), where_(std::move(where)) {}

  bool has(const char *key) const { return j_.contains(key) && !j_[key].is_null(); }
  int64_t integer(const char *key, int64_t fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_number_integer()) throw FormatError(where_ + ": \"" + key + "\" must be an integer");
    return j_[key].get<int64_t>();
  }
  bool boolean(const char *key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) throw FormatError(where_ + ": \"" + key + "\" must be true or false");
    return j_[key].get<bool>();
  }
  std::string text(const char *key, const std::string &fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) throw FormatError(where_ + ": \"" + key + "\" must be a string");
    return j_[key].get<std::string>();
  }
  std::vector<std::string> texts(const char *key) const {
    std::vector<std::string> out;
    if (!has(key)) return out;
    if (j_[key].is_string()) return {j_[key].get<std::string>()};
    if (!j_[key].is_array()) throw FormatError(where_ + ": \"" + key + "\" must be a list of strings");
    for (const Json &v : j_[key]) {
      if (!v.is_string()) throw FormatError(where_ + ": \"" + key + "\" must be a list of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  Fields object(const char *key) const {
    if (!j_[key].is_object()) throw FormatError(where_ + ": \"" + key + "\" must be an object");
    return Fields(j_[key], where_ + ": " + key);
  }
  const Json &json() const { return j_; }
  const std::string &where() const { return where_; }

 private:
  const Json &j_;
  std::string where_;
};

std::optional<Dtype> torch_dtype_of(const Fields &config) {
  const std::string name = config.has("torch_dtype") ? config.text("torch_dtype", "") : config.text("dtype", "");
  if (name == "float16" || name == "half") return Dtype::kF16;
  if (name == "bfloat16") return Dtype::kBF16;
  if (name == "float32" || name == "float") return Dtype::kF32;
  return std::nullopt;
}

// GPTQ's keys, in quantize_config.json or in config.json's quantization_config.
void read_gptq(const Fields &q, QuantConfig *c) {
  c->bits = static_cast<int>(q.integer("bits", 4));
  c->group_size = q.integer("group_size", 128);
  c->desc_act = q.boolean("desc_act", false);
  c->symmetric = q.boolean("sym", true);
  const std::string format = q.text("checkpoint_format", "gptq");
  if (format != "gptq" && format != "gptq_v2") {
    throw UsageError(q.where() + ": checkpoint_format \"" + format + "\" is not one int4pack reads (gptq, gptq_v2)");
  }
  c->gptq_v2 = format == "gptq_v2";
}

// AWQ's keys (AutoAWQ's quant_config.json names some of them differently).
void read_awq(const Fields &q, QuantConfig *c) {
  c->bits = static_cast<int>(q.has("bits") ? q.integer("bits", 4) : q.integer("w_bit", 4));
  c->group_size = q.has("group_size") ? q.integer("group_size", 128) : q.integer("q_group_size", 128);
  c->symmetric = !q.boolean("zero_point", true);
  c->awq_version = q.text("version", "gemm");
  std::transform(c->awq_version.begin(), c->awq_version.end(), c->awq_version.begin(), ::tolower);
  c->ignore = q.texts("modules_to_not_convert");
}

void read_compressed_tensors(const Fields &q, QuantConfig *c) {
  const std::string format = q.text("format", "");
  c->ignore = q.texts("ignore");
  if (!q.has("config_groups")) throw FormatError(q.where() + ": no \"config_groups\"");
  const Fields groups = q.object("config_groups");
  for (auto it = groups.json().begin(); it != groups.json().end(); ++it) {
    if (!it.value().is_object()) throw FormatError(groups.where() + ": \"" + it.key() + "\" must be an object");
    const Fields group(it.value(), groups.where() + "." + it.key());
    WeightScheme s;
    s.targets = group.texts("targets");
    s.format = group.text("format", format);
    if (group.has("weights")) {
      const Fields w = group.object("weights");
      s.num_bits = static_cast<int>(w.integer("num_bits", 0));
      s.type = w.text("type", "int");
      s.symmetric = w.boolean("symmetric", true);
      s.strategy = w.text("strategy", "");
      s.group_size = w.integer("group_size", -1);
      if (w.has("actorder")) {
        const Json &a = w.json()["actorder"];
        if (a.is_boolean()) {
          s.act_order_groups = a.get<bool>();
        } else if (a.is_string()) {
          const std::string order = a.get<std::string>();
          if (order != "group" && order != "weight" && order != "static" && order != "dynamic") {
            throw UsageError(w.where() + ": actorder \"" + order + "\" is not one int4pack reads (group, weight)");
          }
          s.act_order_groups = order == "group";
        } else {
          throw FormatError(w.where() + ": \"actorder\" must be null, a boolean or a string");
        }
      }
    }
    c->schemes.push_back(std::move(s));
  }
}

void read_msmodelslim(const Fields &d, QuantConfig *c) {
  c->model_quant_type = d.text("model_quant_type", "");
  c->group_size = d.integer("group_size", 0);
  c->slim_version = d.text("version", "");
  for (auto it = d.json().begin(); it != d.json().end(); ++it) {
    if (it.value().is_string()) c->tensor_types[it.key()] = it.value().get<std::string>();
  }
}

// msModelSlim's description file: quant_model_description*.json (the first by name).
std::optional<fs::path> description_file(const fs::path &dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const fs::directory_entry &e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("quant_model_description", 0) == 0 && e.path().extension() == ".json") found.push_back(e.path());
  }
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());
  return found.front();
}

}  // namespace

std::optional<SourceFormat> parse_source_format(std::string_view name) {
#define INT4PACK_SOURCE_FORMAT_PARSE(e, text) \
  if (name == text) return SourceFormat::e;
  INT4PACK_SOURCE_FORMATS(INT4PACK_SOURCE_FORMAT_PARSE)
#undef INT4PACK_SOURCE_FORMAT_PARSE
  return std::nullopt;
}

const char *source_format_name(SourceFormat format) {
  switch (format) {
#define INT4PACK_SOURCE_FORMAT_NAME(e, text) \
  case SourceFormat::e:                      \
    return text;
    INT4PACK_SOURCE_FORMATS(INT4PACK_SOURCE_FORMAT_NAME)
#undef INT4PACK_SOURCE_FORMAT_NAME
  }
  return "?";
}

bool matches_layer(const std::vector<std::string> &patterns, const std::string &name) {
  for (const std::string &p : patterns) {
    if (p.rfind("re:", 0) == 0) {
      try {
        if (std::regex_match(name, std::regex(p.substr(3), std::regex::ECMAScript))) return true;
      } catch (const std::regex_error &) {
        throw FormatError("the pattern \"" + p + "\" is not a valid regular expression");
      }
    } else if (p == name ||
               (name.size() > p.size() && name.compare(name.size() - p.size() - 1, std::string::npos, "." + p) == 0)) {
      return true;  // a name, or the last components of one ("lm_head", "mlp.gate")
    }
  }
  return false;
}

QuantConfig read_quant_config(const std::string &path, std::optional<SourceFormat> forced) {
  std::error_code ec;
  const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
  const fs::path config_path = (dir.empty() ? fs::path(".") : dir) / "config.json";
  const std::optional<Json> config = read_json(config_path);
  QuantConfig c;
  std::optional<Fields> qc;
  if (config) {
    const Fields f(*config, config_path.string());
    c.torch_dtype = torch_dtype_of(f);
    if (f.has("quantization_config")) qc.emplace(f.object("quantization_config"));
  }
  const std::string method = qc ? qc->text("quant_method", "") : "";
  const std::optional<fs::path> description = description_file(dir.empty() ? fs::path(".") : dir);
  const fs::path gptq_path = (dir.empty() ? fs::path(".") : dir) / "quantize_config.json";
  const fs::path awq_path = (dir.empty() ? fs::path(".") : dir) / "quant_config.json";

  SourceFormat format = SourceFormat::kCarrier;
  if (forced) {
    format = *forced;
  } else if (description) {
    format = SourceFormat::kMsModelSlim;
  } else if (method == "compressed-tensors") {
    format = SourceFormat::kCompressedTensors;
  } else if (method == "gptq") {
    format = SourceFormat::kGptq;
  } else if (method == "awq") {
    format = SourceFormat::kAwq;
  } else if (!method.empty()) {
    throw UsageError(config_path.string() + ": quant_method \"" + method +
                     "\" is not a format int4pack reads (compressed-tensors, gptq, awq; msModelSlim by its "
                     "quant_model_description*.json); --from carrier packs int4 carriers instead");
  } else if (fs::is_regular_file(gptq_path, ec)) {
    format = SourceFormat::kGptq;
  }
  c.format = format;
  switch (format) {
    case SourceFormat::kCarrier:
      break;
    case SourceFormat::kCompressedTensors:
      if (method == "compressed-tensors") {
        c.source = config_path.string();
        read_compressed_tensors(*qc, &c);
      } else {
        throw UsageError(
            "--from compressed-tensors needs config.json's quantization_config (its config_groups say "
            "how each layer was quantized), which " +
            config_path.string() + " does not hold");
      }
      break;
    case SourceFormat::kGptq:
      if (method == "gptq") {
        c.source = config_path.string();
        read_gptq(*qc, &c);
      } else if (std::optional<Json> g = read_json(gptq_path)) {
        c.source = gptq_path.string();
        read_gptq(Fields(*g, gptq_path.string()), &c);
      } else {
        c.group_size = 0;  // unknown: taken from the tensors' shapes
      }
      break;
    case SourceFormat::kAwq:
      if (method == "awq") {
        c.source = config_path.string();
        read_awq(*qc, &c);
      } else if (std::optional<Json> a = read_json(awq_path)) {
        c.source = awq_path.string();
        read_awq(Fields(*a, awq_path.string()), &c);
      } else {
        c.group_size = 0;
        c.symmetric = false;
      }
      break;
    case SourceFormat::kMsModelSlim:
      if (description) {
        c.source = description->string();
        const std::optional<Json> d = read_json(*description);
        read_msmodelslim(Fields(*d, description->string()), &c);
      }
      break;
  }
  return c;
}

}  // namespace int4pack::checkpoint
