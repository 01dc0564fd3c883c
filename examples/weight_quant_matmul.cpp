// The W4A16 flow of a CANN program, written as one is written for Ascend: the FLOAT x and scale are cast
// to FLOAT16 with aclnnCast, the INT32 weight (one int4 value per element) is packed with
// aclnnConvertWeightToINT4Pack, aclnnWeightQuantBatchMatmulV2 multiplies, and aclnnCast turns y back
// into FLOAT. x, the weight and the scale are all ones, so every y must equal k. Two variants:
//   ND  the (k, n) weight packed to INT4 ND, per-channel scale (n,)
//   NZ  the weight kept transposed as (n, k), packed to INT4 FRACTAL_NZ, then relabelled with
//       aclInitTensor as the transposed (k, n) view the matmul takes (strides (1, k))
// It compiles against int4pack's installed headers and libraries with CANN's example build line:
//   g++ weight_quant_matmul.cpp -I $P/include -I $P/include/aclnnop -L $P/lib64
//       -lopapi_nn -lopapi_math -lascendcl -lnnopbase   (one line)
// Exits 0 when both variants give y == k everywhere.
#include <cstdio>
#include <vector>

#include "acl/acl.h"
#include "aclnn_cast.h"  // CANN's samples also include it without the folder (hence -I .../aclnnop)
#include "aclnnop/aclnn_convert_weight_to_int4_pack.h"
#include "aclnnop/aclnn_weight_quant_batch_matmul_v2.h"

#define CHECK_RET(cond, return_expr) \
  do {                               \
    if (!(cond)) {                   \
      return_expr;                   \
    }                                \
  } while (0)

#define LOG_PRINT(message, ...)     \
  do {                              \
    printf(message, ##__VA_ARGS__); \
  } while (0)

#define CEIL_DIV(x, y) ((((x) + (y)) - 1) / (y))

static int64_t GetShapeSize(const std::vector<int64_t> &shape) {
  int64_t size = 1;
  for (int64_t d : shape) size *= d;
  return size;
}

static void PrintError(const char *what, int ret) {
  const char *msg = aclGetRecentErrMsg();
  LOG_PRINT("%s failed. ERROR: %d (%s)\n", what, ret, msg != nullptr ? msg : "no message");
}

// Device memory and the tensor describing it; both released when it goes out of scope.
struct DeviceTensor {
  void *device = nullptr;
  aclTensor *tensor = nullptr;
  DeviceTensor() = default;
  DeviceTensor(const DeviceTensor &) = delete;
  DeviceTensor &operator=(const DeviceTensor &) = delete;
  ~DeviceTensor() {
    aclrtSynchronizeDevice();  // on an early return, work queued on this memory may still be running
    if (tensor != nullptr) aclDestroyTensor(tensor);
    if (device != nullptr) aclrtFree(device);
  }
};

// A contiguous ND tensor of `shape` over `bytes` bytes of device memory, filled from `host` when given.
static int CreateTensor(const void *host, size_t bytes, const std::vector<int64_t> &shape, aclDataType dtype,
                        DeviceTensor *out) {
  auto ret = aclrtMalloc(&out->device, bytes, ACL_MEM_MALLOC_HUGE_FIRST);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMalloc", ret); return ret);
  if (host != nullptr) {
    ret = aclrtMemcpy(out->device, bytes, host, bytes, ACL_MEMCPY_HOST_TO_DEVICE);
    CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMemcpy", ret); return ret);
  }
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; i--) strides[i] = shape[i + 1] * strides[i + 1];
  out->tensor = aclCreateTensor(shape.data(), shape.size(), dtype, strides.data(), 0, ACL_FORMAT_ND, shape.data(),
                                shape.size(), out->device);
  CHECK_RET(out->tensor != nullptr, PrintError("aclCreateTensor", -1); return -1);
  return ACL_SUCCESS;
}

// Runs phase 2 of an operator with the workspace phase 1 asked for.
static int Launch(const char *name, aclnnStatus (*op)(void *, uint64_t, aclOpExecutor *, aclrtStream),
                  uint64_t workspaceSize, aclOpExecutor *executor, aclrtStream stream) {
  void *workspace = nullptr;
  if (workspaceSize > 0) {
    auto ret = aclrtMalloc(&workspace, workspaceSize, ACL_MEM_MALLOC_HUGE_FIRST);
    CHECK_RET(ret == ACL_SUCCESS, PrintError("allocate workspace", ret); return ret);
  }
  auto ret = op(workspace, workspaceSize, executor, stream);
  if (ret != ACL_SUCCESS) PrintError(name, ret);
  // Stream order: the work above completes before the workspace is freed.
  if (workspace != nullptr) {
    aclrtSynchronizeStream(stream);
    aclrtFree(workspace);
  }
  return ret;
}

static int Cast(const aclTensor *self, aclDataType dtype, aclTensor *out, aclrtStream stream) {
  uint64_t workspaceSize = 0;
  aclOpExecutor *executor = nullptr;
  auto ret = aclnnCastGetWorkspaceSize(self, dtype, out, &workspaceSize, &executor);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclnnCastGetWorkspaceSize", ret); return ret);
  return Launch("aclnnCast", aclnnCast, workspaceSize, executor, stream);
}

// One variant: y = x @ ANTIQUANT(weight) for all-ones operands; returns 0 when every y equals k.
static int RunVariant(aclrtStream stream, bool nz) {
  const int64_t m = 16;
  const int64_t k = 72;
  const int64_t n = nz ? 17 : 16;
  const char *name = nz ? "NZ, transposed (n, k) weight" : "ND, (k, n) weight";

  // The INT32 weight as it is stored: (k, n), or (n, k) for the transposed variant.
  std::vector<int64_t> storedShape = nz ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n};
  std::vector<int32_t> weightHost(k * n, 1);
  DeviceTensor weight;
  auto ret = CreateTensor(weightHost.data(), weightHost.size() * sizeof(int32_t), storedShape, ACL_INT32, &weight);
  CHECK_RET(ret == ACL_SUCCESS, return ret);

  // The packed INT4 weight: ND (k, n), or FRACTAL_NZ blocks of the stored (n, k) matrix.
  DeviceTensor packed;
  std::vector<int64_t> packedStorage = storedShape;
  if (nz) packedStorage = {CEIL_DIV(k, 64), CEIL_DIV(n, 16), 16, 64};
  const size_t packedBytes = GetShapeSize(packedStorage) / 2;
  ret = aclrtMalloc(&packed.device, packedBytes, ACL_MEM_MALLOC_HUGE_FIRST);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMalloc", ret); return ret);
  std::vector<int64_t> packedStrides = {storedShape[1], 1};
  packed.tensor = aclCreateTensor(storedShape.data(), storedShape.size(), ACL_INT4, packedStrides.data(), 0,
                                  nz ? ACL_FORMAT_FRACTAL_NZ : ACL_FORMAT_ND, packedStorage.data(),
                                  packedStorage.size(), packed.device);
  CHECK_RET(packed.tensor != nullptr, PrintError("aclCreateTensor", -1); return -1);

  uint64_t workspaceSize = 0;
  aclOpExecutor *executor = nullptr;
  ret = aclnnConvertWeightToINT4PackGetWorkspaceSize(weight.tensor, packed.tensor, &workspaceSize, &executor);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclnnConvertWeightToINT4PackGetWorkspaceSize", ret); return ret);
  ret = Launch("aclnnConvertWeightToINT4Pack", aclnnConvertWeightToINT4Pack, workspaceSize, executor, stream);
  CHECK_RET(ret == ACL_SUCCESS, return ret);

  if (nz) {
    // The matmul takes the (k, n) view of the stored (n, k) matrix: strides (1, k), same storage.
    std::vector<int64_t> view = {k, n};
    std::vector<int64_t> strides = {1, k};
    ret = aclInitTensor(packed.tensor, view.data(), view.size(), ACL_INT4, strides.data(), 0, ACL_FORMAT_FRACTAL_NZ,
                        packedStorage.data(), packedStorage.size(), packed.device);
    CHECK_RET(ret == ACL_SUCCESS, PrintError("aclInitTensor", ret); return ret);
  }

  // x and the per-channel scale as FLOAT, cast to FLOAT16 (the matmul wants the scale in x's dtype).
  std::vector<float> xHost(m * k, 1.0f);
  std::vector<float> scaleHost(n, 1.0f);
  DeviceTensor x, xFp16, scale, scaleFp16, yFp16, y;
  ret = CreateTensor(xHost.data(), xHost.size() * sizeof(float), {m, k}, ACL_FLOAT, &x);
  CHECK_RET(ret == ACL_SUCCESS, return ret);
  ret = CreateTensor(nullptr, m * k * 2, {m, k}, ACL_FLOAT16, &xFp16);
  CHECK_RET(ret == ACL_SUCCESS, return ret);
  ret = CreateTensor(scaleHost.data(), scaleHost.size() * sizeof(float), {n}, ACL_FLOAT, &scale);
  CHECK_RET(ret == ACL_SUCCESS, return ret);
  ret = CreateTensor(nullptr, n * 2, {n}, ACL_FLOAT16, &scaleFp16);
  CHECK_RET(ret == ACL_SUCCESS, return ret);
  ret = CreateTensor(nullptr, m * n * 2, {m, n}, ACL_FLOAT16, &yFp16);
  CHECK_RET(ret == ACL_SUCCESS, return ret);
  ret = CreateTensor(nullptr, m * n * sizeof(float), {m, n}, ACL_FLOAT, &y);
  CHECK_RET(ret == ACL_SUCCESS, return ret);
  ret = Cast(x.tensor, ACL_FLOAT16, xFp16.tensor, stream);
  CHECK_RET(ret == ACL_SUCCESS, return ret);
  ret = Cast(scale.tensor, ACL_FLOAT16, scaleFp16.tensor, stream);
  CHECK_RET(ret == ACL_SUCCESS, return ret);

  // Per-channel antiquant (group size 0), no offset, no bias, FLOAT16 y.
  ret = aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(xFp16.tensor, packed.tensor, scaleFp16.tensor, nullptr, nullptr,
                                                      nullptr, nullptr, 0, yFp16.tensor, &workspaceSize, &executor);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclnnWeightQuantBatchMatmulV2GetWorkspaceSize", ret); return ret);
  ret = Launch("aclnnWeightQuantBatchMatmulV2", aclnnWeightQuantBatchMatmulV2, workspaceSize, executor, stream);
  CHECK_RET(ret == ACL_SUCCESS, return ret);
  ret = Cast(yFp16.tensor, ACL_FLOAT, y.tensor, stream);
  CHECK_RET(ret == ACL_SUCCESS, return ret);

  ret = aclrtSynchronizeStream(stream);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtSynchronizeStream", ret); return ret);
  std::vector<float> result(m * n, 0.0f);
  ret = aclrtMemcpy(result.data(), result.size() * sizeof(float), y.device, result.size() * sizeof(float),
                    ACL_MEMCPY_DEVICE_TO_HOST);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMemcpy", ret); return ret);
  int64_t wrong = 0;
  for (int64_t i = 0; i < m * n; i++) {
    if (result[i] != static_cast<float>(k)) {
      if (wrong++ < 4)
        LOG_PRINT("  y[%ld][%ld] is %f, expected %ld\n", (long)(i / n), (long)(i % n), result[i], (long)k);
    }
  }
  LOG_PRINT("%s: m = %ld, k = %ld, n = %ld, y[0][0] = %.1f, y[%ld][%ld] = %.1f\n", name, (long)m, (long)k, (long)n,
            result[0], (long)(m - 1), (long)(n - 1), result[m * n - 1]);
  if (wrong != 0) {
    LOG_PRINT("%s: %ld of %ld y values differ from k\n", name, (long)wrong, (long)(m * n));
    return 1;
  }
  LOG_PRINT("%s: every y equals k (%ld values)\n", name, (long)(m * n));
  return 0;
}

int main() {
  int32_t deviceId = 0;
  aclrtStream stream = nullptr;
  auto ret = aclInit(nullptr);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclInit", ret); return 1);
  ret = aclrtSetDevice(deviceId);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtSetDevice", ret); return 1);
  ret = aclrtCreateStream(&stream);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtCreateStream", ret); return 1);

  int failed = 0;
  failed += RunVariant(stream, false) != 0;
  failed += RunVariant(stream, true) != 0;

  aclrtDestroyStream(stream);
  aclrtResetDevice(deviceId);
  aclFinalize();
  return failed == 0 ? 0 : 1;
}
