#include "checkpoint/quant_layer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

#include "checkpoint/scratch.h"
#include "core/floats.h"

namespace int4pack::checkpoint {
namespace {

// AWQ's gemm order: column 8j + m of a word sits in nibble kAwqNibble[m].
constexpr int kAwqNibble[8] = {0, 4, 1, 5, 2, 6, 3, 7};

bool ends_with(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

uint32_t word_at(const uint8_t *bytes, int64_t i) {
  uint32_t w;
  std::memcpy(&w, bytes + 4 * i, 4);
  return w;
}

int32_t nibble(uint32_t word, int i) { return static_cast<int32_t>((word >> (4 * i)) & 0xF); }
int32_t signed_nibble(uint8_t byte, int i) {
  const int32_t v = (byte >> (4 * i)) & 0xF;
  return v >= 8 ? v - 16 : v;
}

float float_at(const uint8_t *p, Dtype d, int64_t i) {
  switch (d) {
    case Dtype::kF16: {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      return half_to_float(h);
    }
    case Dtype::kBF16: {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      return bfloat16_to_float(h);
    }
    default: {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      return f;
    }
  }
}

int64_t integer_at(const uint8_t *p, Dtype d, int64_t i) {
  if (d == Dtype::kI64) {
    int64_t v;
    std::memcpy(&v, p + 8 * i, 8);
    return v;
  }
  int32_t v;
  std::memcpy(&v, p + 4 * i, 4);
  return v;
}

std::string where(const SourceTensor &t) { return t.file->path() + ": tensor '" + t.entry->name + "'"; }

// A tensor's bytes, read with pread.
std::vector<uint8_t> bytes_of(const SourceTensor &t) {
  std::vector<uint8_t> out(t.entry->bytes());
  if (!out.empty() && !t.file->read(*t.entry, 0, out.data(), out.size())) throw t.file->read_error(*t.entry);
  return out;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Every tensor of the checkpoint by name.
using TensorIndex = std::map<std::string, SourceTensor>;

TensorIndex index_tensors(const Checkpoint &in, std::map<std::string, size_t> *shard_of) {
  TensorIndex index;
  for (size_t s = 0; s < in.shards.size(); ++s) {
    for (const TensorEntry &t : in.shards[s]->tensors()) {
      index[t.name] = {in.shards[s].get(), &t};
      (*shard_of)[t.name] = s;
    }
  }
  return index;
}

// Checks of one layer's headers; each failed one adds a problem naming the layer.
class LayerChecks {
 public:
  LayerChecks(const QuantLayerPlan &plan, std::vector<std::string> *problems) : plan_(plan), problems_(problems) {}

  bool fail(const std::string &what) {
    const std::string file = plan_.weight ? plan_.weight.file->path() + ": " : "";
    problems_->push_back(file + "layer '" + plan_.prefix + "' (" + source_format_name(plan_.format) + "): " + what);
    ok_ = false;
    return false;
  }
  // t exists, has one of `dtypes` and `rank` dims.
  bool tensor(const SourceTensor &t, const char *role, std::initializer_list<Dtype> dtypes, size_t rank) {
    if (!t) return fail(std::string("no ") + role + " tensor");
    if (std::find(dtypes.begin(), dtypes.end(), t.entry->dtype) == dtypes.end()) {
      return fail(t.entry->name + " has dtype " + dtype_name(t.entry->dtype) + ", not " + names(dtypes));
    }
    if (t.entry->shape.size() != rank) {
      return fail(t.entry->name + " has shape " + shape_text(t.entry->shape) + ", not " + std::to_string(rank) + "-D");
    }
    return true;
  }
  bool shape(const SourceTensor &t, const std::vector<int64_t> &expected, const std::string &why) {
    if (t.entry->shape == expected) return true;
    return fail(t.entry->name + " has shape " + shape_text(t.entry->shape) + ", but " + why + " needs " +
                shape_text(expected));
  }
  bool ok() const { return ok_; }

 private:
  static std::string names(std::initializer_list<Dtype> dtypes) {
    std::string s;
    for (Dtype d : dtypes) s += (s.empty() ? "" : " or ") + std::string(dtype_name(d));
    return s;
  }
  const QuantLayerPlan &plan_;
  std::vector<std::string> *problems_;
  bool ok_ = true;
};

// G and the group size from the scales' group count and the config's group size (-1: one group; 0: not
// given, so taken from the shapes).
void set_groups(QuantLayerPlan *p, int64_t groups, int64_t configured, LayerChecks *check) {
  p->groups = groups;
  if (groups < 1) {
    check->fail("its scales have no group");
    return;
  }
  if (configured < 0 || (configured == 0 && groups == 1) || (configured >= p->k && groups == 1)) {
    if (groups != 1) check->fail("one group over k is configured, but the scales hold " + std::to_string(groups));
    p->group_size = p->k;
    return;
  }
  if (configured == 0) {
    if (p->k % groups != 0) {
      check->fail("k = " + std::to_string(p->k) + " is not a multiple of the scales' " + std::to_string(groups) +
                  " groups, and no config gives the group size");
    }
    p->group_size = p->k / groups;
    return;
  }
  p->group_size = configured;
  if (ceil_div(p->k, configured) != groups) {
    check->fail("group size " + std::to_string(configured) + " over k = " + std::to_string(p->k) + " makes " +
                std::to_string(ceil_div(p->k, configured)) + " groups, but the scales hold " + std::to_string(groups));
  }
}

const WeightScheme *scheme_for(const QuantConfig &c, const std::string &layer) {
  for (const WeightScheme &s : c.schemes) {
    for (const std::string &t : s.targets) {
      const bool pattern = t.rfind("re:", 0) == 0 || t.find('.') != std::string::npos;
      if (!pattern || matches_layer({t}, layer)) return &s;  // a class name ("Linear") targets every layer
    }
  }
  return nullptr;
}

void plan_compressed_tensors(const QuantConfig &c, const TensorIndex &all, QuantLayerPlan *p, LayerChecks *check) {
  const std::string &P = p->prefix;
  const auto get = [&](const char *suffix) {
    auto it = all.find(P + suffix);
    return it == all.end() ? SourceTensor{} : it->second;
  };
  p->weight = get(".weight_packed");
  p->shape = get(".weight_shape");
  p->scale = get(".weight_scale");
  p->zeros = get(".weight_zero_point");
  p->g_idx = get(".weight_g_idx");
  p->scale_transposed = true;
  const WeightScheme *s = scheme_for(c, P);
  if (s == nullptr) {
    check->fail("no config group of " + c.source + " targets it");
    return;
  }
  if (s->format != "pack-quantized") check->fail("format \"" + s->format + "\" is not pack-quantized");
  if (s->num_bits != 4 || s->type != "int") {
    check->fail("weights are " + std::to_string(s->num_bits) + "-bit " + s->type + ", not 4-bit int");
  }
  if (s->strategy != "group" && s->strategy != "channel") {
    check->fail("strategy \"" + s->strategy + "\" is not group or channel");
  }
  if (!check->tensor(p->weight, "weight_packed", {Dtype::kI32}, 2) ||
      !check->tensor(p->shape, "weight_shape", {Dtype::kI64, Dtype::kI32}, 1) ||
      !check->shape(p->shape, {2}, "[n, k]") ||
      !check->tensor(p->scale, "weight_scale", {Dtype::kF16, Dtype::kBF16, Dtype::kF32}, 2)) {
    return;
  }
  const std::vector<uint8_t> dims = bytes_of(p->shape);
  p->n = integer_at(dims.data(), p->shape.entry->dtype, 0);
  p->k = integer_at(dims.data(), p->shape.entry->dtype, 1);
  if (p->n < 1 || p->k < 1 || p->n > (int64_t{1} << 31) || p->k > (int64_t{1} << 31)) {
    check->fail(p->shape.entry->name + " = [" + std::to_string(p->n) + ", " + std::to_string(p->k) +
                "] is not a weight shape");
    return;
  }
  if (!check->shape(p->weight, {p->n, ceil_div(p->k, 8)}, "weight_shape [n, k] packed 8 per int32 along k")) return;
  if (p->scale.entry->shape[0] != p->n) {
    check->shape(p->scale, {p->n, p->scale.entry->shape[1]}, "(n, groups)");
    return;
  }
  set_groups(p, p->scale.entry->shape[1], s->strategy == "channel" ? -1 : std::max<int64_t>(s->group_size, 0), check);
  if (p->zeros && check->tensor(p->zeros, "weight_zero_point", {Dtype::kI32}, 2)) {
    check->shape(p->zeros, {ceil_div(p->n, 8), p->groups}, "(ceil(n/8), groups) packed along n");
  } else if (!s->symmetric && !p->zeros) {
    check->fail("the config says asymmetric, but there is no weight_zero_point");
  }
  if (s->act_order_groups && !p->g_idx) check->fail("actorder \"group\" needs weight_g_idx, which is missing");
}

void plan_gptq_or_awq(const QuantConfig &c, const TensorIndex &all, QuantLayerPlan *p, LayerChecks *check) {
  const std::string &P = p->prefix;
  const auto get = [&](const char *suffix) {
    auto it = all.find(P + suffix);
    return it == all.end() ? SourceTensor{} : it->second;
  };
  const bool awq = p->format == SourceFormat::kAwq;
  p->weight = get(".qweight");
  p->zeros = get(".qzeros");
  p->scale = get(".scales");
  if (!awq) p->g_idx = get(".g_idx");
  p->zero_bias = !awq && !c.gptq_v2 ? 1 : 0;
  if (c.bits != 4)
    check->fail("bits = " + std::to_string(c.bits) + " in " + c.source + "; int4pack reads 4-bit layers");
  if (awq && c.awq_version != "gemm") {
    check->fail("AWQ version \"" + c.awq_version + "\" stores another layout; int4pack reads the gemm version");
  }
  if (!check->tensor(p->weight, "qweight", {Dtype::kI32}, 2) ||
      !check->tensor(p->scale, "scales", {Dtype::kF16, Dtype::kBF16, Dtype::kF32}, 2)) {
    return;
  }
  const std::vector<int64_t> &w = p->weight.entry->shape;
  p->k = awq ? w[0] : 8 * w[0];
  p->n = awq ? 8 * w[1] : w[1];
  if (p->k < 1 || p->n < 1) {
    check->fail(p->weight.entry->name + " " + shape_text(w) + " is empty");
    return;
  }
  if (p->scale.entry->shape[1] != p->n) {
    check->shape(p->scale, {p->scale.entry->shape[0], p->n}, "(groups, n)");
    return;
  }
  set_groups(p, p->scale.entry->shape[0], c.group_size, check);
  if (p->zeros) {
    if (check->tensor(p->zeros, "qzeros", {Dtype::kI32}, 2)) {
      check->shape(p->zeros, {p->groups, ceil_div(p->n, 8)}, "(groups, n/8) packed along n");
    }
  } else if (!c.symmetric || awq) {
    check->fail("no qzeros tensor");
  }
  if (p->g_idx && check->tensor(p->g_idx, "g_idx", {Dtype::kI32, Dtype::kI64}, 1)) {
    check->shape(p->g_idx, {p->k}, "(k,)");
  }
}

void plan_msmodelslim(const QuantConfig &c, const TensorIndex &all, QuantLayerPlan *p, LayerChecks *check) {
  const std::string &P = p->prefix;
  const auto get = [&](const char *suffix) {
    auto it = all.find(P + suffix);
    return it == all.end() ? SourceTensor{} : it->second;
  };
  p->weight = get(".weight");
  p->scale = get(".weight_scale");
  p->zeros = get(".weight_offset");
  p->scale_transposed = true;
  if (!check->tensor(p->weight, "weight", {Dtype::kI8, Dtype::kU8}, 2) ||
      !check->tensor(p->scale, "weight_scale", {Dtype::kF16, Dtype::kBF16, Dtype::kF32}, 2)) {
    return;
  }
  const std::vector<int64_t> &w = p->weight.entry->shape;
  p->n = p->scale.entry->shape[0];
  const bool packed = c.slim_version == "ascendV1" || c.slim_version == "ascendv1";
  if (packed && 2 * w[0] == p->n) {
    p->slim = SlimLayout::kPairsAlongN;
    p->k = w[1];
  } else if (packed && w[0] == p->n) {
    p->slim = SlimLayout::kPairsAlongK;
    p->k = 2 * w[1];
  } else if (!packed && w[0] == p->n) {
    p->k = w[1];
  } else {
    check->fail(p->weight.entry->name + " " + shape_text(w) + " does not fit its weight_scale's n = " +
                std::to_string(p->n) + (packed ? " (as (n/2, k) or (n, k/2) int4 pairs)" : " (as (n, k))"));
    return;
  }
  if (p->k < 1 || p->n < 1) {
    check->fail(p->weight.entry->name + " " + shape_text(w) + " is empty");
    return;
  }
  set_groups(p, p->scale.entry->shape[1], std::max<int64_t>(c.group_size, 0), check);
  if (p->zeros && check->tensor(p->zeros, "weight_offset", {Dtype::kF16, Dtype::kBF16, Dtype::kF32}, 2)) {
    check->shape(p->zeros, p->scale.entry->shape, "weight_scale's shape");
  }
}

// Checks the group indices; the order that makes groups contiguous (empty when they are already).
std::vector<int32_t> act_order(const QuantLayerPlan &p, LayerChecks *check) {
  const std::vector<uint8_t> raw = bytes_of(p.g_idx);
  std::vector<int64_t> g(static_cast<size_t>(p.k));
  bool contiguous = true;
  for (int64_t c = 0; c < p.k; ++c) {
    g[static_cast<size_t>(c)] = integer_at(raw.data(), p.g_idx.entry->dtype, c);
    if (g[static_cast<size_t>(c)] < 0 || g[static_cast<size_t>(c)] >= p.groups) {
      check->fail(p.g_idx.entry->name + "[" + std::to_string(c) + "] = " + std::to_string(g[static_cast<size_t>(c)]) +
                  " is not a group in [0, " + std::to_string(p.groups) + ")");
      return {};
    }
    contiguous = contiguous && g[static_cast<size_t>(c)] == c / p.group_size;
  }
  if (contiguous) return {};
  std::vector<int32_t> perm(static_cast<size_t>(p.k));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return g[a] < g[b]; });
  for (int64_t r = 0; r < p.k; ++r) {
    if (g[static_cast<size_t>(perm[static_cast<size_t>(r)])] != r / p.group_size) {
      check->fail(p.g_idx.entry->name + ": act-order groups must hold " + std::to_string(p.group_size) +
                  " columns each (the operator takes contiguous groups of that size), but group " +
                  std::to_string(r / p.group_size) + " does not");
      return {};
    }
  }
  return perm;
}

// The (G, n) offset of group g, column j: minus the signed zero point.
float offset_at(const QuantLayerPlan &p, const std::vector<uint8_t> &z, int64_t g, int64_t j) {
  switch (p.format) {
    case SourceFormat::kCompressedTensors:
      return static_cast<float>(8 - nibble(word_at(z.data(), (j / 8) * p.groups + g), static_cast<int>(j % 8)));
    case SourceFormat::kGptq:
      return static_cast<float>(
          8 - (nibble(word_at(z.data(), g * ceil_div(p.n, 8) + j / 8), static_cast<int>(j % 8)) + p.zero_bias));
    case SourceFormat::kAwq:
      return static_cast<float>(8 - nibble(word_at(z.data(), g * ceil_div(p.n, 8) + j / 8), kAwqNibble[j % 8]));
    default:
      return 0.0f - float_at(z.data(), p.zeros.entry->dtype, j * p.groups + g);  // +0 for a zero point of 0
  }
}

}  // namespace

std::vector<const TensorEntry *> QuantLayerPlan::consumed() const {
  std::vector<const TensorEntry *> out;
  for (const SourceTensor *t : {&weight, &scale, &zeros, &g_idx, &shape}) {
    if (*t) out.push_back(t->entry);
  }
  return out;
}

std::string layer_of(const std::string &name, SourceFormat format) {
  const char *suffix = format == SourceFormat::kCompressedTensors ? ".weight_packed"
                       : format == SourceFormat::kMsModelSlim     ? ".weight"
                       : format == SourceFormat::kCarrier         ? nullptr
                                                                  : ".qweight";
  if (suffix == nullptr || !ends_with(name, suffix)) return "";
  return name.substr(0, name.size() - std::strlen(suffix));
}

LayerSearch find_quant_layers(const Checkpoint &in, const QuantConfig &config) {
  LayerSearch search;
  std::map<std::string, size_t> shard_of;
  const TensorIndex all = index_tensors(in, &shard_of);
  for (const auto &[name, tensor] : all) {
    const std::string prefix = layer_of(name, config.format);
    if (prefix.empty() || matches_layer(config.ignore, prefix)) continue;
    if (config.format == SourceFormat::kMsModelSlim) {
      auto type = config.tensor_types.find(name);
      const std::string t = type == config.tensor_types.end() ? "" : type->second;
      if (t == "FLOAT" || t.empty()) continue;  // unquantized (or not described): passed through
      if (t != "W4A16") {
        search.problems.push_back(where(tensor) + ": layer '" + prefix + "' is " + t +
                                  "; int4pack converts W4A16 layers (int4 weights, float activations)");
        continue;
      }
    }
    QuantLayerPlan plan;
    plan.prefix = prefix;
    plan.format = config.format;
    plan.shard = shard_of[name];
    LayerChecks check(plan, &search.problems);
    switch (config.format) {
      case SourceFormat::kCompressedTensors:
        plan_compressed_tensors(config, all, &plan, &check);
        break;
      case SourceFormat::kGptq:
      case SourceFormat::kAwq:
        plan_gptq_or_awq(config, all, &plan, &check);
        break;
      default:
        plan_msmodelslim(config, all, &plan, &check);
        break;
    }
    if (check.ok()) search.layers.push_back(std::move(plan));
  }
  return search;
}

QuantParams read_quant_params(const QuantLayerPlan &p, std::vector<std::string> *problems) {
  LayerChecks check(p, problems);
  QuantParams q;
  q.groups = p.groups;
  q.group_size = p.groups == 1 ? 0 : p.group_size;
  const std::vector<uint8_t> s = bytes_of(p.scale);
  q.scales.resize(static_cast<size_t>(p.groups * p.n));
  for (int64_t g = 0; g < p.groups; ++g) {
    for (int64_t j = 0; j < p.n; ++j) {
      const float v = float_at(s.data(), p.scale.entry->dtype, p.scale_transposed ? j * p.groups + g : g * p.n + j);
      if (!std::isfinite(v)) {
        check.fail(p.scale.entry->name + " holds " + std::to_string(v) + " for group " + std::to_string(g) +
                   ", column " + std::to_string(j) + "; scales must be finite");
        return q;
      }
      q.scales[static_cast<size_t>(g * p.n + j)] = v;
    }
  }
  if (p.zeros) {
    const std::vector<uint8_t> z = bytes_of(p.zeros);
    std::vector<float> offsets(q.scales.size());
    bool any = false;
    for (int64_t g = 0; g < p.groups; ++g) {
      for (int64_t j = 0; j < p.n; ++j) {
        const float o = offset_at(p, z, g, j);
        if (!std::isfinite(o)) {
          check.fail(p.zeros.entry->name + " is not finite for group " + std::to_string(g) + ", column " +
                     std::to_string(j));
          return q;
        }
        offsets[static_cast<size_t>(g * p.n + j)] = o;
        any = any || o != 0.0f;
      }
    }
    if (any) q.offsets = std::move(offsets);
  }
  if (p.g_idx) q.perm = act_order(p, &check);
  return q;
}

QuantLayer::QuantLayer(const QuantLayerPlan &plan, const QuantParams &params, bool transposed)
    : plan_(plan), params_(params), transposed_(transposed), weight_name_(plan.prefix + ".weight") {}

void QuantLayer::load() {
  static std::atomic<uint64_t> loads{0};
  id_ = ++loads;
  // A per-thread buffer in huge pages: the gathers below stride through it a source row at a time, and
  // 4 KiB pages would cost a TLB miss per value.
  thread_local ScratchBuffer buffer;
  const TensorEntry &t = *plan_.weight.entry;
  uint8_t *p = buffer.get(t.bytes());
  if (t.bytes() > 0 && !plan_.weight.file->read(t, 0, p, t.bytes())) throw read_error();
  bytes_ = p;
}

MatrixShape QuantLayer::matrix() const {
  return transposed_ ? MatrixShape{plan_.n, plan_.k} : MatrixShape{plan_.k, plan_.n};
}

IoError QuantLayer::read_error() const { return plan_.weight.file->read_error(*plan_.weight.entry); }

void QuantLayer::describe(PackedRecord *record) const {
  record->original_dtype = plan_.weight.entry->dtype;
  record->original_shape = plan_.weight.entry->shape;
}

int32_t QuantLayer::value(int64_t row, int64_t col) const {
  const uint8_t *b = bytes_;
  const QuantLayerPlan &p = plan_;
  switch (p.format) {
    case SourceFormat::kCompressedTensors:
      return nibble(word_at(b, col * ceil_div(p.k, 8) + row / 8), static_cast<int>(row % 8)) - 8;
    case SourceFormat::kGptq:
      return nibble(word_at(b, (row / 8) * p.n + col), static_cast<int>(row % 8)) - 8;
    case SourceFormat::kAwq:
      return nibble(word_at(b, row * (p.n / 8) + col / 8), kAwqNibble[col % 8]) - 8;
    default:
      switch (p.slim) {
        case SlimLayout::kBytes:
          return static_cast<int8_t>(b[col * p.k + row]);
        case SlimLayout::kPairsAlongN:
          return signed_nibble(b[(col / 2) * p.k + row], static_cast<int>(col % 2));
        default:
          return signed_nibble(b[col * (p.k / 2) + row / 2], static_cast<int>(row % 2));
      }
  }
}

// The words of weight_packed holding rows [b * kBlockRows, ...) of compressed-tensors' (k, n) matrix,
// transposed: word w of the block for output j at words[w * pitch + j], so that a row of the matrix is a
// contiguous pass over one of them. Each source row's words are one cache line, read once per block.
void QuantLayer::fill_block(int64_t b, DecodedBlock *block) const {
  const int64_t n = plan_.n, words = ceil_div(plan_.k, 8);
  block->layer = id_;
  block->first = b * kBlockRows;
  block->pitch = n + 16;  // a power-of-two n would put every row of words in one L1 set
  const int64_t w0 = block->first / 8, w1 = std::min(words, w0 + kBlockRows / 8);
  block->words.resize(static_cast<size_t>(kBlockRows / 8 * block->pitch));
  uint32_t *const out = block->words.data();
  const int64_t pitch = block->pitch;
  const uint8_t *const bytes = bytes_;
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t w = w0; w < w1; ++w) out[(w - w0) * pitch + j] = word_at(bytes, j * words + w);
  }
}

// Rows [first, first + count) of the matrix. The source's own row order (GPTQ and AWQ keep rows of k;
// compressed-tensors rows of n) is decoded a word at a time; compressed-tensors' (k, n) and GPTQ's (n, k)
// gather eight rows from each word; the rest (act-order permutations, msModelSlim, AWQ transposed) take
// each value by its index.
void QuantLayer::decode_rows(int64_t first, int64_t count, int32_t *out) const {
  const QuantLayerPlan &p = plan_;
  const uint8_t *b = bytes_;
  const int64_t last = first + count;
  if (params_.perm.empty() && p.format == SourceFormat::kCompressedTensors) {
    const int64_t words = ceil_div(p.k, 8);
    if (transposed_) {  // row j of (n, k) is weight_packed's row j
      for (int64_t j = first; j < last; ++j) {
        int32_t *row = out + (j - first) * p.k;
        for (int64_t w = 0; w < words; ++w) {
          const uint32_t word = word_at(b, j * words + w);
          const int live = static_cast<int>(std::min<int64_t>(8, p.k - 8 * w));
          for (int i = 0; i < live; ++i) row[8 * w + i] = nibble(word, i) - 8;
        }
      }
      return;
    }
    // Row r of (k, n) is nibble r % 8 of column r / 8 of every weight_packed row, whose rows are far
    // apart: each thread decodes blocks of 128 rows (a cache line of every row) and copies from them.
    thread_local DecodedBlock block;
    for (int64_t r = first; r < last; ++r) {
      if (block.layer != id_ || block.first > r || r >= block.first + kBlockRows) fill_block(r / kBlockRows, &block);
      const uint32_t *from = block.words.data() + (r - block.first) / 8 * block.pitch;
      const int shift = static_cast<int>(4 * (r % 8));
      int32_t *to = out + (r - first) * p.n;
      for (int64_t j = 0; j < p.n; ++j) to[j] = static_cast<int32_t>((from[j] >> shift) & 0xF) - 8;
    }
    return;
  }
  if (params_.perm.empty() && p.format == SourceFormat::kGptq) {
    if (!transposed_) {  // row r of (k, n): nibble r % 8 of qweight's row r / 8
      for (int64_t r = first; r < last; ++r) {
        int32_t *row = out + (r - first) * p.n;
        const int64_t base = (r / 8) * p.n;
        const int shift = static_cast<int>(4 * (r % 8));
        for (int64_t j = 0; j < p.n; ++j) row[j] = static_cast<int32_t>((word_at(b, base + j) >> shift) & 0xF) - 8;
      }
      return;
    }
    for (int64_t w = 0; w < p.k / 8; ++w) {  // eight values of row j from each word
      for (int64_t j = first; j < last; ++j) {
        const uint32_t word = word_at(b, w * p.n + j);
        int32_t *at = out + (j - first) * p.k + 8 * w;
        for (int i = 0; i < 8; ++i) at[i] = nibble(word, i) - 8;
      }
    }
    return;
  }
  if (params_.perm.empty() && p.format == SourceFormat::kAwq && !transposed_) {
    for (int64_t r = first; r < last; ++r) {
      int32_t *row = out + (r - first) * p.n;
      for (int64_t w = 0; w < p.n / 8; ++w) {
        const uint32_t word = word_at(b, r * (p.n / 8) + w);
        for (int m = 0; m < 8; ++m) row[8 * w + m] = nibble(word, kAwqNibble[m]) - 8;
      }
    }
    return;
  }
  const int32_t *perm = params_.perm.empty() ? nullptr : params_.perm.data();
  const int64_t cols = transposed_ ? p.k : p.n;
  for (int64_t r = first; r < last; ++r) {
    int32_t *row = out + (r - first) * cols;
    if (transposed_) {
      for (int64_t c = 0; c < cols; ++c) row[c] = value(perm != nullptr ? perm[c] : c, r);
    } else {
      const int64_t source_row = perm != nullptr ? perm[r] : r;
      for (int64_t c = 0; c < cols; ++c) row[c] = value(source_row, c);
    }
  }
}

RowSource QuantLayer::rows() const {
  return [this](int64_t first, int64_t count, int32_t *buffer) -> const int32_t * {
    decode_rows(first, count, buffer);
    return buffer;
  };
}

}  // namespace int4pack::checkpoint
