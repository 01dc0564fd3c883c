#include "test_support.h"

// Runtime API (acl.h / acl_rt.h / acl_base.h) as a CANN program calls it: init state machine, devices,
// memory, streams, events, the internal stream-work error path, data type sizes and binary16 conversions.

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <future>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/internal_api.h"

namespace int4pack::testing {
namespace {

using std::chrono::milliseconds;

// Enqueues work that sleeps, so that whatever is enqueued after it is certainly still queued for a while.
void enqueue_delay(aclrtStream stream, milliseconds delay) {
  ASSERT_EQ(runtime::enqueue("test", stream,
                             [delay]() -> aclError {
                               std::this_thread::sleep_for(delay);
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
}

// Fills `bytes` bytes at p with a pattern that depends on `seed` (and on the position).
void fill_pattern(void *p, size_t bytes, uint32_t seed) {
  auto *b = static_cast<uint8_t *>(p);
  uint32_t x = seed * 2654435761u + 1u;
  for (size_t i = 0; i < bytes; ++i) {
    x = x * 1664525u + 1013904223u;
    b[i] = static_cast<uint8_t>(x >> 24);
  }
}

// A fast fill for very large buffers: each 64-bit word holds its own index xor a seed.
void fill_words(void *p, size_t bytes, uint64_t seed) {
  auto *w = static_cast<uint64_t *>(p);
  for (size_t i = 0; i < bytes / 8; ++i) w[i] = i ^ seed;
}

constexpr size_t kLarge = size_t{64} << 20;  // 64 MiB

// ---------------------------------------------------------------------------------------------------------
// aclInit / aclFinalize and the recent-error message.

using RuntimeTest = AclTest;

TEST_F(RuntimeTest, SecondInitIsRefused) {
  EXPECT_EQ(aclInit(nullptr), ACL_ERROR_REPEAT_INITIALIZE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclInit", "already"}));
  EXPECT_EQ(aclInit("/nonexistent/config.json"), ACL_ERROR_REPEAT_INITIALIZE);
  EXPECT_FALSE(recent_error().empty());
}

TEST_F(RuntimeTest, FinalizeTwiceThenReinit) {
  aclrtStream old = stream_;
  ASSERT_EQ(aclFinalize(), ACL_SUCCESS);
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
  EXPECT_EQ(aclFinalize(), ACL_ERROR_REPEAT_FINALIZE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclFinalize", "already"}));

  // Finalizing destroyed the stream the fixture made: its handle is no longer live.
  EXPECT_EQ(aclrtSynchronizeStream(old), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_TRUE(Mentions(recent_error(), {"stream"}));

  // The process may initialise again, and everything works afterwards.
  ASSERT_EQ(aclInit(nullptr), ACL_SUCCESS);
  EXPECT_EQ(aclInit(nullptr), ACL_ERROR_REPEAT_INITIALIZE);
  recent_error();
  ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
  ASSERT_EQ(aclrtCreateStream(&stream_), ACL_SUCCESS);  // for TearDown
  DeviceBuffer src(64), dst(64);
  src.fill(0x5A);
  dst.fill(0);
  ASSERT_EQ(aclrtMemcpyAsync(dst.get(), 64, src.get(), 64, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(dst.download<uint8_t>(), std::vector<uint8_t>(64, 0x5A));
}

TEST_F(RuntimeTest, FinalizeFinishesQueuedWork) {
  DeviceBuffer src(4096), dst(4096);
  fill_pattern(src.get(), 4096, 7);
  dst.fill(0);
  enqueue_delay(stream_, milliseconds(50));
  ASSERT_EQ(aclrtMemcpyAsync(dst.get(), 4096, src.get(), 4096, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_SUCCESS);
  ASSERT_EQ(aclFinalize(), ACL_SUCCESS);
  EXPECT_EQ(std::memcmp(dst.get(), src.get(), 4096), 0);
  ASSERT_EQ(aclInit(nullptr), ACL_SUCCESS);
  ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
  ASSERT_EQ(aclrtCreateStream(&stream_), ACL_SUCCESS);  // for TearDown
}

TEST_F(RuntimeTest, RecentErrorIsNullWhenNoneAndClearedByReading) {
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
  EXPECT_EQ(aclrtSetDevice(5), ACL_ERROR_INVALID_DEVICE);
  const char *m = aclGetRecentErrMsg();
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(Mentions(m, {"aclrtSetDevice", "5"}));
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
  // A successful call leaves no message behind.
  uint32_t count = 0;
  EXPECT_EQ(aclrtGetDeviceCount(&count), ACL_SUCCESS);
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

TEST_F(RuntimeTest, RecentErrorIsPerThread) {
  EXPECT_EQ(aclrtSetDevice(3), ACL_ERROR_INVALID_DEVICE);
  std::string other_thread = "unset";
  std::thread t([&] { other_thread = recent_error(); });
  t.join();
  EXPECT_EQ(other_thread, "");
  EXPECT_TRUE(Mentions(recent_error(), {"device"}));
}

TEST_F(RuntimeTest, LaterErrorReplacesUnreadOne) {
  EXPECT_EQ(aclrtSetDevice(9), ACL_ERROR_INVALID_DEVICE);
  EXPECT_EQ(aclrtMemcpy(nullptr, 0, nullptr, 4, ACL_MEMCPY_HOST_TO_HOST), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemcpy"}));
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

// ---------------------------------------------------------------------------------------------------------
// Devices.

using DeviceTest = AclTest;

TEST_F(DeviceTest, SetValidAndInvalidDevice) {
  EXPECT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
  EXPECT_EQ(aclrtSetDevice(1), ACL_ERROR_INVALID_DEVICE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtSetDevice", "1"}));
  EXPECT_EQ(aclrtSetDevice(-1), ACL_ERROR_INVALID_DEVICE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtSetDevice", "-1"}));
  int32_t id = 42;
  ASSERT_EQ(aclrtGetDevice(&id), ACL_SUCCESS);
  EXPECT_EQ(id, 0);  // a refused set does not change the current device
}

TEST_F(DeviceTest, ResetInvalidDevice) {
  EXPECT_EQ(aclrtResetDevice(1), ACL_ERROR_INVALID_DEVICE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtResetDevice"}));
  EXPECT_EQ(aclrtResetDevice(-1), ACL_ERROR_INVALID_DEVICE);
  EXPECT_FALSE(recent_error().empty());
}

TEST_F(DeviceTest, CountIsOne) {
  uint32_t count = 0;
  ASSERT_EQ(aclrtGetDeviceCount(&count), ACL_SUCCESS);
  EXPECT_EQ(count, 1u);
}

TEST_F(DeviceTest, GetDeviceAfterSet) {
  int32_t id = -7;
  ASSERT_EQ(aclrtGetDevice(&id), ACL_SUCCESS);
  EXPECT_EQ(id, 0);
}

TEST_F(DeviceTest, GetDeviceOnThreadWithoutSetFails) {
  aclError status = ACL_SUCCESS;
  int32_t id = 99;
  std::string message;
  std::thread t([&] {
    status = aclrtGetDevice(&id);
    message = recent_error();
  });
  t.join();
  EXPECT_NE(status, ACL_SUCCESS);
  EXPECT_EQ(id, 99);  // untouched
  EXPECT_TRUE(Mentions(message, {"aclrtGetDevice"}));

  // The same thread after aclrtSetDevice(0) sees device 0.
  std::thread t2([&] {
    EXPECT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    status = aclrtGetDevice(&id);
  });
  t2.join();
  EXPECT_EQ(status, ACL_SUCCESS);
  EXPECT_EQ(id, 0);
}

TEST_F(DeviceTest, NullOutPointers) {
  EXPECT_EQ(aclrtGetDevice(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtGetDevice", "NULL"}));
  EXPECT_EQ(aclrtGetDeviceCount(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtGetDeviceCount", "NULL"}));
}

// aclrtSynchronizeDevice waits for every stream, including the default one.
TEST_F(DeviceTest, SynchronizeDeviceWaitsForAllStreams) {
  constexpr int kStreams = 3;
  std::vector<aclrtStream> streams(kStreams);
  for (auto &s : streams) ASSERT_EQ(aclrtCreateStream(&s), ACL_SUCCESS);
  std::atomic<int> finished{0};
  std::vector<aclrtStream> all = streams;
  all.push_back(stream_);
  all.push_back(nullptr);  // the default stream
  for (aclrtStream s : all) {
    ASSERT_EQ(runtime::enqueue("test", s,
                               [&finished]() -> aclError {
                                 std::this_thread::sleep_for(milliseconds(60));
                                 finished.fetch_add(1);
                                 return ACL_SUCCESS;
                               }),
              ACL_SUCCESS);
  }
  constexpr size_t kBytes = 1 << 20;
  DeviceBuffer src(kBytes), dst(kBytes);
  fill_pattern(src.get(), kBytes, 3);
  dst.fill(0);
  ASSERT_EQ(aclrtMemcpyAsync(dst.get(), kBytes, src.get(), kBytes, ACL_MEMCPY_DEVICE_TO_DEVICE, nullptr), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeDevice(), ACL_SUCCESS);
  EXPECT_EQ(finished.load(), static_cast<int>(all.size()));
  EXPECT_EQ(std::memcmp(dst.get(), src.get(), kBytes), 0);
  for (auto s : streams) EXPECT_EQ(aclrtDestroyStream(s), ACL_SUCCESS);
}

TEST_F(DeviceTest, SynchronizeDeviceReportsAStreamError) {
  ASSERT_EQ(runtime::enqueue("test", stream_, []() -> aclError { return ACL_ERROR_INTERNAL_ERROR; }), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeDevice(), ACL_ERROR_INTERNAL_ERROR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtSynchronizeDevice"}));
  EXPECT_EQ(aclrtSynchronizeDevice(), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
}

TEST_F(DeviceTest, ResetDeviceFinishesWorkAndDestroysStreams) {
  aclrtStream extra = nullptr;
  ASSERT_EQ(aclrtCreateStream(&extra), ACL_SUCCESS);
  DeviceBuffer src(4096), dst(4096);
  fill_pattern(src.get(), 4096, 11);
  dst.fill(0);
  enqueue_delay(extra, milliseconds(50));
  ASSERT_EQ(aclrtMemcpyAsync(dst.get(), 4096, src.get(), 4096, ACL_MEMCPY_DEVICE_TO_DEVICE, extra), ACL_SUCCESS);
  ASSERT_EQ(aclrtResetDevice(0), ACL_SUCCESS);
  EXPECT_EQ(std::memcmp(dst.get(), src.get(), 4096), 0);
  EXPECT_EQ(aclrtDestroyStream(extra), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_FALSE(recent_error().empty());
  // Set up again for TearDown.
  ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
  ASSERT_EQ(aclrtCreateStream(&stream_), ACL_SUCCESS);
}

// ---------------------------------------------------------------------------------------------------------
// Memory.

using MemoryTest = AclTest;

TEST_F(MemoryTest, MallocAlignmentAndUse) {
  for (size_t size :
       {size_t{1}, size_t{3}, size_t{31}, size_t{32}, size_t{33}, size_t{100}, size_t{4096}, size_t{1} << 20}) {
    for (aclrtMemMallocPolicy policy :
         {ACL_MEM_MALLOC_HUGE_FIRST, ACL_MEM_MALLOC_HUGE_ONLY, ACL_MEM_MALLOC_NORMAL_ONLY,
          ACL_MEM_MALLOC_HUGE_FIRST_P2P, ACL_MEM_MALLOC_HUGE_ONLY_P2P, ACL_MEM_MALLOC_NORMAL_ONLY_P2P}) {
      void *p = nullptr;
      ASSERT_EQ(aclrtMalloc(&p, size, policy), ACL_SUCCESS) << size << " " << policy;
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 32, 0u);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);  // our documented choice
      std::memset(p, 0xCD, size);                          // the whole block is usable
      EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
    }
  }
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

TEST_F(MemoryTest, MallocRefusesBadArguments) {
  void *p = reinterpret_cast<void *>(0x1);
  EXPECT_EQ(aclrtMalloc(&p, 0, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMalloc", "size"}));
  EXPECT_EQ(aclrtMalloc(nullptr, 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMalloc", "NULL"}));
  EXPECT_EQ(aclrtMalloc(&p, 64, static_cast<aclrtMemMallocPolicy>(7)), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMalloc", "policy"}));
  EXPECT_EQ(aclrtMalloc(&p, 64, static_cast<aclrtMemMallocPolicy>(6)), ACL_ERROR_INVALID_PARAM);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtMalloc(&p, SIZE_MAX, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_BAD_ALLOC);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMalloc"}));
  EXPECT_EQ(aclrtMalloc(&p, SIZE_MAX - 16, ACL_MEM_MALLOC_NORMAL_ONLY), ACL_ERROR_BAD_ALLOC);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(p, reinterpret_cast<void *>(0x1));  // never written on failure
}

TEST_F(MemoryTest, FreeRefusesForeignAndFreedPointers) {
  int on_stack = 0;
  EXPECT_EQ(aclrtFree(&on_stack), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtFree"}));
  EXPECT_EQ(aclrtFree(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtFree", "NULL"}));

  void *p = nullptr;
  ASSERT_EQ(aclrtMalloc(&p, 128, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(static_cast<char *>(p) + 64), ACL_ERROR_INVALID_PARAM);  // interior pointer
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtFreeHost(p), ACL_ERROR_INVALID_PARAM);  // device block is not a host block
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtFreeHost"}));
  ASSERT_EQ(aclrtFree(p), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(p), ACL_ERROR_INVALID_PARAM);  // twice
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtFree"}));
}

TEST_F(MemoryTest, MallocHostAndFreeHost) {
  void *p = nullptr;
  ASSERT_EQ(aclrtMallocHost(&p, 100), ACL_SUCCESS);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 32, 0u);
  std::memset(p, 0x11, 100);
  EXPECT_EQ(aclrtFree(p), ACL_ERROR_INVALID_PARAM);  // host block is not a device block
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtFree"}));
  ASSERT_EQ(aclrtFreeHost(p), ACL_SUCCESS);
  EXPECT_EQ(aclrtFreeHost(p), ACL_ERROR_INVALID_PARAM);  // twice
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtFreeHost"}));

  int on_stack = 0;
  EXPECT_EQ(aclrtFreeHost(&on_stack), ACL_ERROR_INVALID_PARAM);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtFreeHost(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtMallocHost(&p, 0), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMallocHost", "size"}));
  EXPECT_EQ(aclrtMallocHost(nullptr, 16), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMallocHost"}));
  EXPECT_EQ(aclrtMallocHost(&p, SIZE_MAX), ACL_ERROR_BAD_ALLOC);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMallocHost"}));
}

TEST_F(MemoryTest, MemcpyRefusesBadArguments) {
  DeviceBuffer a(64), b(64);
  EXPECT_EQ(aclrtMemcpy(a.get(), 32, b.get(), 33, ACL_MEMCPY_DEVICE_TO_DEVICE), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemcpy", "destMax"}));
  EXPECT_EQ(aclrtMemcpy(nullptr, 64, b.get(), 16, ACL_MEMCPY_DEVICE_TO_DEVICE), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemcpy", "dst"}));
  EXPECT_EQ(aclrtMemcpy(a.get(), 64, nullptr, 16, ACL_MEMCPY_DEVICE_TO_DEVICE), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemcpy", "src"}));
  EXPECT_EQ(aclrtMemcpy(a.get(), 64, b.get(), 16, static_cast<aclrtMemcpyKind>(7)), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemcpy", "kind"}));
  EXPECT_EQ(aclrtMemcpy(a.get(), 64, b.get(), 16, static_cast<aclrtMemcpyKind>(5)), ACL_ERROR_INVALID_PARAM);
  EXPECT_FALSE(recent_error().empty());
}

TEST_F(MemoryTest, MemcpyOfNothingSucceedsEvenWithNulls) {
  EXPECT_EQ(aclrtMemcpy(nullptr, 0, nullptr, 0, ACL_MEMCPY_HOST_TO_HOST), ACL_SUCCESS);
  EXPECT_EQ(aclrtMemcpy(nullptr, 16, nullptr, 0, ACL_MEMCPY_DEVICE_TO_DEVICE), ACL_SUCCESS);
  EXPECT_EQ(aclrtMemcpyAsync(nullptr, 0, nullptr, 0, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

TEST_F(MemoryTest, MemcpyCopiesByteForByte) {
  constexpr size_t kBytes = 4099;
  std::vector<uint8_t> host(kBytes);
  fill_pattern(host.data(), kBytes, 1);
  DeviceBuffer dev(kBytes);
  dev.fill(0);
  for (aclrtMemcpyKind kind : {ACL_MEMCPY_HOST_TO_HOST, ACL_MEMCPY_HOST_TO_DEVICE, ACL_MEMCPY_DEVICE_TO_HOST,
                               ACL_MEMCPY_DEVICE_TO_DEVICE, ACL_MEMCPY_DEFAULT}) {
    std::memset(dev.get(), 0, kBytes);
    ASSERT_EQ(aclrtMemcpy(dev.get(), kBytes, host.data(), kBytes, kind), ACL_SUCCESS) << kind;
    EXPECT_EQ(std::memcmp(dev.get(), host.data(), kBytes), 0) << kind;
  }
  // count < destMax copies exactly count bytes.
  std::vector<uint8_t> back(kBytes, 0xEE);
  ASSERT_EQ(aclrtMemcpy(back.data(), kBytes, dev.get(), 100, ACL_MEMCPY_DEVICE_TO_HOST), ACL_SUCCESS);
  EXPECT_EQ(std::memcmp(back.data(), host.data(), 100), 0);
  for (size_t i = 100; i < kBytes; ++i) ASSERT_EQ(back[i], 0xEE) << i;
}

TEST_F(MemoryTest, MemcpyAsyncRefusesBadArgumentsAtOnce) {
  DeviceBuffer a(64), b(64);
  EXPECT_EQ(aclrtMemcpyAsync(a.get(), 8, b.get(), 9, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemcpyAsync", "destMax"}));
  EXPECT_EQ(aclrtMemcpyAsync(nullptr, 64, b.get(), 9, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_ERROR_INVALID_PARAM);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtMemcpyAsync(a.get(), 64, nullptr, 9, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_ERROR_INVALID_PARAM);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtMemcpyAsync(a.get(), 64, b.get(), 9, static_cast<aclrtMemcpyKind>(7), stream_),
            ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"kind"}));
  // Nothing failing was queued: the stream synchronizes cleanly.
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
}

TEST_F(MemoryTest, MemsetRefusesBadArguments) {
  DeviceBuffer a(64);
  EXPECT_EQ(aclrtMemset(a.get(), 32, 0, 33), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemset", "maxCount"}));
  EXPECT_EQ(aclrtMemset(nullptr, 32, 0, 16), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemset", "NULL"}));
}

TEST_F(MemoryTest, MemsetSetsExactlyCountBytes) {
  constexpr size_t kBytes = 256;
  DeviceBuffer a(kBytes);
  a.fill(0x00);
  ASSERT_EQ(aclrtMemset(a.get(), kBytes, 0xAB, 100), ACL_SUCCESS);
  auto bytes = a.download<uint8_t>();
  for (size_t i = 0; i < kBytes; ++i) ASSERT_EQ(bytes[i], i < 100 ? 0xAB : 0x00) << i;
  // The value is taken as (uint8_t)value.
  ASSERT_EQ(aclrtMemset(a.get(), kBytes, 0x1CD, kBytes), ACL_SUCCESS);
  EXPECT_EQ(a.download<uint8_t>(), std::vector<uint8_t>(kBytes, 0xCD));
  ASSERT_EQ(aclrtMemset(a.get(), kBytes, 0, 0), ACL_SUCCESS);
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

// ---------------------------------------------------------------------------------------------------------
// Streams.

using StreamTest = AclTest;

TEST_F(StreamTest, CreateAndDestroy) {
  std::vector<aclrtStream> streams(4, nullptr);
  for (auto &s : streams) {
    ASSERT_EQ(aclrtCreateStream(&s), ACL_SUCCESS);
    EXPECT_NE(s, nullptr);
  }
  for (size_t i = 0; i < streams.size(); ++i)
    for (size_t j = i + 1; j < streams.size(); ++j) EXPECT_NE(streams[i], streams[j]);
  for (auto s : streams) EXPECT_EQ(aclrtSynchronizeStream(s), ACL_SUCCESS);
  for (auto s : streams) EXPECT_EQ(aclrtDestroyStream(s), ACL_SUCCESS);
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

TEST_F(StreamTest, CreateWithNullOutPointer) {
  EXPECT_EQ(aclrtCreateStream(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtCreateStream", "NULL"}));
}

TEST_F(StreamTest, DestroyNull) {
  EXPECT_EQ(aclrtDestroyStream(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtDestroyStream", "NULL"}));
  // The default stream is still usable afterwards.
  EXPECT_EQ(aclrtSynchronizeStream(nullptr), ACL_SUCCESS);
}

TEST_F(StreamTest, DestroyTwiceAndUseAfterDestroy) {
  aclrtStream s = nullptr;
  ASSERT_EQ(aclrtCreateStream(&s), ACL_SUCCESS);
  ASSERT_EQ(aclrtDestroyStream(s), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyStream(s), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtDestroyStream", "stream"}));
  EXPECT_EQ(aclrtSynchronizeStream(s), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtSynchronizeStream", "stream"}));
  DeviceBuffer a(16), b(16);
  EXPECT_EQ(aclrtMemcpyAsync(a.get(), 16, b.get(), 16, ACL_MEMCPY_DEVICE_TO_DEVICE, s),
            ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtMemcpyAsync", "not a live stream"}));  // the public name
  int on_stack = 0;
  EXPECT_EQ(aclrtSynchronizeStream(&on_stack), ACL_ERROR_INVALID_RESOURCE_HANDLE);  // never a stream
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtDestroyStream(&on_stack), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_FALSE(recent_error().empty());
}

TEST_F(StreamTest, NullMeansDefaultStream) {
  constexpr size_t kBytes = 1 << 16;
  DeviceBuffer src(kBytes), dst(kBytes);
  fill_pattern(src.get(), kBytes, 5);
  dst.fill(0);
  enqueue_delay(nullptr, milliseconds(20));
  ASSERT_EQ(aclrtMemcpyAsync(dst.get(), kBytes, src.get(), kBytes, ACL_MEMCPY_DEVICE_TO_DEVICE, nullptr), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(nullptr), ACL_SUCCESS);
  EXPECT_EQ(std::memcmp(dst.get(), src.get(), kBytes), 0);
}

TEST_F(StreamTest, WorkRunsOffTheCallersThreadAndAsynchronously) {
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id worker;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> ran{false};
  std::atomic<bool> timed_out{false};
  ASSERT_EQ(runtime::enqueue("test", stream_,
                             [&, released]() -> aclError {
                               worker = std::this_thread::get_id();
                               // If enqueue ran work inline this would wait for a release that never comes before it
                               // returns; the timeout keeps a broken runtime from hanging the test.
                               if (released.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
                                 timed_out = true;
                               ran = true;
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  EXPECT_FALSE(ran.load());  // enqueue returned while the work is still blocked
  release.set_value();
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_TRUE(ran.load());
  EXPECT_FALSE(timed_out.load());
  EXPECT_NE(worker, caller);
}

TEST_F(StreamTest, FifoOrderLastCopyWins) {
  constexpr int kCopies = 64;
  constexpr size_t kBytes = 1024;
  std::vector<std::unique_ptr<DeviceBuffer>> sources;
  for (int i = 0; i < kCopies; ++i) {
    sources.push_back(std::make_unique<DeviceBuffer>(kBytes));
    std::memset(sources.back()->get(), i + 1, kBytes);
  }
  DeviceBuffer dst(kBytes);
  dst.fill(0);
  enqueue_delay(stream_, milliseconds(20));  // everything below is queued before any of it runs
  for (int i = 0; i < kCopies; ++i) {
    ASSERT_EQ(aclrtMemcpyAsync(dst.get(), kBytes, sources[i]->get(), kBytes, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_),
              ACL_SUCCESS);
  }
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(dst.download<uint8_t>(), std::vector<uint8_t>(kBytes, static_cast<uint8_t>(kCopies)));
}

TEST_F(StreamTest, FifoOrderOfWork) {
  constexpr int kItems = 1000;
  std::vector<int> order;  // only touched by the stream's worker until synchronize returns
  order.reserve(kItems);
  for (int i = 0; i < kItems; ++i) {
    ASSERT_EQ(runtime::enqueue("test", stream_,
                               [&order, i]() -> aclError {
                                 order.push_back(i);
                                 return ACL_SUCCESS;
                               }),
              ACL_SUCCESS);
  }
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  ASSERT_EQ(order.size(), static_cast<size_t>(kItems));
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(order[i], i);
}

TEST_F(StreamTest, LargeAsyncCopyThenSynchronize) {
  void *src = nullptr;
  void *dst = nullptr;
  ASSERT_EQ(aclrtMalloc(&src, kLarge, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  ASSERT_EQ(aclrtMalloc(&dst, kLarge, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  fill_words(src, kLarge, 0x9E3779B97F4A7C15ull);
  std::memset(dst, 0, kLarge);
  ASSERT_EQ(aclrtMemcpyAsync(dst, kLarge, src, kLarge, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(std::memcmp(dst, src, kLarge), 0);
  EXPECT_EQ(aclrtFree(src), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(dst), ACL_SUCCESS);
}

TEST_F(StreamTest, DestroyWithQueuedWorkFinishesIt) {
  aclrtStream s = nullptr;
  ASSERT_EQ(aclrtCreateStream(&s), ACL_SUCCESS);
  constexpr size_t kBytes = 1 << 20;
  DeviceBuffer src(kBytes), dst(kBytes);
  fill_pattern(src.get(), kBytes, 9);
  dst.fill(0);
  std::atomic<bool> last_ran{false};
  enqueue_delay(s, milliseconds(80));  // the copy is certainly still queued when we destroy
  ASSERT_EQ(aclrtMemcpyAsync(dst.get(), kBytes, src.get(), kBytes, ACL_MEMCPY_DEVICE_TO_DEVICE, s), ACL_SUCCESS);
  ASSERT_EQ(runtime::enqueue("test", s,
                             [&last_ran]() -> aclError {
                               last_ran = true;
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  ASSERT_EQ(aclrtDestroyStream(s), ACL_SUCCESS);
  EXPECT_TRUE(last_ran.load());
  EXPECT_EQ(std::memcmp(dst.get(), src.get(), kBytes), 0);
}

// The internal path other libraries use: a failing piece of work is reported once by synchronize.
TEST_F(StreamTest, InternalErrorIsReportedOnceBySynchronize) {
  std::atomic<bool> good_ran{false};
  ASSERT_EQ(runtime::enqueue("test", stream_, []() -> aclError { return ACL_ERROR_INTERNAL_ERROR; }), ACL_SUCCESS);
  ASSERT_EQ(runtime::enqueue("test", stream_,
                             [&good_ran]() -> aclError {
                               good_ran = true;
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_ERROR_INTERNAL_ERROR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtSynchronizeStream", "500000"}));
  EXPECT_TRUE(good_ran.load());  // later work still ran
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

TEST_F(StreamTest, FirstErrorWinsAndDefaultStreamToo) {
  ASSERT_EQ(runtime::enqueue("test", nullptr, []() -> aclError { return ACL_ERROR_RT_FAILURE; }), ACL_SUCCESS);
  ASSERT_EQ(runtime::enqueue("test", nullptr, []() -> aclError { return ACL_ERROR_INTERNAL_ERROR; }), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(nullptr), ACL_ERROR_RT_FAILURE);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtSynchronizeStream(nullptr), ACL_SUCCESS);
}

TEST_F(StreamTest, WorkThatThrowsBecomesInternalError) {
  ASSERT_EQ(runtime::enqueue("test", stream_, []() -> aclError { throw std::runtime_error("boom"); }), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_ERROR_INTERNAL_ERROR);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
}

TEST_F(StreamTest, EnqueueOnDeadStreamIsRefused) {
  aclrtStream s = nullptr;
  ASSERT_EQ(aclrtCreateStream(&s), ACL_SUCCESS);
  ASSERT_EQ(aclrtDestroyStream(s), ACL_SUCCESS);
  EXPECT_EQ(runtime::enqueue("test", s, []() -> aclError { return ACL_SUCCESS; }), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_FALSE(recent_error().empty());
}

// 8 host threads, each with its own stream, plus all of them on the default stream.
TEST_F(StreamTest, ManyThreadsManyStreams) {
  constexpr int kThreads = 8;
  constexpr int kCopies = 200;
  constexpr size_t kBytes = 256;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      int &bad = failures[t];
      if (aclrtSetDevice(0) != ACL_SUCCESS) ++bad;
      aclrtStream s = nullptr;
      if (aclrtCreateStream(&s) != ACL_SUCCESS) {
        ++bad;
        return;
      }
      std::vector<uint8_t> src(kCopies * kBytes);
      std::vector<uint8_t> dst(kCopies * kBytes, 0);
      std::vector<uint8_t> dst_default(kCopies * kBytes, 0);
      fill_pattern(src.data(), src.size(), 100 + t);
      for (int i = 0; i < kCopies; ++i) {
        const size_t off = static_cast<size_t>(i) * kBytes;
        if (aclrtMemcpyAsync(dst.data() + off, kBytes, src.data() + off, kBytes, ACL_MEMCPY_HOST_TO_HOST, s) !=
            ACL_SUCCESS)
          ++bad;
        if (aclrtMemcpyAsync(dst_default.data() + off, kBytes, src.data() + off, kBytes, ACL_MEMCPY_HOST_TO_HOST,
                             nullptr) != ACL_SUCCESS)
          ++bad;
      }
      if (aclrtSynchronizeStream(s) != ACL_SUCCESS) ++bad;
      if (aclrtSynchronizeStream(nullptr) != ACL_SUCCESS) ++bad;
      if (dst != src) ++bad;
      if (dst_default != src) ++bad;
      if (aclrtDestroyStream(s) != ACL_SUCCESS) ++bad;
    });
  }
  for (auto &th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

// ---------------------------------------------------------------------------------------------------------
// Events.

using EventTest = AclTest;

TEST_F(EventTest, StreamWaitsForEventRecordedOnAnotherStream) {
  aclrtStream b = nullptr;
  ASSERT_EQ(aclrtCreateStream(&b), ACL_SUCCESS);
  aclrtEvent ev = nullptr;
  ASSERT_EQ(aclrtCreateEvent(&ev), ACL_SUCCESS);
  ASSERT_NE(ev, nullptr);

  constexpr size_t kBytes = size_t{64} << 20;
  void *src = nullptr;
  void *mid = nullptr;
  void *dst = nullptr;
  ASSERT_EQ(aclrtMalloc(&src, kBytes, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  ASSERT_EQ(aclrtMalloc(&mid, kBytes, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  ASSERT_EQ(aclrtMalloc(&dst, kBytes, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  fill_words(src, kBytes, 0x0123456789ABCDEFull);
  std::memset(mid, 0, kBytes);
  std::memset(dst, 0xFF, kBytes);

  // Stream A (stream_): a delay, then a large copy src -> mid, then the event.
  enqueue_delay(stream_, milliseconds(50));
  ASSERT_EQ(aclrtMemcpyAsync(mid, kBytes, src, kBytes, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_SUCCESS);
  ASSERT_EQ(aclrtRecordEvent(ev, stream_), ACL_SUCCESS);
  // Stream B waits for it, then reads what A wrote.
  ASSERT_EQ(aclrtStreamWaitEvent(b, ev), ACL_SUCCESS);
  ASSERT_EQ(aclrtMemcpyAsync(dst, kBytes, mid, kBytes, ACL_MEMCPY_DEVICE_TO_DEVICE, b), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(b), ACL_SUCCESS);
  EXPECT_EQ(std::memcmp(dst, src, kBytes), 0);

  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyEvent(ev), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyStream(b), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(src), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(mid), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(dst), ACL_SUCCESS);
}

TEST_F(EventTest, SynchronizeEventWaitsForTheRecord) {
  aclrtEvent ev = nullptr;
  ASSERT_EQ(aclrtCreateEvent(&ev), ACL_SUCCESS);
  std::atomic<bool> before{false};
  std::atomic<bool> after_started{false};
  ASSERT_EQ(runtime::enqueue("test", stream_,
                             [&before]() -> aclError {
                               std::this_thread::sleep_for(milliseconds(50));
                               before = true;
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  ASSERT_EQ(aclrtRecordEvent(ev, stream_), ACL_SUCCESS);
  ASSERT_EQ(runtime::enqueue("test", stream_,
                             [&after_started]() -> aclError {
                               after_started = true;
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeEvent(ev), ACL_SUCCESS);
  EXPECT_TRUE(before.load());
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_TRUE(after_started.load());
  EXPECT_EQ(aclrtSynchronizeEvent(ev), ACL_SUCCESS);  // already complete: returns at once
  EXPECT_EQ(aclrtDestroyEvent(ev), ACL_SUCCESS);
}

TEST_F(EventTest, RecordOnDefaultStream) {
  aclrtEvent ev = nullptr;
  ASSERT_EQ(aclrtCreateEvent(&ev), ACL_SUCCESS);
  std::atomic<bool> done{false};
  ASSERT_EQ(runtime::enqueue("test", nullptr,
                             [&done]() -> aclError {
                               std::this_thread::sleep_for(milliseconds(30));
                               done = true;
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  ASSERT_EQ(aclrtRecordEvent(ev, nullptr), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeEvent(ev), ACL_SUCCESS);
  EXPECT_TRUE(done.load());
  EXPECT_EQ(aclrtDestroyEvent(ev), ACL_SUCCESS);
}

TEST_F(EventTest, NeverRecordedEventSynchronizesAtOnce) {
  aclrtEvent ev = nullptr;
  ASSERT_EQ(aclrtCreateEvent(&ev), ACL_SUCCESS);
  // stream_ is held shut until the end: waiting for it instead of returning would hang the test.
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  ASSERT_EQ(runtime::enqueue("test", stream_,
                             [opened]() -> aclError {
                               opened.wait();
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeEvent(ev), ACL_SUCCESS);
  // A wait on a never-recorded event on stream B does not block B either.
  aclrtStream b = nullptr;
  ASSERT_EQ(aclrtCreateStream(&b), ACL_SUCCESS);
  ASSERT_EQ(aclrtStreamWaitEvent(b, ev), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(b), ACL_SUCCESS);
  gate.set_value();
  EXPECT_EQ(aclrtDestroyStream(b), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyEvent(ev), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
}

TEST_F(EventTest, DestroyTwice) {
  aclrtEvent ev = nullptr;
  ASSERT_EQ(aclrtCreateEvent(&ev), ACL_SUCCESS);
  ASSERT_EQ(aclrtDestroyEvent(ev), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyEvent(ev), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtDestroyEvent", "event"}));
  EXPECT_EQ(aclrtSynchronizeEvent(ev), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtSynchronizeEvent"}));
  EXPECT_EQ(aclrtRecordEvent(ev, stream_), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtStreamWaitEvent(stream_, ev), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_FALSE(recent_error().empty());
}

TEST_F(EventTest, DestroyWhileRecordIsQueued) {
  aclrtEvent ev = nullptr;
  ASSERT_EQ(aclrtCreateEvent(&ev), ACL_SUCCESS);
  enqueue_delay(stream_, milliseconds(30));
  ASSERT_EQ(aclrtRecordEvent(ev, stream_), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyEvent(ev), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
}

TEST_F(EventTest, NullEvent) {
  EXPECT_EQ(aclrtCreateEvent(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtCreateEvent", "NULL"}));
  EXPECT_EQ(aclrtDestroyEvent(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtDestroyEvent", "NULL"}));
  EXPECT_EQ(aclrtRecordEvent(nullptr, stream_), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtRecordEvent", "NULL"}));
  EXPECT_EQ(aclrtSynchronizeEvent(nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtSynchronizeEvent", "NULL"}));
  EXPECT_EQ(aclrtStreamWaitEvent(stream_, nullptr), ACL_ERROR_INVALID_PARAM);
  EXPECT_TRUE(Mentions(recent_error(), {"aclrtStreamWaitEvent", "NULL"}));
}

TEST_F(EventTest, RecordOnDeadStream) {
  aclrtEvent ev = nullptr;
  ASSERT_EQ(aclrtCreateEvent(&ev), ACL_SUCCESS);
  aclrtStream s = nullptr;
  ASSERT_EQ(aclrtCreateStream(&s), ACL_SUCCESS);
  ASSERT_EQ(aclrtDestroyStream(s), ACL_SUCCESS);
  EXPECT_EQ(aclrtRecordEvent(ev, s), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclrtStreamWaitEvent(s, ev), ACL_ERROR_INVALID_RESOURCE_HANDLE);
  EXPECT_FALSE(recent_error().empty());
  // The refused record did not leave the event waiting for something that never comes.
  EXPECT_EQ(aclrtSynchronizeEvent(ev), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyEvent(ev), ACL_SUCCESS);
}

TEST_F(EventTest, ReRecordMovesTheMarker) {
  aclrtEvent ev = nullptr;
  ASSERT_EQ(aclrtCreateEvent(&ev), ACL_SUCCESS);
  std::atomic<int> steps{0};
  ASSERT_EQ(aclrtRecordEvent(ev, stream_), ACL_SUCCESS);
  ASSERT_EQ(runtime::enqueue("test", stream_,
                             [&steps]() -> aclError {
                               std::this_thread::sleep_for(milliseconds(40));
                               steps = 1;
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  ASSERT_EQ(aclrtRecordEvent(ev, stream_), ACL_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeEvent(ev), ACL_SUCCESS);
  EXPECT_EQ(steps.load(), 1);  // waited for the second record, not the first
  EXPECT_EQ(aclrtDestroyEvent(ev), ACL_SUCCESS);
}

// ---------------------------------------------------------------------------------------------------------
// aclDataTypeSize.

TEST(DataTypeSizeTest, EveryType) {
  struct Case {
    aclDataType type;
    size_t size;
  };
  const Case cases[] = {
      {ACL_FLOAT, 4},       {ACL_FLOAT16, 2},       {ACL_INT8, 1},         {ACL_INT32, 4},       {ACL_UINT8, 1},
      {ACL_INT16, 2},       {ACL_UINT16, 2},        {ACL_UINT32, 4},       {ACL_INT64, 8},       {ACL_UINT64, 8},
      {ACL_DOUBLE, 8},      {ACL_BOOL, 1},          {ACL_STRING, 0},       {ACL_COMPLEX64, 8},   {ACL_COMPLEX128, 16},
      {ACL_BF16, 2},        {ACL_INT4, 1},          {ACL_UINT1, 1},        {ACL_COMPLEX32, 4},   {ACL_HIFLOAT8, 1},
      {ACL_FLOAT8_E5M2, 1}, {ACL_FLOAT8_E4M3FN, 1}, {ACL_FLOAT8_E8M0, 1},  {ACL_FLOAT6_E3M2, 1}, {ACL_FLOAT6_E2M3, 1},
      {ACL_FLOAT4_E2M1, 1}, {ACL_FLOAT4_E1M2, 1},   {ACL_DT_UNDEFINED, 0},
  };
  for (const Case &c : cases) EXPECT_EQ(aclDataTypeSize(c.type), c.size) << "dtype " << c.type;
  // Values that are not data types.
  for (int v : {5, 14, 15, 18, 26, 28, 31, 32, 42, 100, 1000}) {
    EXPECT_EQ(aclDataTypeSize(static_cast<aclDataType>(v)), 0u) << "value " << v;
  }
}

// ---------------------------------------------------------------------------------------------------------
// binary16 conversions.

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
bool half_is_nan(aclFloat16 h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }

TEST(Float16Test, RoundTripOfEveryHalf) {
  for (uint32_t i = 0; i <= 0xFFFFu; ++i) {
    const auto h = static_cast<aclFloat16>(i);
    const float f = aclFloat16ToFloat(h);
    if (half_is_nan(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      ASSERT_TRUE(half_is_nan(aclFloatToFloat16(f))) << std::hex << i;
      continue;
    }
    ASSERT_FALSE(std::isnan(f)) << std::hex << i;
    ASSERT_EQ(aclFloatToFloat16(f), h) << std::hex << i << " -> " << f;
  }
}

TEST(Float16Test, HalfToFloatKnownValues) {
  EXPECT_EQ(aclFloat16ToFloat(0x3C00), 1.0f);
  EXPECT_EQ(aclFloat16ToFloat(0xBC00), -1.0f);
  EXPECT_EQ(aclFloat16ToFloat(0x4000), 2.0f);
  EXPECT_EQ(aclFloat16ToFloat(0x3800), 0.5f);
  EXPECT_EQ(aclFloat16ToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(aclFloat16ToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(aclFloat16ToFloat(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(aclFloat16ToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(aclFloat16ToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(bits_of(aclFloat16ToFloat(0x0000)), 0x00000000u);
  EXPECT_EQ(bits_of(aclFloat16ToFloat(0x8000)), 0x80000000u);
  EXPECT_EQ(aclFloat16ToFloat(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(aclFloat16ToFloat(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(aclFloat16ToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(aclFloat16ToFloat(0xFC01)));
}

TEST(Float16Test, FloatToHalfKnownValues) {
  EXPECT_EQ(aclFloatToFloat16(1.0f), 0x3C00);
  EXPECT_EQ(aclFloatToFloat16(-2.0f), 0xC000);
  EXPECT_EQ(aclFloatToFloat16(0.0f), 0x0000);
  EXPECT_EQ(aclFloatToFloat16(-0.0f), 0x8000);
  EXPECT_EQ(aclFloatToFloat16(65504.0f), 0x7BFF);
  EXPECT_EQ(aclFloatToFloat16(65519.0f), 0x7BFF);  // below the halfway point to 2^16
  EXPECT_EQ(aclFloatToFloat16(65520.0f), 0x7C00);  // halfway, ties to even: inf
  EXPECT_EQ(aclFloatToFloat16(-65520.0f), 0xFC00);
  EXPECT_EQ(aclFloatToFloat16(1e10f), 0x7C00);
  EXPECT_EQ(aclFloatToFloat16(std::numeric_limits<float>::max()), 0x7C00);
  EXPECT_EQ(aclFloatToFloat16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(aclFloatToFloat16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(aclFloatToFloat16(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(aclFloatToFloat16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(aclFloatToFloat16(std::ldexp(1.0f, -25)), 0x0000);  // halfway to 0x0001: ties to even
  EXPECT_EQ(aclFloatToFloat16(-std::ldexp(1.0f, -25)), 0x8000);
  EXPECT_EQ(aclFloatToFloat16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);  // just above halfway
  EXPECT_EQ(aclFloatToFloat16(std::ldexp(3.0f, -25)), 0x0002);                        // halfway 1..2: ties to even
  EXPECT_EQ(aclFloatToFloat16(std::ldexp(5.0f, -25)), 0x0002);                        // halfway 2..3: ties to even
  EXPECT_EQ(aclFloatToFloat16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(aclFloatToFloat16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(aclFloatToFloat16(std::ldexp(2047.0f, -25)), 0x0400);      // halfway 0x3FF..0x400: to even 0x400
  EXPECT_EQ(aclFloatToFloat16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // halfway 0x3C00..0x3C01
  EXPECT_EQ(aclFloatToFloat16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // halfway 0x3C01..0x3C02
  EXPECT_EQ(aclFloatToFloat16(0.1f), 0x2E66);
  EXPECT_EQ(aclFloatToFloat16(3.14159265f), 0x4248);
  const aclFloat16 nan = aclFloatToFloat16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(half_is_nan(nan));
  EXPECT_TRUE(half_is_nan(aclFloatToFloat16(-std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(half_is_nan(aclFloatToFloat16(float_of(0x7F800001u))));  // payload only in the low bits
  EXPECT_TRUE(half_is_nan(aclFloatToFloat16(float_of(0xFF800001u))));
}

// Every point halfway between two adjacent finite halves (normal and subnormal) rounds to the even one;
// one float ulp either side rounds to the nearer one.
TEST(Float16Test, HalfwayCasesRoundToNearestEven) {
  for (uint32_t i = 0; i < 0x7BFFu + 1; ++i) {
    const auto lo = static_cast<aclFloat16>(i);
    const auto hi = static_cast<aclFloat16>(i + 1);  // 0x7C00 (inf) above the largest finite half
    const double lo_value = aclFloat16ToFloat(lo);
    const double hi_value = i + 1 == 0x7C00u ? 65536.0 : static_cast<double>(aclFloat16ToFloat(hi));
    const float mid = static_cast<float>((lo_value + hi_value) / 2);
    ASSERT_EQ(static_cast<double>(mid), (lo_value + hi_value) / 2) << std::hex << i;  // exact in float
    const aclFloat16 even = (i & 1u) == 0 ? lo : hi;
    ASSERT_EQ(aclFloatToFloat16(mid), even) << std::hex << i;
    ASSERT_EQ(aclFloatToFloat16(std::nextafter(mid, 0.0f)), lo) << std::hex << i;
    ASSERT_EQ(aclFloatToFloat16(std::nextafter(mid, 1e30f)), hi) << std::hex << i;
    // Negative values mirror positive ones.
    ASSERT_EQ(aclFloatToFloat16(-mid), static_cast<aclFloat16>(even | 0x8000u)) << std::hex << i;
    ASSERT_EQ(aclFloatToFloat16(-std::nextafter(mid, 0.0f)), static_cast<aclFloat16>(lo | 0x8000u)) << std::hex << i;
  }
}

}  // namespace
}  // namespace int4pack::testing
