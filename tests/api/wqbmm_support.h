// Building aclnnWeightQuantBatchMatmulV2 cases from logical values: each operand encoded the way a CANN
// program stores it (INT4 / INT32 / INT8 weights in ND or FRACTAL_NZ, plain or transposed; x, scale and
// offset plain or transposed), run through the C API, and compared with the golden reference
// (tests/reference) within a bound derived from float32 accumulation.
#ifndef INT4PACK_TESTS_API_WQBMM_SUPPORT_H_
#define INT4PACK_TESTS_API_WQBMM_SUPPORT_H_

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "aclnnop/aclnn_weight_quant_batch_matmul_v2.h"
#include "core/floats.h"
#include "core/layout.h"
#include "kernels/reference.h"
#include "matmul_reference.h"
#include "test_support.h"

namespace int4pack::testing {

enum class WeightDtype { kInt4, kInt32, kInt8 };

struct MatmulCase {
  int64_t m = 1, k = 64, n = 64;
  bool bf16 = false;
  WeightDtype weight = WeightDtype::kInt4;
  bool nz = false;
  bool x_transposed = false;
  bool weight_transposed = false;
  enum Mode { kPerTensor, kPerChannel, kPerGroup } mode = kPerChannel;
  int64_t group_size = 0;
  bool offset = false;
  bool bias = false;
  bool scale_2d = true;  // per-tensor / per-channel scale as (1, 1) / (1, n) rather than (1,) / (n,)
  bool int8_out = false;
  bool packed_scale = false;
  uint32_t seed = 1;

  std::string name() const {
    static const char *kWeight[] = {"int4", "int32", "int8"};
    static const char *kMode[] = {"tensor", "channel", "group"};
    return std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n) + (bf16 ? "_bf16_" : "_f16_") +
           kWeight[static_cast<int>(weight)] + (nz ? "_nz" : "_nd") + (x_transposed ? "_xT" : "") +
           (weight_transposed ? "_wT" : "") + "_" + kMode[mode] +
           (mode == kPerGroup ? std::to_string(group_size) : "") + (offset ? "_offset" : "") + (bias ? "_bias" : "") +
           (int8_out ? "_int8out" : "") + (packed_scale ? "_packed" : "");
  }
};

inline uint16_t to_bits(float v, bool bf16) { return bf16 ? float_to_bfloat16(v) : float_to_half(v); }
inline float round_to(float v, bool bf16) { return bf16 ? round_to_bfloat16(v) : round_to_half(v); }

// The logical operands of a case, drawn from its seed.
inline reference::GoldenMatmul draw(const MatmulCase &c) {
  std::mt19937 gen(c.seed);
  reference::GoldenMatmul g;
  g.m = c.m;
  g.k = c.k;
  g.n = c.n;
  g.bf16 = c.bf16;
  g.packed_scale = c.packed_scale;
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (int64_t i = 0; i < c.m * c.k; ++i) g.x.push_back(round_to(unit(gen), c.bf16));
  const bool int8 = c.weight == WeightDtype::kInt8;
  std::uniform_int_distribution<int32_t> values(int8 ? -128 : -8, int8 ? 127 : 7);
  for (int64_t i = 0; i < c.k * c.n; ++i) g.w.push_back(values(gen));
  g.group_size = c.mode == MatmulCase::kPerGroup ? c.group_size : 0;
  g.scale_rows = c.mode == MatmulCase::kPerGroup ? (c.k + c.group_size - 1) / c.group_size : 1;
  g.scale_cols = c.mode == MatmulCase::kPerTensor ? 1 : c.n;
  std::uniform_real_distribution<float> scales(0.001f, 0.03f);
  std::uniform_int_distribution<int32_t> offsets(int8 ? -20 : -4, int8 ? 20 : 4);
  for (int64_t i = 0; i < g.scale_rows * g.scale_cols; ++i) {
    g.scale.push_back(round_to_half(c.bf16 ? round_to_bfloat16(scales(gen)) : scales(gen)));
    if (c.offset) {
      // Offsets mostly whole (as zero points are), some with a fraction.
      const float o = static_cast<float>(offsets(gen)) + (i % 3 == 0 ? 0.5f : 0.0f);
      g.offset.push_back(c.packed_scale ? std::round(o) : round_to(o, c.bf16));
    }
  }
  if (c.bias) {
    for (int64_t j = 0; j < c.n; ++j) {
      const float b = unit(gen) * 0.5f;
      g.bias.push_back(c.bf16 ? b : round_to_half(b));  // FLOAT bias for bf16 x, FLOAT16 for f16 x
    }
  }
  if (c.int8_out) {
    std::uniform_real_distribution<float> qs(0.5f, 4.0f);
    for (int64_t j = 0; j < c.n; ++j) {
      g.quant_scale.push_back(bits_float(float_bits(qs(gen)) & 0xFFFFE000u));  // what a TransQuantParam word keeps
      g.quant_offset.push_back(std::round(unit(gen) * 3.0f));
    }
  }
  return g;
}

// The weight matrix (k x n) in the case's storage: bytes, view, strides, storage shape, format.
struct EncodedWeight {
  std::vector<uint8_t> bytes;
  std::vector<int64_t> view, strides, storage;
  aclDataType dtype;
  aclFormat format;
};

inline std::vector<int32_t> transposed(const std::vector<int32_t> &v, int64_t rows, int64_t cols) {
  std::vector<int32_t> t(v.size());
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) t[static_cast<size_t>(j * rows + i)] = v[static_cast<size_t>(i * cols + j)];
  }
  return t;
}

inline EncodedWeight encode_weight(const MatmulCase &c, const std::vector<int32_t> &w) {
  EncodedWeight e;
  const bool t = c.weight_transposed;
  const int64_t rows = t ? c.n : c.k;  // the stored matrix
  const int64_t cols = t ? c.k : c.n;
  const std::vector<int32_t> stored = t ? transposed(w, c.k, c.n) : w;
  e.format = c.nz ? ACL_FORMAT_FRACTAL_NZ : ACL_FORMAT_ND;
  if (c.weight == WeightDtype::kInt8) {
    e.dtype = ACL_INT8;
    if (!c.nz) {
      for (int32_t v : stored) e.bytes.push_back(static_cast<uint8_t>(v));
      e.storage = {rows, cols};
    } else {  // C0 = 32: element (i, j) at [j/32][i/16][i%16][j%32]
      const int64_t rb = (rows + 15) / 16, cb = (cols + 31) / 32;
      e.bytes.assign(static_cast<size_t>(cb * rb * 512), 0);
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          e.bytes[static_cast<size_t>(((j / 32) * rb + i / 16) * 512 + (i % 16) * 32 + j % 32)] =
              static_cast<uint8_t>(stored[static_cast<size_t>(i * cols + j)]);
        }
      }
      e.storage = {cb, rb, 16, 32};
    }
    e.view = {c.k, c.n};
    e.strides = t ? std::vector<int64_t>{1, c.k} : std::vector<int64_t>{c.n, 1};
    return e;
  }
  const PackedLayout layout = c.nz ? PackedLayout::kNz : PackedLayout::kNd;
  e.bytes.assign(packed_bytes({rows, cols}, layout), 0);
  reference::pack(stored.data(), {rows, cols}, layout, e.bytes.data());
  const bool words = c.weight == WeightDtype::kInt32;
  e.dtype = words ? ACL_INT32 : ACL_INT4;
  const int v = words ? 8 : 1;  // values per element
  if (!c.nz) {
    e.storage = {rows, cols / v};
  } else {
    const auto nz = nz_storage_shape({rows, cols}, v);
    e.storage.assign(nz.begin(), nz.end());
  }
  if (!t) {
    e.view = {c.k, c.n / v};
    e.strides = {c.n / v, 1};
  } else {
    e.view = {c.k / v, c.n};
    e.strides = {1, c.k / v};
  }
  return e;
}

// A float operand (rows x cols values) as x's type, FLOAT or FLOAT16 bits, plain or stored transposed.
inline std::vector<uint16_t> half_bits(const std::vector<float> &v, bool bf16) {
  std::vector<uint16_t> b;
  for (float f : v) b.push_back(to_bits(f, bf16));
  return b;
}

struct MatmulRun {
  aclnnStatus status = ACLNN_SUCCESS;
  std::string message;
  std::vector<uint8_t> y;  // m x n elements of y's type
};

// Runs the case through the C API on `stream`.
inline MatmulRun run_case(const MatmulCase &c, const reference::GoldenMatmul &g, aclrtStream stream) {
  MatmulRun run;
  const aclDataType xt = c.bf16 ? ACL_BF16 : ACL_FLOAT16;
  // x: (m, k), or stored (k, m) with strides (1, m).
  const std::vector<float> xs = c.x_transposed ? [&] {
    std::vector<float> t(g.x.size());
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.k; ++j) t[static_cast<size_t>(j * c.m + i)] = g.x[static_cast<size_t>(i * c.k + j)];
    }
    return t;
  }() : g.x;
  const auto x_bits = half_bits(xs, c.bf16);
  DeviceBuffer x_mem(x_bits.size() * 2);
  x_mem.upload(x_bits);
  Tensor x({c.m, c.k}, xt, ACL_FORMAT_ND, x_mem.get(),
           c.x_transposed ? std::vector<int64_t>{c.k, c.m} : std::vector<int64_t>{},
           c.x_transposed ? std::vector<int64_t>{1, c.m} : std::vector<int64_t>{});
  const EncodedWeight ew = encode_weight(c, g.w);
  DeviceBuffer w_mem(ew.bytes.size());
  w_mem.upload(ew.bytes);
  Tensor w(ew.view, ew.dtype, ew.format, w_mem.get(), ew.storage, ew.strides);
  // Scale and offset: (G, n) / (1, n) / (1, 1), or 1-D; stored transposed when the weight is (and 2-D, G > 1
  // or n > 1), as CANN allows then.
  const bool one_d = !c.scale_2d && c.mode != MatmulCase::kPerGroup;
  const std::vector<int64_t> sview =
      one_d ? std::vector<int64_t>{g.scale_cols} : std::vector<int64_t>{g.scale_rows, g.scale_cols};
  const bool s_transposed = c.weight_transposed && !one_d && g.scale_rows > 1 && g.scale_cols > 1;
  const auto operand_tensor = [&](const std::vector<float> &v, DeviceBuffer &mem, aclDataType dtype) {
    std::vector<float> stored = v;
    if (s_transposed) {
      for (int64_t i = 0; i < g.scale_rows; ++i) {
        for (int64_t j = 0; j < g.scale_cols; ++j) {
          stored[static_cast<size_t>(j * g.scale_rows + i)] = v[static_cast<size_t>(i * g.scale_cols + j)];
        }
      }
    }
    if (dtype == ACL_UINT64) {
      std::vector<uint64_t> words;
      for (float f : stored) words.push_back(float_bits(f) | (uint64_t{1} << 46));
      mem.upload(words);
    } else if (dtype == ACL_INT32) {
      std::vector<int32_t> ints;
      for (float f : stored) ints.push_back(static_cast<int32_t>(f));
      mem.upload(ints);
    } else {
      mem.upload(half_bits(stored, c.bf16));
    }
    return std::make_unique<Tensor>(
        sview, dtype, ACL_FORMAT_ND, mem.get(),
        s_transposed ? std::vector<int64_t>{g.scale_cols, g.scale_rows} : std::vector<int64_t>{},
        s_transposed ? std::vector<int64_t>{1, g.scale_rows} : std::vector<int64_t>{});
  };
  DeviceBuffer s_mem(g.scale.size() * 8), o_mem(std::max<size_t>(1, g.offset.size()) * 8);
  auto scale = operand_tensor(g.scale, s_mem, c.packed_scale ? ACL_UINT64 : xt);
  std::unique_ptr<Tensor> offset;
  if (c.offset) offset = operand_tensor(g.offset, o_mem, c.packed_scale ? ACL_INT32 : xt);
  // Bias (1, n): FLOAT16 for f16 x, FLOAT for bf16 x.
  DeviceBuffer b_mem(static_cast<size_t>(c.n) * 4);
  std::unique_ptr<Tensor> bias;
  if (c.bias) {
    if (c.bf16) {
      b_mem.upload(g.bias);
      bias = std::make_unique<Tensor>(std::vector<int64_t>{1, c.n}, ACL_FLOAT, ACL_FORMAT_ND, b_mem.get());
    } else {
      b_mem.upload(half_bits(g.bias, false));
      bias = std::make_unique<Tensor>(std::vector<int64_t>{1, c.n}, ACL_FLOAT16, ACL_FORMAT_ND, b_mem.get());
    }
  }
  DeviceBuffer qs_mem(static_cast<size_t>(c.n) * 8), qo_mem(static_cast<size_t>(c.n) * 4);
  std::unique_ptr<Tensor> qs, qo;
  if (c.int8_out) {
    std::vector<uint64_t> words;
    for (float f : g.quant_scale) words.push_back(float_bits(f) | (uint64_t{1} << 46));
    qs_mem.upload(words);
    qo_mem.upload(g.quant_offset);
    qs = std::make_unique<Tensor>(std::vector<int64_t>{1, c.n}, ACL_UINT64, ACL_FORMAT_ND, qs_mem.get());
    qo = std::make_unique<Tensor>(std::vector<int64_t>{1, c.n}, ACL_FLOAT, ACL_FORMAT_ND, qo_mem.get());
  }
  const size_t y_size = c.int8_out ? 1 : 2;
  DeviceBuffer y_mem(static_cast<size_t>(c.m * c.n) * y_size);
  y_mem.fill(0xA5);
  Tensor y({c.m, c.n}, c.int8_out ? ACL_INT8 : xt, ACL_FORMAT_ND, y_mem.get());
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  run.status = aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(
      x.get(), w.get(), scale->get(), offset ? offset->get() : nullptr, qs ? qs->get() : nullptr,
      qo ? qo->get() : nullptr, bias ? bias->get() : nullptr,
      static_cast<int>(c.mode == MatmulCase::kPerGroup ? c.group_size : 0), y.get(), &workspace, &executor);
  if (run.status != ACLNN_SUCCESS) {
    run.message = recent_error();
    return run;
  }
  DeviceBuffer ws(workspace);
  run.status = aclnnWeightQuantBatchMatmulV2(workspace > 0 ? ws.get() : nullptr, workspace, executor, stream);
  if (run.status == ACLNN_SUCCESS) run.status = aclrtSynchronizeStream(stream);
  if (run.status != ACLNN_SUCCESS) run.message = recent_error();
  run.y = y_mem.download<uint8_t>();
  return run;
}

inline double y_value(const MatmulCase &, const reference::GoldenMatmul &g, const std::vector<uint8_t> &y, size_t o) {
  return reference::y_value(g, y.data(), o);
}

// Every output within the golden bound (tests/reference/matmul_reference.h says how it is derived).
inline ::testing::AssertionResult within_bound(const MatmulCase &c, const reference::GoldenMatmul &g,
                                               const std::vector<uint8_t> &y) {
  std::string why;
  if (reference::within_golden_bound(g, y.data(), &why)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << c.name() << ": " << why;
}

}  // namespace int4pack::testing

#endif  // INT4PACK_TESTS_API_WQBMM_SUPPORT_H_
