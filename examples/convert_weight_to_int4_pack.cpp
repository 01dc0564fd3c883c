// A CANN program, written exactly as one is written for Ascend: initialise, create a stream, copy the
// INT32 weight to device memory, describe tensors, run the two phases of aclnnConvertWeightToINT4Pack,
// synchronise, copy back and print the packed bytes. It compiles against int4pack's installed headers
// and libraries unchanged:
//   c++ convert_weight_to_int4_pack.cpp -I $ASCEND_PATH/include -L $ASCEND_PATH/lib64 -lascendcl -lnnopbase -lopapi_nn
#include <cstdio>
#include <vector>

#include "acl/acl.h"
#include "aclnnop/aclnn_convert_weight_to_int4_pack.h"

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

static std::vector<int64_t> Strides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; i--) strides[i] = shape[i + 1] * strides[i + 1];
  return strides;
}

static void PrintError(const char *what, int ret) {
  const char *msg = aclGetRecentErrMsg();
  LOG_PRINT("%s failed. ERROR: %d (%s)\n", what, ret, msg != nullptr ? msg : "no message");
}

// Packs `weight` (dim0 x dim1) into `outDtype`/`outFormat` and returns the output's bytes.
static int Pack(aclrtStream stream, const std::vector<int32_t> &weight, int64_t dim0, int64_t dim1,
                aclDataType outDtype, aclFormat outFormat, std::vector<uint8_t> *packed) {
  std::vector<int64_t> weightShape = {dim0, dim1};
  std::vector<int64_t> outShape = {dim0, outDtype == ACL_INT4 ? dim1 : dim1 / 8};
  std::vector<int64_t> outStorage = outShape;
  if (outFormat == ACL_FORMAT_FRACTAL_NZ) {
    outStorage = {CEIL_DIV(dim1, 64), CEIL_DIV(dim0, 16), 16, outDtype == ACL_INT4 ? 64 : 8};
  }
  size_t weightBytes = weight.size() * sizeof(int32_t);
  size_t outBytes = outDtype == ACL_INT4 ? GetShapeSize(outStorage) / 2 : GetShapeSize(outStorage) * 4;

  void *weightDevice = nullptr;
  void *outDevice = nullptr;
  auto ret = aclrtMalloc(&weightDevice, weightBytes, ACL_MEM_MALLOC_HUGE_FIRST);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMalloc", ret); return ret);
  ret = aclrtMalloc(&outDevice, outBytes, ACL_MEM_MALLOC_HUGE_FIRST);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMalloc", ret); return ret);
  ret = aclrtMemcpy(weightDevice, weightBytes, weight.data(), weightBytes, ACL_MEMCPY_HOST_TO_DEVICE);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMemcpy", ret); return ret);

  std::vector<int64_t> weightStrides = Strides(weightShape);
  std::vector<int64_t> outStrides = Strides(outShape);
  aclTensor *weightTensor = aclCreateTensor(weightShape.data(), weightShape.size(), ACL_INT32, weightStrides.data(), 0,
                                            ACL_FORMAT_ND, weightShape.data(), weightShape.size(), weightDevice);
  aclTensor *outTensor = aclCreateTensor(outShape.data(), outShape.size(), outDtype, outStrides.data(), 0, outFormat,
                                         outStorage.data(), outStorage.size(), outDevice);

  uint64_t workspaceSize = 0;
  aclOpExecutor *executor = nullptr;
  ret = aclnnConvertWeightToINT4PackGetWorkspaceSize(weightTensor, outTensor, &workspaceSize, &executor);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclnnConvertWeightToINT4PackGetWorkspaceSize", ret); return ret);
  void *workspace = nullptr;
  if (workspaceSize > 0) {
    ret = aclrtMalloc(&workspace, workspaceSize, ACL_MEM_MALLOC_HUGE_FIRST);
    CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMalloc", ret); return ret);
  }
  ret = aclnnConvertWeightToINT4Pack(workspace, workspaceSize, executor, stream);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclnnConvertWeightToINT4Pack", ret); return ret);
  ret = aclrtSynchronizeStream(stream);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtSynchronizeStream", ret); return ret);

  packed->assign(outBytes, 0);
  ret = aclrtMemcpy(packed->data(), packed->size(), outDevice, outBytes, ACL_MEMCPY_DEVICE_TO_HOST);
  CHECK_RET(ret == ACL_SUCCESS, PrintError("aclrtMemcpy", ret); return ret);

  aclDestroyTensor(weightTensor);
  aclDestroyTensor(outTensor);
  if (workspace != nullptr) aclrtFree(workspace);
  aclrtFree(weightDevice);
  aclrtFree(outDevice);
  return ACL_SUCCESS;
}

static void PrintBytes(const char *label, const std::vector<uint8_t> &bytes, size_t count) {
  LOG_PRINT("%-28s", label);
  for (size_t i = 0; i < count && i < bytes.size(); ++i) LOG_PRINT(" %02X", bytes[i]);
  LOG_PRINT("\n");
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

  // The spec's worked example: weight (2, 8).
  const std::vector<int32_t> weight = {1, -2, 3, -4, 5, -6, 7, -8, 0, 1, 2, 3, 4, 5, 6, 7};
  LOG_PRINT("weight (2, 8): [[1,-2,3,-4,5,-6,7,-8],[0,1,2,3,4,5,6,7]]\n");
  std::vector<uint8_t> packed;
  CHECK_RET(Pack(stream, weight, 2, 8, ACL_INT4, ACL_FORMAT_ND, &packed) == ACL_SUCCESS, return 1);
  PrintBytes("INT4 ND (2, 8):", packed, packed.size());
  CHECK_RET(Pack(stream, weight, 2, 8, ACL_INT32, ACL_FORMAT_ND, &packed) == ACL_SUCCESS, return 1);
  LOG_PRINT("%-28s 0x%02X%02X%02X%02X 0x%02X%02X%02X%02X\n", "INT32 ND (2, 1) words:", packed[3], packed[2], packed[1],
            packed[0], packed[7], packed[6], packed[5], packed[4]);
  CHECK_RET(Pack(stream, weight, 2, 8, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, &packed) == ACL_SUCCESS, return 1);
  LOG_PRINT("INT4 FRACTAL_NZ (1,1,16,64): %zu bytes\n", packed.size());
  PrintBytes("  bytes 0-3:", packed, 4);
  PrintBytes("  bytes 32-35:", std::vector<uint8_t>(packed.begin() + 32, packed.end()), 4);
  size_t nonzero = 0;
  for (uint8_t b : packed) nonzero += b != 0;
  LOG_PRINT("  non-zero bytes: %zu\n", nonzero);

  // CANN's sample scenario: k = 72, n = 17, weight stored transposed as (17, 72), all ones, packed to NZ.
  std::vector<int32_t> ones(17 * 72, 1);
  CHECK_RET(Pack(stream, ones, 17, 72, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, &packed) == ACL_SUCCESS, return 1);
  size_t elevens = 0;
  size_t zeros = 0;
  for (uint8_t b : packed) {
    elevens += b == 0x11;
    zeros += b == 0x00;
  }
  LOG_PRINT("weight (17, 72) of ones -> INT4 FRACTAL_NZ (2,2,16,64): %zu bytes, %zu of 0x11, %zu of 0x00\n",
            packed.size(), elevens, zeros);

  aclrtDestroyStream(stream);
  aclrtResetDevice(deviceId);
  aclFinalize();
  return 0;
}
