// Helpers for tests that use the C API the way a CANN program does.
#ifndef INT4PACK_TESTS_API_TEST_SUPPORT_H_
#define INT4PACK_TESTS_API_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "aclnnop/aclnn_convert_weight_to_int4_pack.h"
#include "aclnnop/aclnn_int4_pack_to_weight.h"
#include "int4pack/settings.h"

namespace int4pack::testing {

// aclGetRecentErrMsg() as a std::string ("" when there is none). Reading clears it.
inline std::string recent_error() {
  const char *m = aclGetRecentErrMsg();
  return m != nullptr ? std::string(m) : std::string();
}

// True when `message` contains every one of `words` (and says what is missing otherwise).
inline ::testing::AssertionResult Mentions(const std::string &message, std::initializer_list<const char *> words) {
  if (message.empty()) return ::testing::AssertionFailure() << "no error message was recorded";
  for (const char *w : words) {
    if (message.find(w) == std::string::npos) {
      return ::testing::AssertionFailure() << "message \"" << message << "\" does not mention \"" << w << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

// Device memory from aclrtMalloc, released on scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    EXPECT_EQ(aclrtMalloc(&ptr_, bytes == 0 ? 1 : bytes, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  }
  ~DeviceBuffer() {
    if (ptr_ != nullptr) aclrtFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  void *get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  void fill(uint8_t value) { std::memset(ptr_, value, bytes_); }
  template <typename T>
  void upload(const std::vector<T> &host) {
    ASSERT_EQ(aclrtMemcpy(ptr_, bytes_, host.data(), host.size() * sizeof(T), ACL_MEMCPY_HOST_TO_DEVICE), ACL_SUCCESS);
  }
  template <typename T>
  std::vector<T> download() const {
    std::vector<T> host(bytes_ / sizeof(T));
    EXPECT_EQ(
        aclrtMemcpy(host.data(), host.size() * sizeof(T), ptr_, host.size() * sizeof(T), ACL_MEMCPY_DEVICE_TO_HOST),
        ACL_SUCCESS);
    return host;
  }

 private:
  void *ptr_ = nullptr;
  size_t bytes_;
};

// Row-major strides, as CANN's samples compute them.
inline std::vector<int64_t> contiguous(const std::vector<int64_t> &dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

// aclTensor owned by the test.
class Tensor {
 public:
  Tensor(const std::vector<int64_t> &view, aclDataType dtype, aclFormat format, void *data,
         std::vector<int64_t> storage = {}, std::vector<int64_t> strides = {}, int64_t offset = 0) {
    if (storage.empty()) storage = view;
    if (strides.empty()) strides = contiguous(view);
    t_ = aclCreateTensor(view.data(), view.size(), dtype, strides.data(), offset, format, storage.data(),
                         storage.size(), data);
    EXPECT_NE(t_, nullptr);
  }
  ~Tensor() { aclDestroyTensor(t_); }
  Tensor(const Tensor &) = delete;
  Tensor &operator=(const Tensor &) = delete;
  aclTensor *get() const { return t_; }

 private:
  aclTensor *t_ = nullptr;
};

// Storage shape CANN expects for the packed output.
inline std::vector<int64_t> packed_storage(int64_t dim0, int64_t dim1, aclDataType dtype, aclFormat format) {
  if (format == ACL_FORMAT_ND) return {dim0, dtype == ACL_INT4 ? dim1 : dim1 / 8};
  return {(dim1 + 63) / 64, (dim0 + 15) / 16, 16, dtype == ACL_INT4 ? 64 : 8};
}

inline std::vector<int64_t> packed_view(int64_t dim0, int64_t dim1, aclDataType dtype) {
  return {dim0, dtype == ACL_INT4 ? dim1 : dim1 / 8};
}

// Bytes of the packed output for a storage shape.
inline size_t storage_bytes(const std::vector<int64_t> &storage, aclDataType dtype) {
  int64_t n = 1;
  for (int64_t d : storage) n *= d;
  return dtype == ACL_INT4 ? static_cast<size_t>(n) / 2 : static_cast<size_t>(n) * 4;
}

// Random int4 values in [-8, 7] in int32 carriers.
inline std::vector<int32_t> random_weight(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> dist(-8, 7);
  std::vector<int32_t> w(static_cast<size_t>(rows * cols));
  for (auto &v : w) v = dist(gen);
  return w;
}

// Phase 1 + phase 2 + synchronize on `stream`; returns the first failing status.
inline aclnnStatus convert(const aclTensor *weight, aclTensor *out, aclrtStream stream) {
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  aclnnStatus s = aclnnConvertWeightToINT4PackGetWorkspaceSize(weight, out, &workspace, &executor);
  if (s != ACLNN_SUCCESS) return s;
  s = aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream);
  if (s != ACLNN_SUCCESS) return s;
  return aclrtSynchronizeStream(stream);
}

inline aclnnStatus unpack(const aclTensor *packed, aclTensor *weight, aclrtStream stream) {
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  aclnnStatus s = aclnnInt4PackToWeightGetWorkspaceSize(packed, weight, &workspace, &executor);
  if (s != ACLNN_SUCCESS) return s;
  s = aclnnInt4PackToWeight(nullptr, workspace, executor, stream);
  if (s != ACLNN_SUCCESS) return s;
  return aclrtSynchronizeStream(stream);
}

// Each test gets an initialised library, device 0 and a stream; everything is torn down after it.
class AclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A run forced onto an ISA this CPU lacks has nothing to test beyond the refusal itself.
    const char *forced = std::getenv("INT4PACK_ISA");
    if (forced != nullptr && int4packGetIsa() == nullptr &&
        std::string(aclGetRecentErrMsg()).find("does not support") != std::string::npos) {
      GTEST_SKIP() << "INT4PACK_ISA=" << forced << ": not supported by this CPU";
    }
    ASSERT_EQ(aclInit(nullptr), ACL_SUCCESS);
    ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    ASSERT_EQ(aclrtCreateStream(&stream_), ACL_SUCCESS);
    aclGetRecentErrMsg();  // start each test with no pending message
  }
  void TearDown() override {
    if (stream_ == nullptr) return;  // skipped
    EXPECT_EQ(aclrtDestroyStream(stream_), ACL_SUCCESS);
    EXPECT_EQ(aclrtResetDevice(0), ACL_SUCCESS);
    EXPECT_EQ(aclFinalize(), ACL_SUCCESS);
  }
  aclrtStream stream_ = nullptr;
};

}  // namespace int4pack::testing

#endif  // INT4PACK_TESTS_API_TEST_SUPPORT_H_
