// A stream: a FIFO of work run in order by one worker thread of its own.
#ifndef INT4PACK_RUNTIME_STREAM_H_
#define INT4PACK_RUNTIME_STREAM_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "runtime/internal_api.h"

namespace int4pack::runtime {

class Stream {
 public:
  Stream();
  ~Stream();  // drains: work already queued runs before the worker stops
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;

  // False once the stream has been closed (destroyed while the caller still held it).
  bool enqueue(StreamWork work);
  // Waits until everything enqueued before the call has run; returns and clears the first error.
  aclError synchronize();
  // Stops accepting work and waits for the queued work to finish. Idempotent.
  void close();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  std::deque<StreamWork> queue_;
  // Counters are also read without the lock, by the short spins that keep a small operation's
  // submit-to-done round trip free of thread wake-ups.
  std::atomic<uint64_t> enqueued_{0};   // tasks ever enqueued
  std::atomic<uint64_t> completed_{0};  // tasks ever completed
  aclError first_error_ = ACL_SUCCESS;
  bool closing_ = false;
  std::thread worker_;
};

}  // namespace int4pack::runtime

#endif  // INT4PACK_RUNTIME_STREAM_H_
