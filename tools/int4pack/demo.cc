// `int4pack demo`: the README's main job. A small, deterministic, synthetic W4 checkpoint (int4 weights
// in int32 carriers, fp16 scales, an fp16 embedding, two shards, an index, config and tokenizer files),
// converted to FRACTAL_NZ INT4, verified, summarised.
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

namespace int4pack::tool {
namespace {

namespace fs = std::filesystem;
using checkpoint::OutputTensor;
using checkpoint::Sink;

OutputTensor make_tensor(std::string name, checkpoint::Dtype dtype, std::vector<int64_t> shape,
                         std::vector<uint8_t> bytes) {
  OutputTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes = bytes.size();
  t.write = [bytes = std::move(bytes)](Sink &sink) { sink.write(bytes.data(), bytes.size()); };
  return t;
}

// int4 values in [-8, 7], one per little-endian int32.
OutputTensor int4_weight(const std::string &name, int64_t rows, int64_t cols, std::mt19937 &gen) {
  std::uniform_int_distribution<int32_t> dist(-8, 7);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * cols * 4));
  for (size_t i = 0; i < bytes.size(); i += 4) {
    const uint32_t v = static_cast<uint32_t>(dist(gen));
    for (int b = 0; b < 4; ++b) bytes[i + b] = static_cast<uint8_t>(v >> (8 * b));
  }
  return make_tensor(name, checkpoint::Dtype::kI32, {rows, cols}, std::move(bytes));
}

// float -> IEEE binary16, round to nearest; the demo's values are all normal halves.
uint16_t to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  const uint32_t half = ((magnitude >> 23) - 112) << 10 | ((magnitude >> 13) & 0x3FFu);
  return static_cast<uint16_t>(sign | (half + ((magnitude >> 12) & 1u)));
}

OutputTensor fp16(const std::string &name, std::vector<int64_t> shape, float lo, float hi, std::mt19937 &gen) {
  std::uniform_real_distribution<float> dist(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<uint8_t> bytes(static_cast<size_t>(n * 2));
  for (size_t i = 0; i < bytes.size(); i += 2) {
    const uint16_t h = to_half(dist(gen));
    bytes[i] = static_cast<uint8_t>(h);
    bytes[i + 1] = static_cast<uint8_t>(h >> 8);
  }
  return make_tensor(name, checkpoint::Dtype::kF16, std::move(shape), std::move(bytes));
}

void write_text(const fs::path &path, const std::string &text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw checkpoint::IoError(path.string() + ": cannot write");
}

// Writes the synthetic checkpoint; returns its directory.
fs::path write_synthetic_checkpoint(const fs::path &dir) {
  constexpr int kLayers = 4;
  constexpr int64_t kHidden = 512;
  constexpr int64_t kFfn = 1408;
  constexpr int64_t kGroup = 128;  // quantisation group size: one fp16 scale per 128 inputs
  std::mt19937 gen(20261130);
  fs::create_directories(dir);
  std::vector<OutputTensor> shards[2];
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  const char *names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  shards[0].push_back(fp16("model.embed_tokens.weight", {1000, kHidden}, -0.05f, 0.05f, gen));
  for (int layer = 0; layer < kLayers; ++layer) {
    auto &shard = shards[layer < kLayers / 2 ? 0 : 1];
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const std::pair<const char *, std::pair<int64_t, int64_t>> linears[] = {
        {"self_attn.q_proj", {kHidden, kHidden}}, {"self_attn.k_proj", {kHidden, kHidden}},
        {"self_attn.v_proj", {kHidden, kHidden}}, {"self_attn.o_proj", {kHidden, kHidden}},
        {"mlp.gate_proj", {kFfn, kHidden}},       {"mlp.up_proj", {kFfn, kHidden}},
        {"mlp.down_proj", {kHidden, kFfn}}};
    for (const auto &[linear, shape] : linears) {
      shard.push_back(int4_weight(p + linear + ".weight", shape.first, shape.second, gen));
      shard.push_back(fp16(p + linear + ".scales", {shape.first, shape.second / kGroup}, 0.001f, 0.02f, gen));
    }
    shard.push_back(fp16(p + "input_layernorm.weight", {kHidden}, 0.9f, 1.1f, gen));
  }
  shards[1].push_back(fp16("model.norm.weight", {kHidden}, 0.9f, 1.1f, gen));
  uint64_t total = 0;
  for (int s = 0; s < 2; ++s) {
    for (const OutputTensor &t : shards[s]) {
      weight_map[t.name] = names[s];
      total += t.bytes;
    }
    checkpoint::write_safetensors((dir / names[s]).string(), {{"format", "pt"}, {"quantization", "w4a16 synthetic"}},
                                  shards[s]);
  }
  nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_text(dir / "model.safetensors.index.json", index.dump(2) + "\n");
  write_text(dir / "config.json",
             "{\"model_type\": \"synthetic-w4\", \"hidden_size\": 512, \"num_hidden_layers\": 4}\n");
  write_text(dir / "tokenizer.json", "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}\n");
  return dir;
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
  const fs::path original = write_synthetic_checkpoint(root / "w4-int32-carriers");
  const fs::path packed = root / "w4-int4-nz";
  Common quiet = common;
  quiet.force = true;
  std::printf(
      "1. wrote a synthetic W4 checkpoint (4 layers, int4 weights in int32 carriers, fp16 scales, 2 shards):\n"
      "   %s\n",
      original.c_str());
  std::printf("2. int4pack convert %s %s --format nz --dtype int4\n   ", original.c_str(), packed.c_str());
  std::fflush(stdout);
  checkpoint::ConvertRequest request;
  request.input = original.string();
  request.output = packed.string();
  request.options.layout = Layout::kNz;
  if (int rc = convert(request, quiet); rc != 0) return rc;
  std::printf("3. int4pack verify %s %s\n   ", original.c_str(), packed.c_str());
  std::fflush(stdout);
  Common terse = quiet;
  terse.quiet = true;
  if (int rc = verify(original.string(), packed.string(), terse); rc != 0) return rc;
  std::printf("4. int4pack inspect %s\n", (packed / "model-00001-of-00002.safetensors").c_str());
  std::fflush(stdout);
  inspect((packed / "model-00001-of-00002.safetensors").string(), Common{});
  std::printf("\nfiles: %s\n", root.c_str());
  return 0;
}

}  // namespace int4pack::tool
