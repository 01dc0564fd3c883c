#include "matmul_check.h"

#include <cmath>
#include <cstring>

#include "acl/acl.h"
#include "aclnnop/aclnn_weight_quant_batch_matmul_v2.h"
#include "core/floats.h"

namespace int4pack::tool {
namespace {

constexpr int64_t kRows = 4;

std::string last_error(const char *what, int status) {
  const char *msg = aclGetRecentErrMsg();
  return std::string(what) + " returned " + std::to_string(status) +
         (msg != nullptr && *msg ? ": " + std::string(msg) : "");
}

// The runtime, opened once for the process.
aclrtStream stream() {
  static aclrtStream s = [] {
    aclrtStream made = nullptr;
    if (aclInit(nullptr) != ACL_SUCCESS || aclrtSetDevice(0) != ACL_SUCCESS ||
        aclrtCreateStream(&made) != ACL_SUCCESS) {
      return static_cast<aclrtStream>(nullptr);
    }
    return made;
  }();
  return s;
}

// Device memory holding a copy of host bytes, and a tensor over it; released at the end of the scope.
class DeviceTensor {
 public:
  DeviceTensor() = default;
  DeviceTensor(const DeviceTensor &) = delete;
  DeviceTensor &operator=(const DeviceTensor &) = delete;
  ~DeviceTensor() {
    if (tensor_ != nullptr) aclDestroyTensor(tensor_);
    if (memory_ != nullptr) aclrtFree(memory_);
  }
  // view/strides/storage in elements of `dtype`; bytes copied from host (or zeroed when host is null).
  bool make(const void *host, size_t bytes, aclDataType dtype, const std::vector<int64_t> &view,
            const std::vector<int64_t> &strides, aclFormat format, const std::vector<int64_t> &storage) {
    if (aclrtMalloc(&memory_, bytes, ACL_MEM_MALLOC_HUGE_FIRST) != ACL_SUCCESS) return false;
    if (host != nullptr && aclrtMemcpy(memory_, bytes, host, bytes, ACL_MEMCPY_HOST_TO_DEVICE) != ACL_SUCCESS)
      return false;
    if (host == nullptr && aclrtMemset(memory_, bytes, 0, bytes) != ACL_SUCCESS) return false;
    tensor_ = aclCreateTensor(view.data(), view.size(), dtype, strides.data(), 0, format, storage.data(),
                              storage.size(), memory_);
    return tensor_ != nullptr;
  }
  aclTensor *get() const { return tensor_; }
  void *memory() const { return memory_; }

 private:
  void *memory_ = nullptr;
  aclTensor *tensor_ = nullptr;
};

std::vector<int64_t> row_major(const std::vector<int64_t> &dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

uint16_t to_act(double v, bool bf16) {
  return bf16 ? float_to_bfloat16(static_cast<float>(v)) : float_to_half(static_cast<float>(v));
}
double from_act(uint16_t h, bool bf16) { return bf16 ? bfloat16_to_float(h) : half_to_float(h); }

// The weight's descriptor: the (k, n) view (INT32: k or n over 8) of the stored packed matrix.
bool make_weight(const checkpoint::PackedRecord &r, const ConvertedTensors &t, DeviceTensor *w) {
  const int64_t k = r.layer.weight_shape[0], n = r.layer.weight_shape[1];
  const bool words = r.options.int32_words, nz = r.options.layout == Layout::kNz, tr = r.options.transpose;
  const int64_t v = words ? 8 : 1;
  const std::vector<int64_t> view = tr ? std::vector<int64_t>{k / v, n} : std::vector<int64_t>{k, n / v};
  const std::vector<int64_t> strides = tr ? std::vector<int64_t>{1, k / v} : std::vector<int64_t>{n / v, 1};
  std::vector<int64_t> storage = t.weight_storage;  // U8 bytes: two int4 each
  if (!words) storage.back() *= 2;
  return w->make(t.weight, t.weight_bytes, words ? ACL_INT32 : ACL_INT4, view, strides,
                 nz ? ACL_FORMAT_FRACTAL_NZ : ACL_FORMAT_ND, storage);
}

}  // namespace

MatmulCheck check_matmul(const checkpoint::OriginalLayer &original, const checkpoint::PackedRecord &r,
                         const ConvertedTensors &t, uint64_t seed) {
  MatmulCheck out;
  out.rows = kRows;
  const int64_t k = original.k(), n = original.n();
  const bool bf16 = r.layer.act_dtype == checkpoint::Dtype::kBF16;
  if (stream() == nullptr) {
    out.failure = last_error("aclInit / aclrtSetDevice / aclrtCreateStream", -1);
    return out;
  }
  // x, uniform in [-1, 1] and exact in the act dtype; the operator takes its columns in the weight's order.
  std::vector<double> x(static_cast<size_t>(kRows * k));
  std::vector<uint16_t> x_act(x.size());
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < x.size(); ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
    const uint16_t h = to_act(u, bf16);
    x[i] = from_act(h, bf16);
  }
  for (int64_t i = 0; i < kRows; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      int32_t from = static_cast<int32_t>(c);
      if (t.perm != nullptr) std::memcpy(&from, t.perm + 4 * c, 4);
      x_act[static_cast<size_t>(i * k + c)] = to_act(x[static_cast<size_t>(i * k + from)], bf16);
    }
  }
  const aclDataType act = bf16 ? ACL_BF16 : ACL_FLOAT16;
  const size_t param_bytes = 2 * static_cast<size_t>(t.param_shape.size() == 1 ? n : t.param_shape[0] * n);
  DeviceTensor xt, wt, st, ot, yt;
  if (!xt.make(x_act.data(), x_act.size() * 2, act, {kRows, k}, row_major({kRows, k}), ACL_FORMAT_ND, {kRows, k}) ||
      !make_weight(r, t, &wt) ||
      !st.make(t.scale, param_bytes, act, t.param_shape, row_major(t.param_shape), ACL_FORMAT_ND, t.param_shape) ||
      (t.offset != nullptr &&
       !ot.make(t.offset, param_bytes, act, t.param_shape, row_major(t.param_shape), ACL_FORMAT_ND, t.param_shape)) ||
      !yt.make(nullptr, static_cast<size_t>(kRows * n) * 2, act, {kRows, n}, row_major({kRows, n}), ACL_FORMAT_ND,
               {kRows, n})) {
    out.failure = last_error("describing the layer's tensors", -1);
    return out;
  }
  uint64_t workspace_size = 0;
  aclOpExecutor *executor = nullptr;
  int status = aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(xt.get(), wt.get(), st.get(), ot.get(), nullptr, nullptr,
                                                             nullptr, static_cast<int>(r.layer.group_size), yt.get(),
                                                             &workspace_size, &executor);
  if (status != ACL_SUCCESS) {
    out.failure = last_error("aclnnWeightQuantBatchMatmulV2GetWorkspaceSize", status);
    return out;
  }
  void *workspace = nullptr;
  if (workspace_size > 0 && aclrtMalloc(&workspace, workspace_size, ACL_MEM_MALLOC_HUGE_FIRST) != ACL_SUCCESS) {
    out.failure = last_error("aclrtMalloc (workspace)", -1);
    return out;
  }
  status = aclnnWeightQuantBatchMatmulV2(workspace, workspace_size, executor, stream());
  if (status == ACL_SUCCESS) status = aclrtSynchronizeStream(stream());
  if (workspace != nullptr) aclrtFree(workspace);
  if (status != ACL_SUCCESS) {
    out.failure = last_error("aclnnWeightQuantBatchMatmulV2", status);
    return out;
  }
  std::vector<uint16_t> y(static_cast<size_t>(kRows * n));
  aclrtMemcpy(y.data(), y.size() * 2, yt.memory(), y.size() * 2, ACL_MEMCPY_DEVICE_TO_HOST);

  const double u = bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  const double accumulation = 1.02 * static_cast<double>(k) * std::ldexp(1.0, -24);
  std::vector<double> ref(static_cast<size_t>(kRows * n), 0.0), size(ref.size(), 0.0);
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t j = 0; j < n; ++j) {
      double magnitude = 0;
      const double w = original.weight(c, j, &magnitude);
      for (int64_t i = 0; i < kRows; ++i) {
        const double xv = x[static_cast<size_t>(i * k + c)];
        ref[static_cast<size_t>(i * n + j)] += xv * w;
        size[static_cast<size_t>(i * n + j)] += std::fabs(xv) * magnitude;
      }
    }
  }
  out.worst_ratio = -1;
  for (size_t e = 0; e < ref.size(); ++e) {
    const double tolerance = (3.2 * u + accumulation) * size[e] + u * std::fabs(ref[e]) + std::ldexp(1.0, -24);
    const double got = from_act(y[e], bf16);
    const double error = std::isfinite(got) ? std::fabs(got - ref[e]) : INFINITY;
    if (error / tolerance > out.worst_ratio) {
      out.worst_ratio = error / tolerance;
      out.error = error;
      out.tolerance = tolerance;
    }
  }
  return out;
}

}  // namespace int4pack::tool
