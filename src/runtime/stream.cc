#include "runtime/stream.h"

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace int4pack::runtime {
namespace {

// How long the worker looks for new work, and a synchronising caller for completion, before sleeping.
// Waking a sleeping thread costs 10 to 100 us (more in a busy VM); a 64x64 pack takes under 1 us. The
// window must outlast a wake-up, or a submit/synchronize loop settles into paying one every call.
constexpr std::chrono::microseconds kSpin{250};

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Spins until ready() or kSpin has passed; true when ready() held. Yields now and then so that a
// spinning thread never keeps a runnable one (the worker it waits for, say) off a busy CPU.
template <typename Ready>
bool spin_until(const Ready &ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::yield();
    }
  }
}

}  // namespace

Stream::Stream() : worker_([this] { run(); }) {}

Stream::~Stream() { close(); }

bool Stream::enqueue(StreamWork work) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return false;
    queue_.push_back(std::move(work));
    enqueued_.fetch_add(1, std::memory_order_release);
  }
  work_ready_.notify_one();
  return true;
}

aclError Stream::synchronize() {
  const uint64_t target = enqueued_.load(std::memory_order_acquire);
  spin_until([&] { return completed_.load(std::memory_order_acquire) >= target; });
  std::unique_lock<std::mutex> lock(mutex_);
  work_done_.wait(lock, [&] { return completed_.load(std::memory_order_relaxed) >= target; });
  const aclError status = first_error_;
  first_error_ = ACL_SUCCESS;
  return status;
}

void Stream::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return;
    closing_ = true;
  }
  work_ready_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void Stream::run() {
  uint64_t taken = 0;
  for (;;) {
    spin_until([&] { return enqueued_.load(std::memory_order_acquire) != taken; });
    std::unique_lock<std::mutex> lock(mutex_);
    work_ready_.wait(lock, [&] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing and drained
    StreamWork work = std::move(queue_.front());
    queue_.pop_front();
    ++taken;
    lock.unlock();
    aclError status = ACL_SUCCESS;
    try {
      status = work();
    } catch (...) {
      status = ACL_ERROR_INTERNAL_ERROR;  // never let an exception escape the worker thread
    }
    work = nullptr;  // release what the work captured before reporting completion
    lock.lock();
    if (status != ACL_SUCCESS && first_error_ == ACL_SUCCESS) first_error_ = status;
    completed_.fetch_add(1, std::memory_order_release);
    lock.unlock();
    work_done_.notify_all();
  }
}

}  // namespace int4pack::runtime
