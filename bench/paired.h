// Two calls measured in turns: a ratio that the drift of a shared machine leaves alone.
//
// Separate benchmarks of ours and of its reference (a read pass, the FLOAT16 case) run seconds or minutes
// apart, and on a shared host the memory bandwidth moves by a third in that time; the ratio of their
// medians moves with it. Here each iteration times one call of each, back to back, and the ratio is the
// median over those pairs. The order within a pair alternates, so neither side always finds the cache as
// the other left it.
#ifndef INT4PACK_BENCH_PAIRED_H_
#define INT4PACK_BENCH_PAIRED_H_

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "acl/acl.h"

// ours() and reference() return false on an error (the ACL message stops the benchmark). Counters:
// reference_over_ours (the median of the pairs' reference time / our time), ours_ms and reference_ms (each
// side's median), pairs.
template <typename Ours, typename Reference>
void measure_paired(benchmark::State &state, const Ours &ours, const Reference &reference) {
  std::vector<double> ratios, ours_ms, reference_ms;
  const auto timed = [](const auto &call, double *ms) {
    const auto start = std::chrono::steady_clock::now();
    const bool ok = call();
    *ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return ok;
  };
  for (auto _ : state) {
    double a = 0, b = 0;
    const bool ok =
        ratios.size() % 2 == 0 ? timed(ours, &a) && timed(reference, &b) : timed(reference, &b) && timed(ours, &a);
    if (!ok) {
      state.SkipWithError(aclGetRecentErrMsg());
      return;
    }
    ratios.push_back(b / a);
    ours_ms.push_back(a);
    reference_ms.push_back(b);
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  state.counters["reference_over_ours"] = median(ratios);
  state.counters["ours_ms"] = median(ours_ms);
  state.counters["reference_ms"] = median(reference_ms);
  state.counters["pairs"] = static_cast<double>(ratios.size());
}

#endif  // INT4PACK_BENCH_PAIRED_H_
