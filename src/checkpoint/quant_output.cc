#include "checkpoint/quant_output.h"

#include <cmath>
#include <cstring>

#include "checkpoint/int4_tensors.h"
#include "core/floats.h"

namespace int4pack::checkpoint {
namespace {

// How the layer is laid out for the operator: FRACTAL_NZ per-channel needs the transposed weight.
struct Placement {
  Layout layout = Layout::kNd;
  bool transposed = false;
};

// Why the operator cannot take the layer laid out as `p`, or "" when it can.
std::string operator_refusal(const QuantLayerPlan &plan, int64_t group_size, Placement p, bool int32_words) {
  const int64_t k = plan.k, n = plan.n;
  if (k > 65535 || n > 65535)
    return "k and n must be at most 65535 (the operator's limit), but the weight is " + shape_text({k, n});
  if (group_size > 0 && (group_size % 32 != 0 || group_size > k - 1)) {
    return "group size " + std::to_string(group_size) +
           " must be a multiple of 32 in [32, k - 1 = " + std::to_string(k - 1) + "] (a single group is per-channel)";
  }
  if (p.layout == Layout::kNz && group_size > 0) {
    if (group_size != 64 && group_size != 128) {
      return "FRACTAL_NZ per-group needs group size 64 or 128, not " + std::to_string(group_size);
    }
    if (k % group_size != 0) return "FRACTAL_NZ per-group needs k % group size == 0, but k = " + std::to_string(k);
    if (n % 64 != 0) return "FRACTAL_NZ per-group needs n % 64 == 0, but n = " + std::to_string(n);
  }
  const int64_t cols = p.transposed ? k : n;
  const int64_t align = int32_words ? 8 : 2;
  if (cols % align != 0) {
    return std::string("the packed ") + (p.transposed ? "(n, k)" : "(k, n)") + " matrix needs a last dim that is a " +
           "multiple of " + std::to_string(align) + " for " + (int32_words ? "int32" : "int4") + " output, but it is " +
           std::to_string(cols);
  }
  return "";
}

Placement placement(Layout layout, int64_t group_size) { return {layout, layout == Layout::kNz && group_size == 0}; }

// The first choice that the operator takes (auto: NZ, else ND), or a problem.
std::optional<Placement> choose(const QuantLayerPlan &plan, int64_t group_size, const LayerOptions &o,
                                std::string *why) {
  const std::vector<Layout> tries =
      o.layout ? std::vector<Layout>{*o.layout} : std::vector<Layout>{Layout::kNz, Layout::kNd};
  for (Layout l : tries) {
    const Placement p = placement(l, group_size);
    const std::string refusal = operator_refusal(plan, group_size, p, o.int32_words);
    if (refusal.empty()) return p;
    *why = refusal;  // with auto, ND's: the last one tried
  }
  return std::nullopt;
}

std::optional<Dtype> act_dtype_of(const QuantLayerPlan &plan, const LayerOptions &o) {
  if (o.act_dtype) return o.act_dtype;
  if (o.torch_dtype == Dtype::kF16 || o.torch_dtype == Dtype::kBF16) return o.torch_dtype;
  const Dtype scale = plan.scale.entry->dtype;
  if (!o.torch_dtype && (scale == Dtype::kF16 || scale == Dtype::kBF16)) return scale;
  return std::nullopt;
}

OutputTensor bytes_tensor(std::string name, Dtype dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  OutputTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes = bytes.size();
  t.write = [data = std::move(bytes)](Sink &sink) { sink.write(data.data(), data.size()); };
  return t;
}

// Values in the activation dtype, rounded to nearest even.
std::vector<uint8_t> encode(const std::vector<float> &values, Dtype act) {
  std::vector<uint8_t> out(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = act == Dtype::kBF16 ? float_to_bfloat16(values[i]) : float_to_half(values[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

// The first scale or offset too large for the activation dtype, named; "" when all fit.
std::string not_representable(const QuantParams &q, Dtype act) {
  for (const std::vector<float> *v : {&q.scales, &q.offsets}) {
    for (size_t i = 0; i < v->size(); ++i) {
      const float x = (*v)[i];
      const bool fits = act == Dtype::kBF16 ? std::isfinite(bfloat16_to_float(float_to_bfloat16(x)))
                                            : std::isfinite(half_to_float(float_to_half(x)));
      if (!fits) {
        return std::string(v == &q.scales ? "scale " : "offset ") + std::to_string(x) + " (group " +
               std::to_string(i / (v->size() / static_cast<size_t>(q.groups))) + ") does not fit in " + dtype_name(act);
      }
    }
  }
  return "";
}

std::vector<int64_t> param_shape(const QuantParams &q, int64_t n) {
  return q.groups == 1 ? std::vector<int64_t>{n} : std::vector<int64_t>{q.groups, n};
}

// The first value outside [-8, 7], named (only msModelSlim's one-per-byte weights can hold one).
std::string out_of_range(const QuantLayer &layer, const QuantLayerPlan &plan) {
  for (int64_t r = 0; r < plan.k; ++r) {
    for (int64_t c = 0; c < plan.n; ++c) {
      const int32_t v = layer.value(r, c);
      if (v < -8 || v > 7) {
        return plan.weight.entry->name + ": the value for input " + std::to_string(r) + ", output " +
               std::to_string(c) + " is " + std::to_string(v) + ", outside the int4 range [-8, 7]";
      }
    }
  }
  return plan.weight.entry->name + " holds a value outside the int4 range [-8, 7]";
}

PackedRecord record_for(const QuantLayerPlan &plan, const QuantParams &q, const PackOptions &po, Dtype act) {
  PackedRecord r;
  r.options = po;
  r.view_shape = po.transpose ? std::vector<int64_t>{plan.n, plan.k} : std::vector<int64_t>{plan.k, plan.n};
  r.original_dtype = plan.weight.entry->dtype;
  r.original_shape = plan.weight.entry->shape;
  LayerRecord &l = r.layer;
  l.source = plan.format;
  l.weight_shape = {plan.k, plan.n};
  l.group_size = q.group_size;
  l.act_dtype = act;
  l.scale = scale_name(plan.prefix);
  if (!q.offsets.empty()) l.offset = offset_name(plan.prefix);
  if (!q.perm.empty()) l.perm = perm_name(plan.prefix);
  for (const TensorEntry *t : plan.consumed()) l.source_tensors.push_back(t->name);
  return r;
}

}  // namespace

std::string weight_name(const std::string &prefix) { return prefix + ".weight"; }
std::string scale_name(const std::string &prefix) { return prefix + ".antiquant_scale"; }
std::string offset_name(const std::string &prefix) { return prefix + ".antiquant_offset"; }
std::string perm_name(const std::string &prefix) { return prefix + ".weight_perm"; }

bool convert_layer(const QuantLayerPlan &plan, const LayerOptions &o, ConvertedLayer *out,
                   std::vector<std::string> *problems) {
  const std::string what =
      plan.weight.file->path() + ": layer '" + plan.prefix + "' (" + source_format_name(plan.format) + "): ";
  const size_t before = problems->size();
  const QuantParams q = read_quant_params(plan, problems);
  if (problems->size() != before) return false;
  const std::optional<Dtype> act = act_dtype_of(plan, o);
  if (!act) {
    problems->push_back(what +
                        "cannot tell the activation dtype (config.json's torch_dtype is not float16 or "
                        "bfloat16, nor are the scales); give --act-dtype");
    return false;
  }
  if (const std::string overflow = not_representable(q, *act); !overflow.empty()) {
    problems->push_back(what + overflow);
    return false;
  }
  std::string why;
  const std::optional<Placement> p = choose(plan, q.group_size, o, &why);
  if (!p) {
    problems->push_back(what + why);
    return false;
  }
  PackOptions po;
  po.layout = p->layout;
  po.transpose = p->transposed;
  po.int32_words = o.int32_words;
  QuantLayer layer(plan, q, p->transposed);
  layer.load();
  out->weight = pack_layer(layer, po);
  if (out->weight == nullptr) {
    problems->push_back(what + out_of_range(layer, plan));
    return false;
  }
  out->storage = packed_storage(layer.matrix(), po);
  out->record = record_for(plan, q, po, *act);
  out->params.clear();
  out->params.push_back(bytes_tensor(scale_name(plan.prefix), *act, param_shape(q, plan.n), encode(q.scales, *act)));
  if (!q.offsets.empty()) {
    out->params.push_back(
        bytes_tensor(offset_name(plan.prefix), *act, param_shape(q, plan.n), encode(q.offsets, *act)));
  }
  if (!q.perm.empty()) {
    std::vector<uint8_t> bytes(q.perm.size() * 4);
    std::memcpy(bytes.data(), q.perm.data(), bytes.size());
    out->params.push_back(bytes_tensor(perm_name(plan.prefix), Dtype::kI32, {plan.k}, std::move(bytes)));
  }
  return true;
}

void bound_layer_header(const QuantLayerPlan &plan, const LayerOptions &o, std::vector<HeaderEntry> *entries,
                        std::map<std::string, std::string> *metadata) {
  const std::vector<int64_t> params =
      plan.groups == 1 ? std::vector<int64_t>{plan.n} : std::vector<int64_t>{plan.groups, plan.n};
  PackOptions po;
  po.int32_words = o.int32_words;
  QuantParams q;
  q.groups = plan.groups;
  q.group_size = plan.groups == 1 ? 0 : plan.group_size;
  q.offsets.resize(plan.zeros ? 1 : 0);
  q.perm.resize(plan.g_idx ? 1 : 0);
  std::string longest;
  for (Layout l : {Layout::kNd, Layout::kNz}) {  // both forms: an auto layout may take either
    for (bool t : {false, true}) {
      po.layout = l;
      po.transpose = t;
      const MatrixShape m = t ? MatrixShape{plan.n, plan.k} : MatrixShape{plan.k, plan.n};
      const PackedStorage s = packed_storage(m, po);
      entries->push_back({weight_name(plan.prefix), s.dtype, s.shape, 0, 0});
      const std::string record = encode_record(record_for(plan, q, po, Dtype::kBF16));
      if (record.size() > longest.size()) longest = record;
    }
  }
  entries->push_back({scale_name(plan.prefix), Dtype::kBF16, params, 0, 0});
  if (plan.zeros) entries->push_back({offset_name(plan.prefix), Dtype::kBF16, params, 0, 0});
  if (plan.g_idx) entries->push_back({perm_name(plan.prefix), Dtype::kI32, {plan.k}, 0, 0});
  (*metadata)[kMetadataPrefix + weight_name(plan.prefix)] = longest;
}

}  // namespace int4pack::checkpoint
