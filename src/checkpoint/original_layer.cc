#include "checkpoint/original_layer.h"

#include <cmath>
#include <cstring>

#include "core/floats.h"

namespace int4pack::checkpoint {
namespace {

std::vector<uint8_t> read_all(const SourceTensor &t) {
  if (!t) return {};
  std::vector<uint8_t> out(t.entry->bytes());
  if (!out.empty() && !t.file->read(*t.entry, 0, out.data(), out.size())) throw t.file->read_error(*t.entry);
  return out;
}

// Bits 4i..4i+3 of the little-endian int32 at element `word` of `bytes`.
int unsigned_nibble(const std::vector<uint8_t> &bytes, int64_t word, int i) {
  uint32_t w;
  std::memcpy(&w, bytes.data() + 4 * word, 4);
  return static_cast<int>((w >> (4 * i)) & 15u);
}

double real_at(const std::vector<uint8_t> &bytes, Dtype d, int64_t i) {
  uint16_t h;
  float f;
  switch (d) {
    case Dtype::kF16:
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      return half_to_float(h);
    case Dtype::kBF16:
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      return bfloat16_to_float(h);
    default:
      std::memcpy(&f, bytes.data() + 4 * i, 4);
      return f;
  }
}

// AWQ's gemm packing puts column 8w + m of a word in nibble kAwqOrder^-1[m]: its order lists, for each
// nibble, the column it holds.
constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
int awq_nibble_of(int m) {
  for (int i = 0; i < 8; ++i) {
    if (kAwqOrder[i] == m) return i;
  }
  return 0;
}

}  // namespace

OriginalLayer::OriginalLayer(const QuantLayerPlan &plan)
    : plan_(plan),
      weight_(read_all(plan.weight)),
      scale_(read_all(plan.scale)),
      zeros_(read_all(plan.zeros)),
      g_idx_(read_all(plan.g_idx)) {}

int64_t OriginalLayer::group_of(int64_t c) const {
  if (g_idx_.empty()) return c / plan_.group_size;
  if (plan_.g_idx.entry->dtype == Dtype::kI64) {
    int64_t g;
    std::memcpy(&g, g_idx_.data() + 8 * c, 8);
    return g;
  }
  int32_t g;
  std::memcpy(&g, g_idx_.data() + 4 * c, 4);
  return g;
}

double OriginalLayer::weight(int64_t c, int64_t j, double *magnitude) const {
  const QuantLayerPlan &p = plan_;
  const int64_t g = group_of(c);
  const Dtype sd = p.scale.entry->dtype;
  double q = 0, z = 0, s = 0;  // the signed value and zero point, and the scale
  switch (p.format) {
    case SourceFormat::kCompressedTensors: {  // packed (n, k/8) along k; zero points (n/8, G) along n
      const int64_t words = (p.k + 7) / 8;
      q = unsigned_nibble(weight_, j * words + c / 8, static_cast<int>(c % 8)) - 8;
      z = zeros_.empty() ? 0 : unsigned_nibble(zeros_, (j / 8) * p.groups + g, static_cast<int>(j % 8)) - 8;
      s = real_at(scale_, sd, j * p.groups + g);
      break;
    }
    case SourceFormat::kGptq: {  // qweight (k/8, n) along k; qzeros (G, n/8) along n, v1 storing Zu - 1
      q = unsigned_nibble(weight_, (c / 8) * p.n + j, static_cast<int>(c % 8)) - 8;
      const int zu = zeros_.empty()
                         ? 8
                         : unsigned_nibble(zeros_, g * ((p.n + 7) / 8) + j / 8, static_cast<int>(j % 8)) + p.zero_bias;
      z = zu - 8;
      s = real_at(scale_, sd, g * p.n + j);
      break;
    }
    case SourceFormat::kAwq: {  // qweight (k, n/8) and qzeros (G, n/8), both in AWQ's order
      q = unsigned_nibble(weight_, c * (p.n / 8) + j / 8, awq_nibble_of(static_cast<int>(j % 8))) - 8;
      z = unsigned_nibble(zeros_, g * (p.n / 8) + j / 8, awq_nibble_of(static_cast<int>(j % 8))) - 8;
      s = real_at(scale_, sd, g * p.n + j);
      break;
    }
    default: {  // msModelSlim: int8 (n, k), or int4 pairs; weight_offset is the signed zero point
      int v = 0;
      if (p.slim == SlimLayout::kBytes) {
        v = static_cast<int8_t>(weight_[static_cast<size_t>(j * p.k + c)]);
      } else {
        const bool along_n = p.slim == SlimLayout::kPairsAlongN;
        const uint8_t b = weight_[static_cast<size_t>(along_n ? (j / 2) * p.k + c : j * (p.k / 2) + c / 2)];
        const int nib = (b >> (4 * (along_n ? j % 2 : c % 2))) & 15;
        v = nib < 8 ? nib : nib - 16;
      }
      q = v;
      z = zeros_.empty() ? 0 : real_at(zeros_, p.zeros.entry->dtype, j * p.groups + g);
      s = real_at(scale_, sd, j * p.groups + g);
      break;
    }
  }
  *magnitude = (std::fabs(q) + std::fabs(z)) * std::fabs(s);
  return (q - z) * s;
}

}  // namespace int4pack::checkpoint
