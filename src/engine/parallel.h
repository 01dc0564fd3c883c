// The engine's thread split: parts of a call run on up to `threads` threads (OpenMP's pool, or plain
// std::thread where OpenMP is off, as under ThreadSanitizer), part 0 on the calling thread.
#ifndef INT4PACK_ENGINE_PARALLEL_H_
#define INT4PACK_ENGINE_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#include "kernels/isa.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace int4pack::engine {

// Below this much input per part, another thread costs more to start than it saves (a 64x64 weight,
// 16 KiB, stays on the caller's thread).
inline constexpr int64_t kMinPartBytes = int64_t{256} << 10;

// How a call runs: with which instruction set's kernels, on how many threads, split from how much input
// per part (tests and the fuzzer lower it so that small matrices are split too).
struct Run {
  const kernels::Isa *isa = nullptr;
  int threads = 1;
  int64_t min_part_bytes = kMinPartBytes;
};

// Runs work(part) for part in [0, parts) on up to `threads` threads. An exception may not leave an OpenMP
// region or a std::thread (either would end the process), so each thread catches its own: once one part
// has failed the rest are skipped, and the calling thread rethrows the first exception after the join
// (typically std::bad_alloc, which the checked entry points turn into an out-of-memory status).
template <typename Work>
void run_parts(int parts, int threads, const Work &work) {
  if (parts <= 1 || threads <= 1) {
    for (int p = 0; p < parts; ++p) work(p);
    return;
  }
  threads = std::min(threads, parts);
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  const auto run_from = [&](int t, int stride) {
    try {
      for (int p = t; p < parts && !failed.load(std::memory_order_relaxed); p += stride) work(p);
    } catch (...) {
      if (!failed.exchange(true)) first = std::current_exception();
    }
  };
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
  run_from(omp_get_thread_num(), omp_get_num_threads());
#else
  std::vector<std::thread> helpers;
  helpers.reserve(static_cast<size_t>(threads - 1));
  try {
    for (int t = 1; t < threads; ++t) helpers.emplace_back(run_from, t, threads);
  } catch (...) {  // a thread that cannot start: the started ones stop early and are joined
    if (!failed.exchange(true)) first = std::current_exception();
  }
  run_from(0, threads);
  for (auto &h : helpers) h.join();
#endif
  if (first) std::rethrow_exception(first);
}

// How many parts `input_bytes` of input make: one per thread at most, none under min_part_bytes, and no
// more than max_parts (the units the work divides into).
inline int parts_for(int64_t input_bytes, int threads, int64_t max_parts, int64_t min_part_bytes) {
  const int64_t by_size = std::max<int64_t>(1, input_bytes / std::max<int64_t>(1, min_part_bytes));
  return static_cast<int>(std::max<int64_t>(1, std::min({static_cast<int64_t>(threads), by_size, max_parts})));
}

}  // namespace int4pack::engine

#endif  // INT4PACK_ENGINE_PARALLEL_H_
