#include "matmul_reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/floats.h"

namespace int4pack::reference {
namespace {

float round_i(const GoldenMatmul &g, float v) { return g.bf16 ? round_to_bfloat16(v) : round_to_half(v); }

float at(const std::vector<float> &v, int64_t cols, int64_t i, int64_t j) {
  return v[static_cast<size_t>(i * cols + (cols == 1 ? 0 : j))];
}

}  // namespace

float antiquant(const GoldenMatmul &g, int64_t c, int64_t j) {
  const int64_t group = g.group_size > 0 ? c / g.group_size : 0;
  const float w = static_cast<float>(g.w[static_cast<size_t>(c * g.n + j)]);
  const bool has_offset = !g.offset.empty();
  const float offset = has_offset ? at(g.offset, g.scale_cols, group, j) : 0.0f;
  if (g.packed_scale) return has_offset ? w + offset : w;  // integers: exact
  const float s = at(g.scale, g.scale_cols, group, j);
  return has_offset ? round_i(g, round_i(g, w + offset) * s) : round_i(g, w * s);
}

GoldenResult golden_matmul(const GoldenMatmul &g) {
  GoldenResult r;
  const size_t outputs = static_cast<size_t>(g.m * g.n);
  r.value.resize(outputs);
  r.magnitude.resize(outputs);
  r.product.resize(outputs);
  std::vector<float> wq(static_cast<size_t>(g.k * g.n));
  for (int64_t c = 0; c < g.k; ++c) {
    for (int64_t j = 0; j < g.n; ++j) wq[static_cast<size_t>(c * g.n + j)] = antiquant(g, c, j);
  }
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t c = 0; c < g.k; ++c) {
        const double p =
            static_cast<double>(g.x[static_cast<size_t>(i * g.k + c)]) * wq[static_cast<size_t>(c * g.n + j)];
        sum += p;
        magnitude += std::fabs(p);
      }
      double v = sum;
      if (g.packed_scale) v *= at(g.scale, g.scale_cols, 0, j);
      if (!g.bias.empty()) v += g.bias[static_cast<size_t>(g.bias.size() == 1 ? 0 : j)];
      if (!g.quant_scale.empty()) {
        const size_t q = g.quant_scale.size() == 1 ? 0 : static_cast<size_t>(j);
        v = v * g.quant_scale[q] + (g.quant_offset.empty() ? 0.0 : g.quant_offset[q]);
      }
      const size_t o = static_cast<size_t>(i * g.n + j);
      r.value[o] = v;
      r.magnitude[o] = magnitude;
      r.product[o] = sum;
    }
  }
  return r;
}

double golden_bound(const GoldenMatmul &g, const GoldenResult &r, size_t o, int64_t j) {
  const double u = std::ldexp(1.0, -24);
  const double gamma = g.k * u / (1 - g.k * u);
  const double post = g.packed_scale ? at(g.scale, g.scale_cols, 0, j) : 1.0;
  double err = gamma * r.magnitude[o] * post + 2 * u * (std::fabs(r.product[o]) * post + std::fabs(r.value[o]));
  if (g.bf16) err += std::ldexp(std::fabs(r.product[o]) * post, -8);
  if (!g.quant_scale.empty()) {
    const double qs = g.quant_scale[g.quant_scale.size() == 1 ? 0 : static_cast<size_t>(j)];
    return err * qs + 2 * u * std::fabs(r.value[o]) + 0.5;
  }
  const double half_ulp = g.bf16 ? std::max(std::ldexp(std::fabs(r.value[o]), -8), std::ldexp(1.0, -134))
                                 : std::max(std::ldexp(std::fabs(r.value[o]), -11), std::ldexp(1.0, -25));
  return err + half_ulp;
}

double y_value(const GoldenMatmul &g, const void *y, size_t o) {
  const auto *bytes = static_cast<const uint8_t *>(y);
  if (!g.quant_scale.empty()) return static_cast<int8_t>(bytes[o]);
  uint16_t h;
  std::memcpy(&h, bytes + 2 * o, 2);
  return g.bf16 ? bfloat16_to_float(h) : half_to_float(h);
}

bool within_golden_bound(const GoldenMatmul &g, const void *y, std::string *why) {
  const GoldenResult r = golden_matmul(g);
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      const size_t o = static_cast<size_t>(i * g.n + j);
      double want = r.value[o];
      if (!g.quant_scale.empty()) want = std::min(127.0, std::max(-128.0, want));
      const double got = y_value(g, y, o);
      const double b = golden_bound(g, r, o, j);
      if (!(std::fabs(got - want) <= b)) {
        if (why != nullptr) {
          *why = "y[" + std::to_string(i) + "][" + std::to_string(j) + "] = " + std::to_string(got) + ", golden " +
                 std::to_string(want) + ", off by " + std::to_string(std::fabs(got - want)) + " > bound " +
                 std::to_string(b);
        }
        return false;
      }
    }
  }
  return true;
}

}  // namespace int4pack::reference
