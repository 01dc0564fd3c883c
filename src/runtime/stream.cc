#include "runtime/stream.h"

namespace int4pack::runtime {

Stream::Stream() : worker_([this] { run(); }) {}

Stream::~Stream() { close(); }

bool Stream::enqueue(StreamWork work) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return false;
    queue_.push_back(std::move(work));
    ++enqueued_;
  }
  work_ready_.notify_one();
  return true;
}

aclError Stream::synchronize() {
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t target = enqueued_;
  work_done_.wait(lock, [&] { return completed_ >= target; });
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
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [&] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing and drained
    StreamWork work = std::move(queue_.front());
    queue_.pop_front();
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
    ++completed_;
    work_done_.notify_all();
  }
}

}  // namespace int4pack::runtime
