#include "matmul_check.h"

#include <cstring>

#include "acl/acl.h"
#include "aclnnop/aclnn_weight_quant_batch_matmul_v2.h"

namespace int4pack::tool {
namespace {

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

// The weight's descriptor: the (k, n) view (INT32: k or n over 8) of the stored packed matrix.
bool make_weight(const checkpoint::PackedRecord &r, const checkpoint::ConvertedTensors &t, DeviceTensor *w) {
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

std::string cann_matmul(const checkpoint::PackedRecord &r, const checkpoint::ConvertedTensors &t,
                        const std::vector<uint16_t> &x, int64_t rows, std::vector<uint16_t> *y) {
  const int64_t k = r.layer.weight_shape[0], n = r.layer.weight_shape[1];
  const bool bf16 = r.layer.act_dtype == checkpoint::Dtype::kBF16;
  if (stream() == nullptr) return last_error("aclInit / aclrtSetDevice / aclrtCreateStream", -1);
  const aclDataType act = bf16 ? ACL_BF16 : ACL_FLOAT16;
  const size_t param_bytes = 2 * static_cast<size_t>(t.param_shape.size() == 1 ? n : t.param_shape[0] * n);
  DeviceTensor xt, wt, st, ot, yt;
  if (!xt.make(x.data(), x.size() * 2, act, {rows, k}, row_major({rows, k}), ACL_FORMAT_ND, {rows, k}) ||
      !make_weight(r, t, &wt) ||
      !st.make(t.scale, param_bytes, act, t.param_shape, row_major(t.param_shape), ACL_FORMAT_ND, t.param_shape) ||
      (t.offset != nullptr &&
       !ot.make(t.offset, param_bytes, act, t.param_shape, row_major(t.param_shape), ACL_FORMAT_ND, t.param_shape)) ||
      !yt.make(nullptr, static_cast<size_t>(rows * n) * 2, act, {rows, n}, row_major({rows, n}), ACL_FORMAT_ND,
               {rows, n})) {
    return last_error("describing the layer's tensors", -1);
  }
  uint64_t workspace_size = 0;
  aclOpExecutor *executor = nullptr;
  int status = aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(xt.get(), wt.get(), st.get(), ot.get(), nullptr, nullptr,
                                                             nullptr, static_cast<int>(r.layer.group_size), yt.get(),
                                                             &workspace_size, &executor);
  if (status != ACL_SUCCESS) return last_error("aclnnWeightQuantBatchMatmulV2GetWorkspaceSize", status);
  void *workspace = nullptr;
  if (workspace_size > 0 && aclrtMalloc(&workspace, workspace_size, ACL_MEM_MALLOC_HUGE_FIRST) != ACL_SUCCESS) {
    return last_error("aclrtMalloc (workspace)", -1);
  }
  status = aclnnWeightQuantBatchMatmulV2(workspace, workspace_size, executor, stream());
  if (status == ACL_SUCCESS) status = aclrtSynchronizeStream(stream());
  if (workspace != nullptr) aclrtFree(workspace);
  if (status != ACL_SUCCESS) return last_error("aclnnWeightQuantBatchMatmulV2", status);
  y->resize(static_cast<size_t>(rows * n));
  status = aclrtMemcpy(y->data(), y->size() * 2, yt.memory(), y->size() * 2, ACL_MEMCPY_DEVICE_TO_HOST);
  return status == ACL_SUCCESS ? "" : last_error("aclrtMemcpy", status);
}

}  // namespace int4pack::tool
