// Phase 2 is stream-ordered (unlike CANN's own host implementation, which packs inside phase 1): the
// packing runs after everything enqueued before it on the same stream, off the caller's thread, and is
// visible after aclrtSynchronizeStream. Several host threads may use several streams at once.
#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "core/layout.h"
#include "kernels/reference.h"
#include "runtime/internal_api.h"
#include "test_support.h"

namespace int4pack::testing {
namespace {

constexpr uint8_t kSentinel = 0xA5;

std::vector<uint8_t> reference_nz(const std::vector<int32_t> &w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> bytes(packed_bytes({rows, cols}, PackedLayout::kNz));
  reference::pack(w.data(), {rows, cols}, PackedLayout::kNz, bytes.data());
  return bytes;
}

using StreamOrderTest = AclTest;

// The weight reaches device memory through an async copy queued behind a large copy that keeps the
// stream busy; the pack queued after both must see the weight, not the stale contents.
TEST_F(StreamOrderTest, PackSeesWeightCopiedEarlierOnTheSameStream) {
  const int64_t rows = 257;
  const int64_t cols = 1024;
  const auto weight = random_weight(rows, cols, 3);
  DeviceBuffer w(weight.size() * 4);
  w.fill(0);  // stale contents: all zeros would pack to all-zero bytes
  const size_t big = size_t{64} << 20;
  DeviceBuffer big_src(big);
  DeviceBuffer big_dst(big);
  big_src.fill(0x3C);
  const auto storage = packed_storage(rows, cols, ACL_INT4, ACL_FORMAT_FRACTAL_NZ);
  DeviceBuffer out(storage_bytes(storage, ACL_INT4));
  out.fill(kSentinel);
  Tensor wt({rows, cols}, ACL_INT32, ACL_FORMAT_ND, w.get());
  Tensor ot({rows, cols}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, out.get(), storage);

  ASSERT_EQ(aclrtMemcpyAsync(big_dst.get(), big, big_src.get(), big, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_),
            ACL_SUCCESS);
  ASSERT_EQ(aclrtMemcpyAsync(w.get(), w.bytes(), weight.data(), w.bytes(), ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_SUCCESS);
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  ASSERT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(wt.get(), ot.get(), &workspace, &executor), ACLNN_SUCCESS);
  ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream_), ACLNN_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);

  EXPECT_EQ(out.download<uint8_t>(), reference_nz(weight, rows, cols));
  const auto *copied = static_cast<const uint8_t *>(big_dst.get());
  EXPECT_EQ(copied[0], 0x3C);
  EXPECT_EQ(copied[big - 1], 0x3C);
}

// Deterministic version: the stream is held at a gate the test controls, so phase 2 must return with
// nothing written, and the output appears only once the stream is released and synchronised.
TEST_F(StreamOrderTest, PhaseTwoEnqueuesAndReturnsWithoutPacking) {
  const auto weight = random_weight(16, 64, 8);
  DeviceBuffer w(weight.size() * 4);
  w.upload(weight);
  const auto storage = packed_storage(16, 64, ACL_INT4, ACL_FORMAT_FRACTAL_NZ);
  DeviceBuffer out(storage_bytes(storage, ACL_INT4));
  out.fill(kSentinel);
  Tensor wt({16, 64}, ACL_INT32, ACL_FORMAT_ND, w.get());
  Tensor ot({16, 64}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, out.get(), storage);

  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  std::atomic<std::thread::id> worker_thread{};
  ASSERT_EQ(runtime::enqueue("test", stream_,
                             [opened, &worker_thread]() -> aclError {
                               worker_thread = std::this_thread::get_id();
                               opened.wait();
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  ASSERT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(wt.get(), ot.get(), &workspace, &executor), ACLNN_SUCCESS);
  ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream_), ACLNN_SUCCESS);

  EXPECT_EQ(out.download<uint8_t>(), std::vector<uint8_t>(out.bytes(), kSentinel));  // not yet run
  gate.set_value();
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(out.download<uint8_t>(), reference_nz(weight, 16, 64));
  EXPECT_NE(worker_thread.load(), std::this_thread::get_id());  // the stream ran off the caller's thread
}

// A weight produced on another stream is consumed after an event wait.
TEST_F(StreamOrderTest, EventOrdersPackAfterWorkOnAnotherStream) {
  const auto weight = random_weight(33, 128, 4);
  DeviceBuffer w(weight.size() * 4);
  w.fill(0);
  const auto storage = packed_storage(33, 128, ACL_INT32, ACL_FORMAT_ND);
  DeviceBuffer out(storage_bytes(storage, ACL_INT32));
  Tensor wt({33, 128}, ACL_INT32, ACL_FORMAT_ND, w.get());
  Tensor ot({33, 16}, ACL_INT32, ACL_FORMAT_ND, out.get());

  aclrtStream producer = nullptr;
  aclrtEvent ready = nullptr;
  ASSERT_EQ(aclrtCreateStream(&producer), ACL_SUCCESS);
  ASSERT_EQ(aclrtCreateEvent(&ready), ACL_SUCCESS);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  ASSERT_EQ(runtime::enqueue("test", producer,
                             [opened]() -> aclError {
                               opened.wait();
                               return ACL_SUCCESS;
                             }),
            ACL_SUCCESS);
  ASSERT_EQ(aclrtMemcpyAsync(w.get(), w.bytes(), weight.data(), w.bytes(), ACL_MEMCPY_HOST_TO_DEVICE, producer),
            ACL_SUCCESS);
  ASSERT_EQ(aclrtRecordEvent(ready, producer), ACL_SUCCESS);
  ASSERT_EQ(aclrtStreamWaitEvent(stream_, ready), ACL_SUCCESS);
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  ASSERT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(wt.get(), ot.get(), &workspace, &executor), ACLNN_SUCCESS);
  ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream_), ACLNN_SUCCESS);
  gate.set_value();
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);

  std::vector<uint8_t> want(packed_bytes({33, 128}, PackedLayout::kNd));
  reference::pack(weight.data(), {33, 128}, PackedLayout::kNd, want.data());
  EXPECT_EQ(out.download<uint8_t>(), want);
  EXPECT_EQ(aclrtDestroyEvent(ready), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyStream(producer), ACL_SUCCESS);
}

// A repeatable executor re-reads its weight each run, in stream order.
TEST_F(StreamOrderTest, RepeatableExecutorRunsInStreamOrder) {
  DeviceBuffer w(16 * 4);
  DeviceBuffer out(8);
  DeviceBuffer first(8);
  Tensor wt({1, 16}, ACL_INT32, ACL_FORMAT_ND, w.get());
  Tensor ot({1, 16}, ACL_INT4, ACL_FORMAT_ND, out.get());
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  ASSERT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(wt.get(), ot.get(), &workspace, &executor), ACLNN_SUCCESS);
  ASSERT_EQ(aclSetAclOpExecutorRepeatable(executor), ACLNN_SUCCESS);
  const std::vector<int32_t> ones(16, 1);
  const std::vector<int32_t> twos(16, 2);
  ASSERT_EQ(aclrtMemcpyAsync(w.get(), 64, ones.data(), 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_), ACL_SUCCESS);
  ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream_), ACLNN_SUCCESS);
  ASSERT_EQ(aclrtMemcpyAsync(first.get(), 8, out.get(), 8, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_SUCCESS);
  ASSERT_EQ(aclrtMemcpyAsync(w.get(), 64, twos.data(), 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_), ACL_SUCCESS);
  ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream_), ACLNN_SUCCESS);
  ASSERT_EQ(aclDestroyAclOpExecutor(executor), ACLNN_SUCCESS);  // queued runs still complete
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(first.download<uint8_t>(), std::vector<uint8_t>(8, 0x11));
  EXPECT_EQ(out.download<uint8_t>(), std::vector<uint8_t>(8, 0x22));
}

// Several host threads, each with its own stream and sometimes the shared default stream, pack and
// unpack concurrently; every result is exact.
TEST_F(StreamOrderTest, ManyThreadsManyStreams) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      aclrtStream stream = nullptr;
      if (aclrtSetDevice(0) != ACL_SUCCESS || aclrtCreateStream(&stream) != ACL_SUCCESS) {
        ++failures;
        return;
      }
      for (int round = 0; round < kRounds; ++round) {
        const int64_t rows = 1 + (t * 7 + round * 13) % 70;
        const int64_t cols = 8 * (1 + (t + round) % 20);
        const aclFormat format = round % 2 ? ACL_FORMAT_FRACTAL_NZ : ACL_FORMAT_ND;
        const aclDataType dtype = round % 3 ? ACL_INT4 : ACL_INT32;
        aclrtStream use = round % 5 == 0 ? nullptr : stream;
        const auto weight = random_weight(rows, cols, static_cast<uint32_t>(t * 1000 + round));
        std::vector<int32_t> back(weight.size(), 0x5A5A5A5A);
        const auto storage = packed_storage(rows, cols, dtype, format);
        std::vector<uint8_t> packed(storage_bytes(storage, dtype));
        // Host memory serves as device memory here: the device is this host.
        aclTensor *wt =
            aclCreateTensor(std::vector<int64_t>{rows, cols}.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND,
                            std::vector<int64_t>{rows, cols}.data(), 2, const_cast<int32_t *>(weight.data()));
        const auto view = packed_view(rows, cols, dtype);
        aclTensor *pt =
            aclCreateTensor(view.data(), 2, dtype, nullptr, 0, format, storage.data(), storage.size(), packed.data());
        aclTensor *bt = aclCreateTensor(std::vector<int64_t>{rows, cols}.data(), 2, ACL_INT32, nullptr, 0,
                                        ACL_FORMAT_ND, std::vector<int64_t>{rows, cols}.data(), 2, back.data());
        if (convert(wt, pt, use) != ACLNN_SUCCESS || unpack(pt, bt, use) != ACLNN_SUCCESS || back != weight) {
          ++failures;
        }
        aclDestroyTensor(wt);
        aclDestroyTensor(pt);
        aclDestroyTensor(bt);
      }
      if (aclrtDestroyStream(stream) != ACL_SUCCESS) ++failures;
    });
  }
  for (auto &thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace int4pack::testing
