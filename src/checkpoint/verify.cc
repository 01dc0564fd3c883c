#include "checkpoint/verify.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "checkpoint/checkpoint.h"
#include "checkpoint/int4_tensors.h"
#include "checkpoint/original_layer.h"
#include "checkpoint/quant_output.h"
#include "core/floats.h"

namespace int4pack::checkpoint {
namespace {

struct Located {
  const SafetensorsFile *file;
  const TensorEntry *tensor;
};

// A layer converted from a quantizer's checkpoint, as the packed checkpoint holds it.
struct PackedLayer {
  Located weight;
  PackedRecord record;
  std::string record_text;
};

class BytesSink : public Sink {
 public:
  void write(const void *data, size_t bytes) override {
    const auto *p = static_cast<const uint8_t *>(data);
    bytes_.insert(bytes_.end(), p, p + bytes);
  }
  const std::vector<uint8_t> &bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

const std::string *record_text(const SafetensorsFile &file, const TensorEntry &t) {
  auto it = file.metadata().find(kMetadataPrefix + t.name);
  return it == file.metadata().end() ? nullptr : &it->second;
}

class Checks {
 public:
  void report(const std::string &name, const std::string &status, const std::string &detail, double ratio = -1) {
    VerifyEntry e{name, status, detail, ratio};
    if (!e.good()) ++report_.failures;
    report_.entries.push_back(std::move(e));
  }
  VerifyReport &result() { return report_; }

 private:
  VerifyReport report_;
};

// `a` and `b` (an output tensor re-derived) hold the same tensor: "" or how they differ.
std::string same_tensor(const Located &a, const OutputTensor &b) {
  if (a.tensor->dtype != b.dtype || a.tensor->shape != b.shape) {
    return std::string(dtype_name(a.tensor->dtype)) + " " + shape_text(a.tensor->shape) + " instead of " +
           dtype_name(b.dtype) + " " + shape_text(b.shape);
  }
  BytesSink sink;
  b.write(sink);
  const uint64_t first = first_difference(*a.file, *a.tensor, sink.bytes().data());
  return first == a.tensor->bytes() ? "" : "first differing byte at offset " + std::to_string(first);
}

ConvertedTensors tensors_of(const PackedLayer &l, const std::map<std::string, Located> &in_packed) {
  const auto data = [](const Located &at) {
    at.file->prefetch(*at.tensor);
    return at.file->data(*at.tensor);
  };
  ConvertedTensors t;
  t.weight = data(l.weight);
  t.weight_bytes = l.weight.tensor->bytes();
  t.weight_storage = l.weight.tensor->shape;
  const Located &scale = in_packed.at(l.record.layer.scale);
  t.scale = data(scale);
  t.param_shape = scale.tensor->shape;
  if (!l.record.layer.offset.empty()) t.offset = data(in_packed.at(l.record.layer.offset));
  if (!l.record.layer.perm.empty()) t.perm = data(in_packed.at(l.record.layer.perm));
  return t;
}

uint16_t to_act(double v, bool bf16) {
  return bf16 ? float_to_bfloat16(static_cast<float>(v)) : float_to_half(static_cast<float>(v));
}
double from_act(uint16_t h, bool bf16) { return bf16 ? bfloat16_to_float(h) : half_to_float(h); }

// The converted layer multiplied by a seeded x, against the original's dequantization.
void check_matmul(const std::string &prefix, const OriginalLayer &original, const PackedLayer &l,
                  const ConvertedTensors &t, const LayerMatmul &matmul, Checks *checks) {
  const int64_t k = original.k(), n = original.n(), rows = kMatmulRows;
  const bool bf16 = l.record.layer.act_dtype == Dtype::kBF16;
  std::vector<double> x(static_cast<size_t>(rows * k));
  uint64_t state = std::hash<std::string>{}(prefix)*0x9E3779B97F4A7C15ull + 1;
  for (double &v : x) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    v = from_act(to_act(static_cast<double>(state >> 11) / 9007199254740992.0 * 2.0 - 1.0, bf16), bf16);
  }
  std::vector<uint16_t> x_act(x.size());  // columns in the weight's order: x[:, perm]
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      int32_t from = static_cast<int32_t>(c);
      if (t.perm != nullptr) std::memcpy(&from, t.perm + 4 * c, 4);
      x_act[static_cast<size_t>(i * k + c)] = to_act(x[static_cast<size_t>(i * k + from)], bf16);
    }
  }
  std::vector<uint16_t> y(static_cast<size_t>(rows * n));
  const std::string failure = matmul(l.record, t, x_act, rows, &y);
  if (!failure.empty()) {
    checks->report(prefix, "MATMUL", failure);
    return;
  }
  const double u = bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  const double accumulation = 1.02 * static_cast<double>(k) * std::ldexp(1.0, -24);
  std::vector<double> ref(y.size(), 0.0), size(y.size(), 0.0);
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t j = 0; j < n; ++j) {
      double magnitude = 0;
      const double w = original.weight(c, j, &magnitude);
      for (int64_t i = 0; i < rows; ++i) {
        const double xv = x[static_cast<size_t>(i * k + c)];
        ref[static_cast<size_t>(i * n + j)] += xv * w;
        size[static_cast<size_t>(i * n + j)] += std::fabs(xv) * magnitude;
      }
    }
  }
  double worst = -1, error_at = 0, tolerance_at = 0;
  for (size_t e = 0; e < ref.size(); ++e) {
    const double tolerance = (3.2 * u + accumulation) * size[e] + u * std::fabs(ref[e]) + std::ldexp(1.0, -24);
    const double got = from_act(y[e], bf16);
    const double error = std::isfinite(got) ? std::fabs(got - ref[e]) : INFINITY;
    if (!(error / tolerance <= worst)) {
      worst = error / tolerance;
      error_at = error;
      tolerance_at = tolerance;
    }
  }
  char detail[256];
  std::snprintf(detail, sizeof detail,
                "max |y - y_ref| / tolerance = %.3g (|y - y_ref| = %.3g, tolerance %.3g; %lld x %lld x %lld)", worst,
                error_at, tolerance_at, static_cast<long long>(rows), static_cast<long long>(k),
                static_cast<long long>(n));
  checks->report(prefix, worst <= 1.0 ? "matmul ok" : "MATMUL", detail, worst);
}

// A converted layer re-derived from the original and compared tensor by tensor, then (with `matmul`)
// multiplied. Returns the names it covered in the packed checkpoint.
std::set<std::string> verify_layer(const std::string &prefix, const PackedLayer &l, const QuantLayerPlan *plan,
                                   const std::map<std::string, Located> &in_packed, const LayerMatmul *matmul,
                                   Checks *checks) {
  const std::string name = weight_name(prefix);
  std::set<std::string> covered{name};
  if (plan == nullptr) {
    checks->report(
        name, "MISMATCH",
        "the original has no " + std::string(source_format_name(l.record.layer.source)) + " layer '" + prefix + "'");
    return covered;
  }
  LayerOptions o;
  o.layout = l.record.options.layout;
  o.int32_words = l.record.options.int32_words;
  o.act_dtype = l.record.layer.act_dtype;
  ConvertedLayer c;
  std::vector<std::string> problems;
  if (!convert_layer(*plan, o, &c, &problems)) {
    checks->report(name, "MISMATCH", "the original layer cannot be converted as recorded: " + problems[0]);
    return covered;
  }
  if (encode_record(c.record) != l.record_text) {
    checks->report(name, "MISMATCH", "its record is not the one the original gives: " + encode_record(c.record));
    return covered;
  }
  if (c.storage.bytes != l.weight.tensor->bytes()) {
    checks->report(name, "MISMATCH",
                   std::to_string(l.weight.tensor->bytes()) + " bytes instead of " + std::to_string(c.storage.bytes));
    return covered;
  }
  const uint64_t first = first_difference(*l.weight.file, *l.weight.tensor, c.weight);
  if (first != c.storage.bytes) {
    checks->report(name, "MISMATCH", "first differing byte at offset " + std::to_string(first));
    return covered;
  }
  checks->report(name, "packed ok", "re-derived and identical");
  for (const OutputTensor &p : c.params) {
    covered.insert(p.name);
    auto it = in_packed.find(p.name);
    if (it == in_packed.end()) {
      checks->report(p.name, "MISSING", "the packed checkpoint lacks it");
      continue;
    }
    const std::string differs = same_tensor(it->second, p);
    checks->report(p.name, differs.empty() ? "ok" : "MISMATCH", differs);
  }
  if (matmul != nullptr) check_matmul(prefix, OriginalLayer(*plan), l, tensors_of(l, in_packed), *matmul, checks);
  return covered;
}

// A tensor of the original that is not part of a converted layer, against its namesake in the packed
// checkpoint: a carrier re-packed as its record says, anything else byte for byte.
void verify_tensor(const SafetensorsFile &shard, const TensorEntry &t, const Located &at, Checks *checks,
                   uint64_t *packed_count) {
  const SafetensorsFile &pf = *at.file;
  const TensorEntry &pt = *at.tensor;
  uint64_t first = 0;
  const std::string *text = record_text(pf, pt);
  if (text != nullptr) {
    const PackedRecord r = decode_record(pf.path() + ": tensor '" + pt.name + "'", *text);
    if (r.original_dtype != t.dtype || r.original_shape != t.shape) {
      checks->report(t.name, "MISMATCH",
                     std::string("record says ") + dtype_name(r.original_dtype) + " " + shape_text(r.original_shape) +
                         ", the original is " + dtype_name(t.dtype) + " " + shape_text(t.shape));
      return;
    }
    // Both sides are read with pread, the original once: checked and re-packed chunk by chunk.
    const std::vector<std::string> problems = check_tensor(shard, t, r.options, true);
    const uint8_t *expected = problems.empty() ? pack_if_in_range(shard, t, r.options) : nullptr;
    if (expected == nullptr) {
      checks->report(t.name, "MISMATCH",
                     "the original cannot be packed as recorded: " +
                         (problems.empty() ? "a value lies outside the int4 range" : problems[0]));
      return;
    }
    const uint64_t expected_bytes = packed_storage({r.view_shape[0], r.view_shape[1]}, r.options).bytes;
    if (expected_bytes != pt.bytes()) {
      checks->report(t.name, "MISMATCH",
                     std::to_string(pt.bytes()) + " bytes instead of " + std::to_string(expected_bytes));
      return;
    }
    first = first_difference(pf, pt, expected);
    ++*packed_count;
  } else {
    if (pt.dtype != t.dtype || pt.shape != t.shape) {
      checks->report(t.name, "MISMATCH",
                     std::string(dtype_name(pt.dtype)) + " " + shape_text(pt.shape) + " instead of " +
                         dtype_name(t.dtype) + " " + shape_text(t.shape));
      return;
    }
    first = first_difference(shard, t, pf, pt);
  }
  if (first != pt.bytes()) {
    checks->report(t.name, "MISMATCH", "first differing byte at offset " + std::to_string(first));
    return;
  }
  checks->report(t.name, text != nullptr ? "packed ok" : "ok", text != nullptr ? "re-derived and identical" : "");
}

}  // namespace

VerifyReport verify_checkpoint(const std::string &original_path, const std::string &packed_path,
                               const LayerMatmul *matmul, Observer &observer) {
  const Checkpoint original = open_checkpoint(original_path);
  const Checkpoint packed = open_checkpoint(packed_path);
  std::map<std::string, Located> in_packed;
  std::map<std::string, PackedLayer> layers;  // by prefix P
  std::set<std::string> consumed;             // the original tensors the layers replace
  for (const auto &shard : packed.shards) {
    for (const TensorEntry &t : shard->tensors()) {
      in_packed[t.name] = {shard.get(), &t};
      const std::string *text = record_text(*shard, t);
      if (text == nullptr) continue;
      PackedRecord r = decode_record(shard->path() + ": tensor '" + t.name + "'", *text);
      if (!r.quantized()) continue;
      for (const std::string &s : r.layer.source_tensors) consumed.insert(s);
      layers[t.name.substr(0, t.name.size() - std::string(".weight").size())] = {
          {shard.get(), &t}, std::move(r), *text};
    }
  }
  if (layers.empty() && matmul != nullptr) {
    throw UsageError(packed_path +
                     " holds no layer converted from a quantizer's checkpoint; the matmul check is for those");
  }
  Checks checks;
  uint64_t packed_count = 0;
  std::set<std::string> seen;
  if (!layers.empty()) {
    const QuantConfig config = read_quant_config(original_path, layers.begin()->second.record.layer.source);
    const LayerSearch search = find_quant_layers(original, config);
    for (const std::string &p : search.problems) checks.report(original_path, "ORIGINAL", p);
    std::map<std::string, const QuantLayerPlan *> plans;
    for (const QuantLayerPlan &p : search.layers) plans[p.prefix] = &p;
    for (const auto &[prefix, layer] : layers) {
      observer.check();
      auto it = plans.find(prefix);
      const std::set<std::string> covered =
          verify_layer(prefix, layer, it == plans.end() ? nullptr : it->second, in_packed, matmul, &checks);
      seen.insert(covered.begin(), covered.end());
      ++packed_count;
    }
  }
  for (const auto &shard : original.shards) {
    for (const TensorEntry &t : shard->tensors()) {
      observer.check();
      if (consumed.count(t.name)) continue;  // checked through its layer
      seen.insert(t.name);
      auto it = in_packed.find(t.name);
      if (it == in_packed.end()) {
        checks.report(t.name, "MISSING", "not in " + packed_path);
        continue;
      }
      verify_tensor(*shard, t, it->second, &checks, &packed_count);
    }
  }
  for (const auto &[name, where] : in_packed) {
    if (!seen.count(name)) checks.report(name, "EXTRA", "not in " + original_path);
  }
  checks.result().packed_checked = packed_count;
  return std::move(checks.result());
}

}  // namespace int4pack::checkpoint
