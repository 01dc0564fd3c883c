// `int4pack demo`: the README's main job. Two small, deterministic, synthetic W4A16 checkpoints as
// quantizers write them: compressed-tensors (LLM-Compressor's pack-quantized, symmetric, group 128, two
// shards, BF16) and GPTQ (asymmetric, v1 zero points, group 128, FLOAT16). Each is converted to FRACTAL_NZ
// INT4, verified byte for byte and by the operator's matmul against its own dequantization, and inspected.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "checkpoint/safetensors_writer.h"
#include "commands.h"
#include "core/floats.h"

namespace int4pack::tool {
namespace {

namespace fs = std::filesystem;
using checkpoint::Dtype;
using checkpoint::OutputTensor;
using checkpoint::Sink;
using Json = nlohmann::ordered_json;

constexpr int kLayers = 2;
constexpr int64_t kHidden = 512;
constexpr int64_t kFfn = 1408;
constexpr int64_t kGroup = 128;

OutputTensor make_tensor(std::string name, Dtype dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  OutputTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes = bytes.size();
  t.write = [bytes = std::move(bytes)](Sink &sink) { sink.write(bytes.data(), bytes.size()); };
  return t;
}

void put32(std::vector<uint8_t> &b, size_t word, uint32_t v) { std::memcpy(b.data() + 4 * word, &v, 4); }

// Half-precision (or bfloat16) values drawn uniformly from [lo, hi].
OutputTensor floats(const std::string &name, std::vector<int64_t> shape, float lo, float hi, Dtype dtype,
                    std::mt19937 &gen) {
  std::uniform_real_distribution<float> dist(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<uint8_t> bytes(static_cast<size_t>(n * 2));
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = dtype == Dtype::kBF16 ? float_to_bfloat16(dist(gen)) : float_to_half(dist(gen));
    std::memcpy(bytes.data() + 2 * i, &h, 2);
  }
  return make_tensor(name, dtype, std::move(shape), std::move(bytes));
}

// A linear layer's quantization: Qs (k, n) in [-8, 7], and the unsigned zero points Zu (G, n) in [1, 15]
// (zero for symmetric: 8).
struct Layer {
  int64_t k, n;
  std::vector<int8_t> q;
  std::vector<uint8_t> zu;
};

Layer draw(int64_t k, int64_t n, bool asymmetric, std::mt19937 &gen) {
  std::uniform_int_distribution<int> value(-8, 7), zero(1, 15);
  Layer l{k, n, std::vector<int8_t>(static_cast<size_t>(k * n)),
          std::vector<uint8_t>(static_cast<size_t>(k / kGroup * n))};
  for (int8_t &v : l.q) v = static_cast<int8_t>(value(gen));
  for (uint8_t &z : l.zu) z = static_cast<uint8_t>(asymmetric ? zero(gen) : 8);
  return l;
}

// compressed-tensors pack-quantized: weight_packed (n, k/8) int32 along k holding Qs + 8, weight_scale
// (n, G), weight_shape [n, k].
void add_compressed_tensors(std::vector<OutputTensor> &out, const std::string &p, const Layer &l, std::mt19937 &gen) {
  std::vector<uint8_t> packed(static_cast<size_t>(l.n * l.k / 2));
  for (int64_t j = 0; j < l.n; ++j) {
    for (int64_t w = 0; w < l.k / 8; ++w) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i)
        word |= static_cast<uint32_t>(l.q[static_cast<size_t>((8 * w + i) * l.n + j)] + 8) << (4 * i);
      put32(packed, static_cast<size_t>(j * (l.k / 8) + w), word);
    }
  }
  out.push_back(make_tensor(p + ".weight_packed", Dtype::kI32, {l.n, l.k / 8}, std::move(packed)));
  out.push_back(floats(p + ".weight_scale", {l.n, l.k / kGroup}, 0.002f, 0.02f, Dtype::kBF16, gen));
  std::vector<uint8_t> shape(16);
  const int64_t dims[2] = {l.n, l.k};
  std::memcpy(shape.data(), dims, 16);
  out.push_back(make_tensor(p + ".weight_shape", Dtype::kI64, {2}, std::move(shape)));
}

// GPTQ v1: qweight (k/8, n) along k holding Qs + 8, qzeros (G, n/8) along n holding Zu - 1, scales (G, n).
void add_gptq(std::vector<OutputTensor> &out, const std::string &p, const Layer &l, std::mt19937 &gen) {
  std::vector<uint8_t> qweight(static_cast<size_t>(l.k * l.n / 2)), qzeros(static_cast<size_t>(l.k / kGroup * l.n / 2));
  std::vector<uint8_t> g_idx(static_cast<size_t>(l.k * 4));
  for (int64_t w = 0; w < l.k / 8; ++w) {
    for (int64_t j = 0; j < l.n; ++j) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i)
        word |= static_cast<uint32_t>(l.q[static_cast<size_t>((8 * w + i) * l.n + j)] + 8) << (4 * i);
      put32(qweight, static_cast<size_t>(w * l.n + j), word);
    }
  }
  for (int64_t g = 0; g < l.k / kGroup; ++g) {
    for (int64_t w = 0; w < l.n / 8; ++w) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i)
        word |= static_cast<uint32_t>(l.zu[static_cast<size_t>(g * l.n + 8 * w + i)] - 1) << (4 * i);
      put32(qzeros, static_cast<size_t>(g * (l.n / 8) + w), word);
    }
  }
  for (int64_t c = 0; c < l.k; ++c) put32(g_idx, static_cast<size_t>(c), static_cast<uint32_t>(c / kGroup));
  out.push_back(make_tensor(p + ".qweight", Dtype::kI32, {l.k / 8, l.n}, std::move(qweight)));
  out.push_back(make_tensor(p + ".qzeros", Dtype::kI32, {l.k / kGroup, l.n / 8}, std::move(qzeros)));
  out.push_back(floats(p + ".scales", {l.k / kGroup, l.n}, 0.002f, 0.02f, Dtype::kF16, gen));
  out.push_back(make_tensor(p + ".g_idx", Dtype::kI32, {l.k}, std::move(g_idx)));
}

void write_text(const fs::path &path, const std::string &text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw checkpoint::IoError(path.string() + ": cannot write");
}

// A small Llama-like model with every linear layer quantized, in `shards` files with an index.
void write_model(const fs::path &dir, bool gptq, int shards, const Json &quantization, Dtype act) {
  std::mt19937 gen(gptq ? 20261201 : 20261130);
  fs::create_directories(dir);
  std::vector<std::vector<OutputTensor>> files(static_cast<size_t>(shards));
  files[0].push_back(floats("model.embed_tokens.weight", {1000, kHidden}, -0.05f, 0.05f, act, gen));
  for (int layer = 0; layer < kLayers; ++layer) {
    auto &file = files[static_cast<size_t>(layer * shards / kLayers)];
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const std::pair<const char *, std::pair<int64_t, int64_t>> linears[] = {
        // (k, n)
        {"self_attn.q_proj", {kHidden, kHidden}}, {"self_attn.k_proj", {kHidden, kHidden}},
        {"self_attn.v_proj", {kHidden, kHidden}}, {"self_attn.o_proj", {kHidden, kHidden}},
        {"mlp.gate_proj", {kHidden, kFfn}},       {"mlp.up_proj", {kHidden, kFfn}},
        {"mlp.down_proj", {kFfn, kHidden}}};
    for (const auto &[linear, kn] : linears) {
      const Layer l = draw(kn.first, kn.second, gptq, gen);
      if (gptq) {
        add_gptq(file, p + linear, l, gen);
      } else {
        add_compressed_tensors(file, p + linear, l, gen);
      }
    }
    file.push_back(floats(p + "input_layernorm.weight", {kHidden}, 0.9f, 1.1f, act, gen));
  }
  files.back().push_back(floats("model.norm.weight", {kHidden}, 0.9f, 1.1f, act, gen));
  files.back().push_back(floats("lm_head.weight", {1000, kHidden}, -0.05f, 0.05f, act, gen));
  Json weight_map = Json::object();
  uint64_t total = 0;
  for (int s = 0; s < shards; ++s) {
    const std::string name =
        shards == 1 ? "model.safetensors"
                    : "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
    for (const OutputTensor &t : files[static_cast<size_t>(s)]) {
      weight_map[t.name] = name;
      total += t.bytes;
    }
    checkpoint::write_safetensors((dir / name).string(), {{"format", "pt"}}, files[static_cast<size_t>(s)]);
  }
  if (shards > 1) {
    write_text(dir / "model.safetensors.index.json",
               Json({{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}).dump(2) + "\n");
  }
  const Json config = {{"architectures", {"LlamaForCausalLM"}},
                       {"hidden_size", kHidden},
                       {"intermediate_size", kFfn},
                       {"num_hidden_layers", kLayers},
                       {"torch_dtype", act == Dtype::kBF16 ? "bfloat16" : "float16"},
                       {"quantization_config", quantization}};
  write_text(dir / "config.json", config.dump(2) + "\n");
  write_text(dir / "tokenizer.json", "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}\n");
}

void write_compressed_tensors(const fs::path &dir) {
  const Json weights = {{"num_bits", 4},       {"type", "int"},        {"symmetric", true},
                        {"strategy", "group"}, {"group_size", kGroup}, {"actorder", nullptr}};
  const Json q = {{"quant_method", "compressed-tensors"},
                  {"format", "pack-quantized"},
                  {"config_groups", {{"group_0", {{"targets", {"Linear"}}, {"weights", weights}}}}},
                  {"ignore", {"lm_head"}}};
  write_model(dir, false, 2, q, Dtype::kBF16);
}

void write_gptq(const fs::path &dir) {
  const Json q = {{"quant_method", "gptq"}, {"bits", 4},    {"group_size", kGroup},
                  {"desc_act", false},      {"sym", false}, {"checkpoint_format", "gptq"}};
  write_model(dir, true, 1, q, Dtype::kF16);
}

// One checkpoint through the pipeline: convert to NZ, verify with the matmul, inspect.
int run_pipeline(const char *what, const fs::path &original, const fs::path &packed, const Common &common, int step) {
  std::printf("%d. %s:\n   %s\n", step, what, original.c_str());
  std::printf("   int4pack convert %s %s --format nz\n   ", original.c_str(), packed.c_str());
  std::fflush(stdout);
  checkpoint::ConvertRequest request;
  request.input = original.string();
  request.output = packed.string();
  request.options.layout = Layout::kNz;
  Common quiet = common;
  quiet.force = true;
  if (int rc = convert(request, quiet); rc != 0) return rc;
  std::printf("   int4pack verify %s %s --matmul\n", original.c_str(), packed.c_str());
  std::fflush(stdout);
  Common terse = quiet;
  terse.quiet = true;
  terse.show_matmul = !common.quiet;
  return verify(original.string(), packed.string(), terse, true);
}

}  // namespace

int demo(const std::string &directory, const Common &common) {
  fs::path root = directory;
  if (root.empty()) {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/int4pack-demo-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw checkpoint::IoError(pattern + ": cannot create");
    root = pattern;
  }
  const fs::path ct = root / "compressed-tensors-w4a16";
  const fs::path gptq = root / "gptq-w4a16-asym";
  write_compressed_tensors(ct);
  write_gptq(gptq);
  if (int rc = run_pipeline("a compressed-tensors W4A16 checkpoint (LLM-Compressor's pack-quantized: symmetric, "
                            "group 128, BF16, 2 layers of 7 linears, 2 shards)",
                            ct, root / "compressed-tensors-nz", common, 1);
      rc != 0) {
    return rc;
  }
  if (int rc = run_pipeline("an asymmetric GPTQ checkpoint (v1 zero points, group 128, FLOAT16)", gptq,
                            root / "gptq-nz", common, 2);
      rc != 0) {
    return rc;
  }
  std::printf("3. int4pack inspect %s\n", (root / "gptq-nz").c_str());
  std::fflush(stdout);
  Common plain;
  plain.quiet = common.quiet;
  if (!common.quiet) inspect((root / "gptq-nz").string(), plain);
  std::printf("\nfiles: %s\n", root.c_str());
  return 0;
}

}  // namespace int4pack::tool
