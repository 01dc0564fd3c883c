// The engine's thread split: parts of a call run on up to `threads` threads (OpenMP's pool, or plain
// std::thread where OpenMP is off, as under ThreadSanitizer), part 0 on the calling thread.
#ifndef INT4PACK_ENGINE_PARALLEL_H_
#define INT4PACK_ENGINE_PARALLEL_H_

#include <algorithm>
#include <cstdint>
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

// Runs work(part) for part in [0, parts) on up to `threads` threads.
template <typename Work>
void run_parts(int parts, int threads, const Work &work) {
  if (parts <= 1 || threads <= 1) {
    for (int p = 0; p < parts; ++p) work(p);
    return;
  }
  threads = std::min(threads, parts);
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
  {
    for (int p = omp_get_thread_num(); p < parts; p += omp_get_num_threads()) work(p);
  }
#else
  std::vector<std::thread> helpers;
  helpers.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) {
    helpers.emplace_back([&work, t, threads, parts] {
      for (int p = t; p < parts; p += threads) work(p);
    });
  }
  for (int p = 0; p < parts; p += threads) work(p);
  for (auto &h : helpers) h.join();
#endif
}

// How many parts `input_bytes` of input make: one per thread at most, none under min_part_bytes, and no
// more than max_parts (the units the work divides into).
inline int parts_for(int64_t input_bytes, int threads, int64_t max_parts, int64_t min_part_bytes) {
  const int64_t by_size = std::max<int64_t>(1, input_bytes / std::max<int64_t>(1, min_part_bytes));
  return static_cast<int>(std::max<int64_t>(1, std::min({static_cast<int64_t>(threads), by_size, max_parts})));
}

}  // namespace int4pack::engine

#endif  // INT4PACK_ENGINE_PARALLEL_H_
