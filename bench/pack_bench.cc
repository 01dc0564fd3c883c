// Benchmarks for scripts/bench. Every figure is per call; GB/s counts the int32 input read. The shapes
// and combinations come from issue 3; scripts/bench turns the JSON into ratios (bench/report.py).
// paired/<output>/<shape> times ours and the read pass in turns (paired.h) for the ratios that targets judge;
// paired/traffic_floor/<shape> the packing's reads and writes without the packing, against the read pass.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "acl_session.h"
#include "aclnnop/aclnn_convert_weight_to_int4_pack.h"
#include "engine/pack.h"
#include "engine/settings.h"
#include "int4pack/settings.h"
#include "kernels/isa.h"
#include "paired.h"

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

using int4pack::MatrixShape;
using int4pack::PackedLayout;

struct Shape {
  int64_t rows;
  int64_t cols;
};
const Shape kShapes[] = {{4096, 4096}, {4096, 14336}, {14336, 4096}, {17, 72}};

// Device buffers per shape (aclrtMalloc, as a CANN program allocates them), kept across benchmarks: a
// fresh 235 MB weight per benchmark would dominate the run.
struct Buffers {
  int32_t *weight = nullptr;
  uint8_t *out = nullptr;  // large enough for any of the four outputs
};

Buffers &buffers(Shape s) {
  static std::vector<std::pair<std::pair<int64_t, int64_t>, Buffers *>> cache;
  for (auto &entry : cache) {
    if (entry.first == std::make_pair(s.rows, s.cols)) return *entry.second;
  }
  library();  // aclInit before the first aclrtMalloc, as CANN requires
  auto *b = new Buffers;
  const size_t values = static_cast<size_t>(s.rows * s.cols);
  const size_t out_bytes = int4pack::packed_bytes({s.rows, s.cols}, PackedLayout::kNz);
  if (aclrtMalloc(reinterpret_cast<void **>(&b->weight), values * 4, ACL_MEM_MALLOC_HUGE_FIRST) != ACL_SUCCESS ||
      aclrtMalloc(reinterpret_cast<void **>(&b->out), out_bytes, ACL_MEM_MALLOC_HUGE_FIRST) != ACL_SUCCESS) {
    std::fprintf(stderr, "pack_bench: out of memory\n");
    std::exit(1);
  }
  std::mt19937 gen(42);
  std::uniform_int_distribution<int32_t> dist(-8, 7);
  for (size_t i = 0; i < values; ++i) b->weight[i] = dist(gen);
  std::memset(b->out, 0, out_bytes);
  cache.push_back({{s.rows, s.cols}, b});
  return *b;
}

void set_input_bytes(benchmark::State &state, Shape s) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * s.rows * s.cols * 4);
  state.counters["rows"] = static_cast<double>(s.rows);
  state.counters["cols"] = static_cast<double>(s.cols);
}

// The weight and packed output of one combination as the CANN API takes them.
struct PackTensors {
  aclTensor *weight = nullptr;
  aclTensor *out = nullptr;
  PackTensors(Shape s, aclDataType dtype, aclFormat format) {
    Buffers &b = buffers(s);
    const int64_t w_dims[2] = {s.rows, s.cols};
    const int64_t o_dims[2] = {s.rows, dtype == ACL_INT4 ? s.cols : s.cols / 8};
    const int64_t nz[4] = {(s.cols + 63) / 64, (s.rows + 15) / 16, 16, dtype == ACL_INT4 ? 64 : 8};
    weight = aclCreateTensor(w_dims, 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, w_dims, 2, b.weight);
    out = aclCreateTensor(o_dims, 2, dtype, nullptr, 0, format, format == ACL_FORMAT_ND ? o_dims : nz,
                          format == ACL_FORMAT_ND ? 2 : 4, b.out);
  }
  ~PackTensors() {
    aclDestroyTensor(weight);
    aclDestroyTensor(out);
  }
  PackTensors(const PackTensors &) = delete;
  PackTensors &operator=(const PackTensors &) = delete;
};

// One pack as a CANN program runs it: phase 1, phase 2 on a stream, synchronize. False on an error.
bool pack_through_api(const PackTensors &t) {
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  return aclnnConvertWeightToINT4PackGetWorkspaceSize(t.weight, t.out, &workspace, &executor) == ACLNN_SUCCESS &&
         aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, library().stream) == ACLNN_SUCCESS &&
         aclrtSynchronizeStream(library().stream) == ACL_SUCCESS;
}

// Ours, end to end through the CANN API.
void BM_Ours(benchmark::State &state, Shape s, aclDataType dtype, aclFormat format) {
  const PackTensors t(s, dtype, format);
  for (auto _ : state) {
    if (!pack_through_api(t)) {
      state.SkipWithError(aclGetRecentErrMsg());
      break;
    }
  }
  set_input_bytes(state, s);
  state.counters["threads_used"] = int4packGetNumThreads();
}

// The engine with a given ISA and thread count (0: all).
void BM_Engine(benchmark::State &state, Shape s, PackedLayout layout, std::string isa, int threads) {
  const int4pack::kernels::Isa *k = int4pack::kernels::find_supported(isa);
  if (k == nullptr) {
    state.SkipWithError(("ISA not supported here: " + isa).c_str());
    return;
  }
  Buffers &b = buffers(s);
  const int n = threads > 0 ? threads : int4pack::engine::thread_count();
  for (auto _ : state) {
    int4pack::engine::pack_with({{s.rows, s.cols}, layout, b.weight, b.out}, {k, n});
    benchmark::ClobberMemory();
  }
  set_input_bytes(state, s);
  state.counters["threads_used"] = n;
  state.SetLabel(k->name);  // which engine_isa run the one-thread figure is compared with
}

// The limit: read every input byte once, on all threads, doing as little as possible with it. With
// AVX2 (four independent accumulators) where the CPU has it, so the limit is the memory's, not the loop's.
#if defined(__x86_64__)
__attribute__((target("avx2"))) int32_t or_all_avx2(const int32_t *w, int64_t n) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_or_si256(acc[k], _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w + i + 8 * k)));
    }
  }
  const __m256i all = _mm256_or_si256(_mm256_or_si256(acc[0], acc[1]), _mm256_or_si256(acc[2], acc[3]));
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i *>(lanes), all);
  int32_t out = 0;
  for (int32_t lane : lanes) out |= lane;
  for (; i < n; ++i) out |= w[i];
  return out;
}
#endif

int32_t or_all(const int32_t *w, int64_t n) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return or_all_avx2(w, n);
#endif
  int32_t out = 0;
  for (int64_t i = 0; i < n; ++i) out |= w[i];
  return out;
}

// One read-only pass over the shape's input on `threads` threads.
int32_t read_all(Shape s, int threads) {
  const int64_t n = s.rows * s.cols;
  const int32_t *w = buffers(s).weight;
  int32_t acc = 0;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) reduction(| : acc)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t nt = omp_get_num_threads();
    acc |= or_all(w + n * t / nt, n * (t + 1) / nt - n * t / nt);
  }
#else
  (void)threads;
  acc = or_all(w, n);
#endif
  return acc;
}

// The packing's memory traffic without the packing: every input byte read once and half a byte per value
// written in order with streaming stores (as the packed output goes out), on all threads. Its ratio to the
// read pass is the most of the read pass a packing can give on this host, whatever its layout.
void fold_pairs(const int32_t *w, int64_t n, uint8_t *out) {
  for (int64_t i = 0; i + 1 < n; i += 2) out[i / 2] = static_cast<uint8_t>(w[i] | w[i + 1]);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void fold_stream_avx2(const int32_t *w, int64_t n, uint8_t *out) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {  // 256 bytes in, 32 out
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w + i));
    for (int k = 1; k < 8; ++k)
      v = _mm256_or_si256(v, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w + i + 8 * k)));
    _mm256_stream_si256(reinterpret_cast<__m256i *>(out + i / 2), v);
  }
  _mm_sfence();
  fold_pairs(w + i, n - i, out + i / 2);
}
#endif

void fold_stream(const int32_t *w, int64_t n, uint8_t *out) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return fold_stream_avx2(w, n, out);
#endif
  fold_pairs(w, n, out);
}

// Each thread's part starts on a whole 64-value step, so its streaming stores are 32-byte aligned.
void read_write_all(Shape s, int threads) {
  const int64_t steps = s.rows * s.cols / 64, n = s.rows * s.cols;
  const Buffers &b = buffers(s);
  const auto part = [&](int64_t t, int64_t nt) {
    const int64_t begin = 64 * (steps * t / nt), end = t + 1 == nt ? n : 64 * (steps * (t + 1) / nt);
    fold_stream(b.weight + begin, end - begin, b.out + begin / 2);
  };
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
  part(omp_get_thread_num(), omp_get_num_threads());
#else
  (void)threads;
  part(0, 1);
#endif
}

// The read-and-write pass and the read pass in turns: the packing's ceiling on this host.
void BM_PairedTrafficFloor(benchmark::State &state, Shape s) {
  buffers(s);  // made before the first pair, not in it
  const int threads = int4pack::engine::thread_count();
  measure_paired(
      state,
      [&] {
        read_write_all(s, threads);
        benchmark::ClobberMemory();
        return true;
      },
      [&] {
        benchmark::DoNotOptimize(read_all(s, threads));
        return true;
      });
  state.counters["threads_used"] = threads;
}

void BM_ReadOnly(benchmark::State &state, Shape s) {
  const int threads = int4pack::engine::thread_count();
  for (auto _ : state) benchmark::DoNotOptimize(read_all(s, threads));
  set_input_bytes(state, s);
  state.counters["threads_used"] = threads;
}

// Ours and the read pass in turns (paired.h): the fraction of the read pass that the drift of a shared
// machine leaves alone.
void BM_PairedWithRead(benchmark::State &state, Shape s, aclDataType dtype, aclFormat format) {
  const PackTensors t(s, dtype, format);
  const int threads = int4pack::engine::thread_count();
  measure_paired(
      state, [&] { return pack_through_api(t); },
      [&] {
        benchmark::DoNotOptimize(read_all(s, threads));
        return true;
      });
  state.counters["threads_used"] = threads;
}

// CANN's host algorithm, step by step as its open-source host code does it: copy the weight into a new
// host vector, pack pair by pair into a zeroed byte vector, for NZ scatter byte by byte into a zeroed NZ
// vector (a division and modulos per byte) and copy that vector back, then copy the result out.
inline uint8_t cann_pack_pair(int32_t a, int32_t b, aclDataType dtype) {
  if (dtype == ACL_INT32) {
    return static_cast<uint8_t>(((static_cast<uint32_t>(b) & 0xF) << 4) | (static_cast<uint32_t>(a) & 0xF));
  }
  return 0;  // CANN's FLOAT (FP4) branch; never taken here
}

void BM_CannPerElement(benchmark::State &state, Shape s, PackedLayout layout) {
  Buffers &b = buffers(s);
  const int64_t k = s.rows;
  const int64_t nb = s.cols / 2;
  volatile aclDataType dtype = ACL_INT32;  // a run-time value, as CANN reads it from the tensor
  for (auto _ : state) {
    std::vector<int32_t> weight(static_cast<size_t>(k * s.cols), 0);
    std::memcpy(weight.data(), b.weight, weight.size() * sizeof(int32_t));
    std::vector<uint8_t> packed(static_cast<size_t>(k * nb), 0);
    for (size_t i = 0; i < packed.size(); ++i) packed[i] = cann_pack_pair(weight[2 * i], weight[2 * i + 1], dtype);
    if (layout == PackedLayout::kNz) {
      const int64_t k1 = (k + 15) / 16;
      const int64_t n1 = (nb + 31) / 32;
      std::vector<uint8_t> nz(static_cast<size_t>(n1 * k1 * 512), 0);
      for (size_t idx = 0; idx < static_cast<size_t>(k * nb); ++idx) {
        const size_t i = idx / nb;
        const size_t j = idx % nb;
        nz[(j / 32) * k1 * 512 + (i / 16) * 512 + (i % 16) * 32 + j % 32] = packed[idx];
      }
      packed = nz;
    }
    std::memcpy(b.out, packed.data(), packed.size());
    benchmark::ClobberMemory();
  }
  set_input_bytes(state, s);
}

// The latency a caller sees for a small weight: phase 1 + phase 2 + synchronize, per call.
void BM_EndToEnd64x64(benchmark::State &state) {
  const Shape s{64, 64};
  Buffers &b = buffers(s);
  const aclrtStream stream = library().stream;
  const int64_t dims[2] = {64, 64};
  aclTensor *w = aclCreateTensor(dims, 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, dims, 2, b.weight);
  aclTensor *o = aclCreateTensor(dims, 2, ACL_INT4, nullptr, 0, ACL_FORMAT_ND, dims, 2, b.out);
  std::vector<double> us;
  us.reserve(1 << 20);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    uint64_t workspace = 0;
    aclOpExecutor *executor = nullptr;
    aclnnConvertWeightToINT4PackGetWorkspaceSize(w, o, &workspace, &executor);
    aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream);
    aclrtSynchronizeStream(stream);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  state.counters["median_us"] = us[us.size() / 2];
  state.counters["p90_us"] = us[us.size() * 9 / 10];
  state.counters["p99_us"] = us[us.size() * 99 / 100];
  aclDestroyTensor(w);
  aclDestroyTensor(o);
}

std::string shape_name(Shape s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); }

void register_all() {
  const std::pair<aclDataType, aclFormat> combos[] = {{ACL_INT4, ACL_FORMAT_ND},
                                                      {ACL_INT4, ACL_FORMAT_FRACTAL_NZ},
                                                      {ACL_INT32, ACL_FORMAT_ND},
                                                      {ACL_INT32, ACL_FORMAT_FRACTAL_NZ}};
  const int4pack::kernels::Isa *isas = nullptr;
  const int isa_count = int4pack::kernels::compiled_isas(&isas);
  for (Shape s : kShapes) {
    const std::string name = shape_name(s);
    const bool tiny = s.rows * s.cols < 1 << 20;
    const auto tune = [tiny](benchmark::internal::Benchmark *b) {
      b->Unit(benchmark::kMillisecond)->UseRealTime();
      if (!tiny) b->MinTime(0.3);
    };
    tune(benchmark::RegisterBenchmark(("read_only/" + name).c_str(), BM_ReadOnly, s));
    if (!tiny) tune(benchmark::RegisterBenchmark(("paired/traffic_floor/" + name).c_str(), BM_PairedTrafficFloor, s));
    for (auto [dtype, format] : combos) {
      const std::string combo =
          std::string(dtype == ACL_INT4 ? "int4" : "int32") + (format == ACL_FORMAT_ND ? "_nd" : "_nz");
      tune(benchmark::RegisterBenchmark(("ours/" + combo + "/" + name).c_str(), BM_Ours, s, dtype, format));
      if (!tiny && dtype == ACL_INT4) {
        tune(benchmark::RegisterBenchmark(("paired/" + combo + "/" + name).c_str(), BM_PairedWithRead, s, dtype,
                                          format));
      }
    }
    for (PackedLayout layout : {PackedLayout::kNd, PackedLayout::kNz}) {
      const std::string l = layout == PackedLayout::kNd ? "nd" : "nz";
      auto *cann =
          benchmark::RegisterBenchmark(("cann_per_element/" + l + "/" + name).c_str(), BM_CannPerElement, s, layout);
      cann->Unit(benchmark::kMillisecond)->UseRealTime();
      if (!tiny) cann->Iterations(2);
      tune(benchmark::RegisterBenchmark(("engine_1thread/" + l + "/" + name).c_str(), BM_Engine, s, layout,
                                        std::string(int4pack::engine::active_isa()->name), 1));
      for (int i = 0; i < isa_count; ++i) {
        if (!isas[i].supported) continue;
        const std::string isa = isas[i].name;
        tune(benchmark::RegisterBenchmark(("engine_isa/" + isa + "/" + l + "/" + name).c_str(), BM_Engine, s, layout,
                                          isa, 0));
      }
    }
  }
  benchmark::RegisterBenchmark("end_to_end_64x64", BM_EndToEnd64x64)->Unit(benchmark::kMicrosecond)->MinTime(0.3);
}

}  // namespace

int main(int argc, char **argv) {
  if (int4pack::engine::active_isa() == nullptr) {
    std::fprintf(stderr, "pack_bench: %s\n", int4pack::engine::settings_error().c_str());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
