// Benchmarks of aclnnWeightQuantBatchMatmulV2 for scripts/bench (issue 13's table), with the baselines each
// figure is measured against, in one binary so that every ratio comes from one run:
//   read_only/<k>x<n>          a read-only pass over the packed int4 bytes on all threads (decode's limit)
//   plain_loop/m1              a plain one-thread dequantize-and-accumulate loop (-O3), m = 1
//   sgemm/m<m>                 OpenBLAS sgemm on the float32 dequantized weight (prefill's alternative)
//   wqbmm/<case>               the operator through the CANN API, all threads
//   cold/...                   read_only and decode wqbmm with the weight rotated over copies that together
//                              exceed twice the last-level cache: every call reads it from memory, as a
//                              model's layers are at decode (the weight alone fits in a large L3)
//   isa/<isa>/<case>           the engine with one ISA's kernels (every ISA against scalar)
//   paired/cold/<case>         cold decode and the cold read pass in turns, each call timed (paired.h)
//   paired/bf16_vs_f16/<case>  the BFLOAT16 case and its FLOAT16 twin in turns
//   paired/floor/<case>        decode's compute floor (its kernel on as many weight rows, which stay in L1,
//                              all threads) and the cold read pass in turns
//   paired/floor_threads/<case>  that floor on all threads and on one in turns
//   paired/sgemm/<case>        prefill and OpenBLAS sgemm on the same shape in turns
// FLOAT16 x unless the case says bf16; per-group 128 unless it says channel; no offset.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "acl_session.h"
#include "aclnnop/aclnn_weight_quant_batch_matmul_v2.h"
#include "core/floats.h"
#include "engine/matmul_run.h"
#include "engine/settings.h"
#include "int4pack/engine.h"
#include "int4pack/settings.h"
#include "kernels/isa.h"
#include "kernels/matmul_kernels.h"
#include "paired.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

enum class Weight { kInt4Nd, kInt4Nz, kInt4NzTransposed, kInt8Nd, kInt8Nz };

struct Case {
  std::string name;
  int64_t m, k, n;
  Weight weight = Weight::kInt4Nd;
  bool bf16 = false;
  int64_t group = 128;  // 0: per-channel
};

constexpr int64_t kDecodeK = 8192, kDecodeN = 14336, kPrefillK = 4096, kPrefillN = 4096;

// Device memory (aclrtMalloc, as a CANN program allocates it: large blocks in huge pages).
struct DeviceBytes {
  uint8_t *ptr = nullptr;
  size_t count = 0;
  void resize(size_t bytes) {
    if (ptr != nullptr) aclrtFree(ptr);
    void *p = nullptr;
    aclrtMalloc(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST);
    ptr = static_cast<uint8_t *>(p);
    count = bytes;
  }
  uint8_t *data() { return ptr; }
  const uint8_t *data() const { return ptr; }
  size_t size() const { return count; }
  uint8_t *begin() { return ptr; }
  uint8_t *end() { return ptr + count; }
};

// The data of a case: x, the packed weight, the scale, y; and its float32 dequantized weight for sgemm.
struct Data {
  std::vector<uint16_t> x, scale, y;
  DeviceBytes weight;
  std::vector<float> dequantized, x_float;  // only for the sgemm baseline
  std::vector<DeviceBytes> copies;          // only for the cold runs: the weight again, elsewhere
};

// How many copies of `bytes` together exceed twice the last-level cache (64 MiB when the OS does not say).
size_t cold_copies(size_t bytes) {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const size_t cache = l3 > 0 ? static_cast<size_t>(l3) : (size_t{64} << 20);
  return std::max<size_t>(2, (2 * cache + bytes - 1) / bytes);
}

void make_copies(Data *d) {
  if (!d->copies.empty()) return;
  d->copies.resize(cold_copies(d->weight.size()));
  for (DeviceBytes &c : d->copies) {
    c.resize(d->weight.size());
    std::memcpy(c.data(), d->weight.data(), d->weight.size());
  }
}

std::vector<int32_t> int4_values(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int32_t> v(static_cast<size_t>(rows * cols));
  for (int32_t &e : v) e = static_cast<int32_t>(gen() % 16) - 8;
  return v;
}

Data make_data(const Case &c) {
  library();
  Data d;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  d.x.resize(static_cast<size_t>(c.m * c.k));
  for (uint16_t &h : d.x) h = c.bf16 ? int4pack::float_to_bfloat16(unit(gen)) : int4pack::float_to_half(unit(gen));
  const int64_t groups = c.group == 0 ? 1 : (c.k + c.group - 1) / c.group;
  d.scale.resize(static_cast<size_t>(groups * c.n));
  for (uint16_t &h : d.scale) {
    const float s = 0.001f + 0.01f * (unit(gen) + 1.0f);
    h = c.bf16 ? int4pack::float_to_bfloat16(s) : int4pack::float_to_half(s);
  }
  d.y.resize(static_cast<size_t>(c.m * c.n));
  if (c.weight == Weight::kInt8Nd || c.weight == Weight::kInt8Nz) {  // random bytes: any layout
    d.weight.resize(static_cast<size_t>(c.k * c.n));
    for (uint8_t &b : d.weight) b = static_cast<uint8_t>(gen());
    return d;
  }
  const bool transposed = c.weight == Weight::kInt4NzTransposed;
  const int64_t rows = transposed ? c.n : c.k, cols = transposed ? c.k : c.n;
  const std::vector<int32_t> v = int4_values(rows, cols, 11);
  const int4pack::Layout layout = c.weight == Weight::kInt4Nd ? int4pack::Layout::kNd : int4pack::Layout::kNz;
  size_t bytes = 0;
  int4pack::packed_size({rows, cols}, layout, &bytes);
  d.weight.resize(bytes);
  int4pack::pack({v.data(), int4pack::ElementType::kInt32, {rows, cols}, {}}, layout, d.weight.data(), bytes);
  return d;
}

// The dequantized float32 weight (k, n) and x for sgemm: built once, not timed.
void make_float_operands(const Case &c, Data *d) {
  const std::vector<int32_t> v = int4_values(c.k, c.n, 11);
  d->dequantized.resize(v.size());
  for (int64_t r = 0; r < c.k; ++r) {
    for (int64_t j = 0; j < c.n; ++j) {
      const float s = int4pack::half_to_float(d->scale[static_cast<size_t>((r / c.group) * c.n + j)]);
      d->dequantized[static_cast<size_t>(r * c.n + j)] = static_cast<float>(v[static_cast<size_t>(r * c.n + j)]) * s;
    }
  }
  d->x_float.resize(d->x.size());
  for (size_t i = 0; i < d->x.size(); ++i) d->x_float[i] = int4pack::half_to_float(d->x[i]);
}

Data &data(const Case &c, bool floats = false) {
  static std::map<std::string, Data> cache;
  auto it = cache.find(c.name);
  if (it == cache.end()) it = cache.emplace(c.name, make_data(c)).first;
  if (floats && it->second.dequantized.empty()) make_float_operands(c, &it->second);
  return it->second;
}

// The operator's descriptors over a case's data.
struct Tensors {
  aclTensor *x = nullptr, *w = nullptr, *scale = nullptr, *y = nullptr;
  Tensors(const Case &c, Data &d) : Tensors(c, d, d.weight.data()) {}
  Tensors(const Case &c, Data &d, uint8_t *weight) {
    const aclDataType act = c.bf16 ? ACL_BF16 : ACL_FLOAT16;
    const int64_t xd[2] = {c.m, c.k}, yd[2] = {c.m, c.n};
    x = aclCreateTensor(xd, 2, act, nullptr, 0, ACL_FORMAT_ND, xd, 2, d.x.data());
    y = aclCreateTensor(yd, 2, act, nullptr, 0, ACL_FORMAT_ND, yd, 2, d.y.data());
    const int64_t groups = c.group == 0 ? 1 : (c.k + c.group - 1) / c.group;
    const int64_t sd2[2] = {groups, c.n}, sd1[1] = {c.n};
    scale = c.group == 0 ? aclCreateTensor(sd1, 1, act, nullptr, 0, ACL_FORMAT_ND, sd1, 1, d.scale.data())
                         : aclCreateTensor(sd2, 2, act, nullptr, 0, ACL_FORMAT_ND, sd2, 2, d.scale.data());
    const int64_t wd[2] = {c.k, c.n};
    switch (c.weight) {
      case Weight::kInt8Nd:
        w = aclCreateTensor(wd, 2, ACL_INT8, nullptr, 0, ACL_FORMAT_ND, wd, 2, weight);
        break;
      case Weight::kInt8Nz: {
        const int64_t st[4] = {(c.n + 31) / 32, (c.k + 15) / 16, 16, 32};
        w = aclCreateTensor(wd, 2, ACL_INT8, nullptr, 0, ACL_FORMAT_FRACTAL_NZ, st, 4, weight);
        break;
      }
      case Weight::kInt4Nd:
        w = aclCreateTensor(wd, 2, ACL_INT4, nullptr, 0, ACL_FORMAT_ND, wd, 2, weight);
        break;
      case Weight::kInt4Nz: {
        const int64_t st[4] = {(c.n + 63) / 64, (c.k + 15) / 16, 16, 64};
        w = aclCreateTensor(wd, 2, ACL_INT4, nullptr, 0, ACL_FORMAT_FRACTAL_NZ, st, 4, weight);
        break;
      }
      case Weight::kInt4NzTransposed: {
        const int64_t st[4] = {(c.k + 63) / 64, (c.n + 15) / 16, 16, 64};
        const int64_t strides[2] = {1, c.k};
        w = aclCreateTensor(wd, 2, ACL_INT4, strides, 0, ACL_FORMAT_FRACTAL_NZ, st, 4, weight);
        break;
      }
    }
  }
  ~Tensors() {
    for (aclTensor *t : {x, w, scale, y}) aclDestroyTensor(t);
  }
};

void set_counters(benchmark::State &state, const Case &c) {
  const bool int8 = c.weight == Weight::kInt8Nd || c.weight == Weight::kInt8Nz;
  const double weight_bytes = int8 ? static_cast<double>(c.k * c.n) : c.k * c.n / 2.0;
  state.counters["weight_GBps"] =
      benchmark::Counter(weight_bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["threads_used"] = int4pack::engine::thread_count();
}

// One call of the operator on a case's tensors: false on an error.
bool call_operator(const Case &c, const Tensors &t) {
  const aclrtStream stream = library().stream;
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  return aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(t.x, t.w, t.scale, nullptr, nullptr, nullptr, nullptr,
                                                       static_cast<int>(c.group), t.y, &workspace,
                                                       &executor) == ACLNN_SUCCESS &&
         aclnnWeightQuantBatchMatmulV2(nullptr, workspace, executor, stream) == ACLNN_SUCCESS &&
         aclrtSynchronizeStream(stream) == ACL_SUCCESS;
}

// One call of the operator on a case's tensors: false (and the benchmark stopped) if anything fails.
bool run_operator(benchmark::State &state, const Case &c, const Tensors &t) {
  if (call_operator(c, t)) return true;
  state.SkipWithError(aclGetRecentErrMsg());
  return false;
}

// The operator's descriptors over each copy of a case's weight (made here if need be).
std::vector<std::unique_ptr<Tensors>> cold_tensors(const Case &c, Data &d) {
  make_copies(&d);
  std::vector<std::unique_ptr<Tensors>> tensors;
  for (DeviceBytes &w : d.copies) tensors.push_back(std::make_unique<Tensors>(c, d, w.data()));
  return tensors;
}

// The operator with the weight rotated over its copies: each call finds it out of cache.
void BM_OperatorCold(benchmark::State &state, Case c) {
  Data &d = data(c);
  const std::vector<std::unique_ptr<Tensors>> tensors = cold_tensors(c, d);
  size_t next = 0;
  for (auto _ : state) {
    if (!run_operator(state, c, *tensors[next])) break;
    next = (next + 1) % tensors.size();
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
  state.counters["copies"] = static_cast<double>(tensors.size());
}

void BM_Operator(benchmark::State &state, Case c, int threads) {
  Data &d = data(c);
  Tensors t(c, d);
  const int saved = int4packGetNumThreads();
  if (threads > 0) int4packSetNumThreads(threads);
  for (auto _ : state) {
    if (!run_operator(state, c, t)) break;
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
  if (threads > 0) state.counters["threads_used"] = threads;
  int4packSetNumThreads(saved);
}

// The engine with one ISA's kernels (all threads).
void BM_Isa(benchmark::State &state, Case c, std::string isa) {
  const int4pack::kernels::Isa *k = int4pack::kernels::find_supported(isa);
  if (k == nullptr) {
    state.SkipWithError(("ISA not supported here: " + isa).c_str());
    return;
  }
  Data &d = data(c);
  int4pack::MatmulArgs a;
  const int4pack::ElementType act = c.bf16 ? int4pack::ElementType::kBFloat16 : int4pack::ElementType::kFloat16;
  a.x = {d.x.data(), act, c.m, c.k, c.k, 1};
  a.weight = {
      d.weight.data(),
      d.weight.size(),
      c.weight == Weight::kInt8Nd || c.weight == Weight::kInt8Nz ? int4pack::ElementType::kInt8
                                                                 : int4pack::ElementType::kInt4,
      c.weight == Weight::kInt4Nd || c.weight == Weight::kInt8Nd ? int4pack::Layout::kNd : int4pack::Layout::kNz,
      c.weight == Weight::kInt4NzTransposed,
      c.k,
      c.n};
  const int64_t groups = c.group == 0 ? 1 : (c.k + c.group - 1) / c.group;
  a.scale = {d.scale.data(), act, groups, c.n, c.n, 1};
  a.group_size = c.group;
  a.y = d.y.data();
  a.y_type = act;
  const int4pack::engine::Run run{k, int4pack::engine::thread_count()};
  for (auto _ : state) {
    if (!int4pack::engine::weight_quant_matmul_with(a, run)) {
      state.SkipWithError("the engine refused the case");
      break;
    }
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

// Every word of `bytes` read once, on all threads.
uint64_t read_pass(const DeviceBytes &bytes) {
  const int64_t words = static_cast<int64_t>(bytes.size() / 8);
  const auto *w = reinterpret_cast<const uint64_t *>(bytes.data());
  const int threads = int4pack::engine::thread_count();
  uint64_t acc = 0;
#if defined(_OPENMP)
#pragma omp parallel for num_threads(threads) reduction(| : acc) schedule(static)
#endif
  for (int64_t i = 0; i < words; ++i) acc |= w[i];
  return acc;
}

// The limit of decode: read every packed weight byte once, on all threads.
void BM_ReadOnly(benchmark::State &state, Case c) {
  Data &d = data(c);
  for (auto _ : state) benchmark::DoNotOptimize(read_pass(d.weight));
  set_counters(state, c);
}

// The read pass over the copies in turn (BM_OperatorCold's limit).
void BM_ReadOnlyCold(benchmark::State &state, Case c) {
  Data &d = data(c);
  make_copies(&d);
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(read_pass(d.copies[next]));
    next = (next + 1) % d.copies.size();
  }
  set_counters(state, c);
  state.counters["copies"] = static_cast<double>(d.copies.size());
}

// Cold decode and the cold read pass in turns: the read pass takes the copy half a rotation away from the
// operator's, so every copy still goes unread for longer than the cache can hold it.
void BM_PairedCold(benchmark::State &state, Case c) {
  Data &d = data(c);
  const std::vector<std::unique_ptr<Tensors>> tensors = cold_tensors(c, d);
  size_t next = 0;
  measure_paired(
      state, [&] { return call_operator(c, *tensors[next]); },
      [&] {
        benchmark::DoNotOptimize(read_pass(d.copies[(next + d.copies.size() / 2) % d.copies.size()]));
        next = (next + 1) % d.copies.size();
        return true;
      });
  set_counters(state, c);
}

// A BFLOAT16 case and its FLOAT16 twin (same shape and weight layout) in turns, each on its own data.
void BM_PairedBf16(benchmark::State &state, Case bf16) {
  Case f16 = bf16;
  f16.bf16 = false;
  f16.name = "f16" + bf16.name.substr(4);
  const Tensors a(bf16, data(bf16)), b(f16, data(f16));
  measure_paired(
      state, [&] { return call_operator(bf16, a); }, [&] { return call_operator(f16, b); });
  set_counters(state, bf16);
}

// Decode's compute floor: the kernel the decode runs (the active ISA's accumulate_int4_tiles; for one row
// of x and an NZ weight, or ND where the table says by_lanes_on_nd, its accumulate_int4_tiles_by_lanes, as
// the engine takes them), a scale
// group of kFloorTiles neighbouring tiles a call, kSegment rows of each in turn) over as many weight rows as
// the case has, but the same few rows again and again, which stay in L1: decode with its memory taken away.
// The cold read pass over this floor is the most the kernel can give of the read pass on this host.
constexpr int64_t kFloorTiles = 2, kFloorRows = 128, kFloorSegment = 16;

class DecodeFloor {
 public:
  explicit DecodeFloor(const Case &c) : c_(c), threads_(int4pack::engine::thread_count()) {
    const Data &d = data(c);
    // ND: kFloorTiles tiles side by side; NZ: each tile's rows back to back (the first rows of the weight).
    const int64_t row_bytes = kFloorTiles * int4pack::kernels::kPanelCols / 2;
    bytes_.assign(d.weight.data(), d.weight.data() + kFloorRows * row_bytes);
    for (int64_t i = 0; i < c.m * kFloorRows; ++i) x_.push_back(to_float(d.x[static_cast<size_t>(i)]));
    for (int64_t j = 0; j < kFloorTiles * int4pack::kernels::kPanelCols; ++j)
      scale_.push_back(to_float(d.scale[static_cast<size_t>(j)]));
    acc_.assign(static_cast<size_t>(threads_), std::vector<float>(static_cast<size_t>(kFloorTiles * c.m * 64)));
    scratch_.assign(static_cast<size_t>(threads_),
                    std::vector<uint8_t>(static_cast<size_t>(kFloorTiles * int4pack::kernels::kTileScratchBytes)));
  }
  // The case's k x n / 64 tile rows, in calls of kFloorTiles x kFloorRows, on `threads` threads (true).
  bool run(int threads) {
    const int64_t calls = c_.k / kFloorRows * (c_.n / (kFloorTiles * int4pack::kernels::kPanelCols));
    const int4pack::kernels::MatmulKernels &mk = *int4pack::engine::active_isa()->matmul;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
#endif
    {
      int t = 0, nt = 1;
#if defined(_OPENMP)
      t = omp_get_thread_num();
      nt = omp_get_num_threads();
#endif
      const bool nz = c_.weight == Weight::kInt4Nz;
      const int4pack::kernels::TileRun run{
          bytes_.data(),
          nz ? int4pack::kernels::kPanelCols / 2 : kFloorTiles * int4pack::kernels::kPanelCols / 2,
          nz ? kFloorRows * int4pack::kernels::kPanelCols / 2 : int4pack::kernels::kPanelCols / 2,
          kFloorRows,
          kFloorTiles,
          kFloorSegment,
          nullptr,
          scale_.data(),
          int4pack::kernels::kPanelCols,
          c_.bf16 ? int4pack::kernels::Rounding::kBFloat16 : int4pack::kernels::Rounding::kHalf,
          x_.data(),
          kFloorRows,
          c_.m,
          acc_[static_cast<size_t>(t)].data(),
          c_.m * int4pack::kernels::kPanelCols,
          scratch_[static_cast<size_t>(t)].data()};
      const auto step = (nz || mk.by_lanes_on_nd) && c_.m == 1 && mk.accumulate_int4_tiles_by_lanes != nullptr
                            ? mk.accumulate_int4_tiles_by_lanes
                            : mk.accumulate_int4_tiles;
      for (int64_t i = calls * t / nt; i < calls * (t + 1) / nt; ++i) step(run);
    }
    (void)threads;
    return true;
  }

 private:
  float to_float(uint16_t v) const { return c_.bf16 ? int4pack::bfloat16_to_float(v) : int4pack::half_to_float(v); }
  Case c_;
  int threads_;
  std::vector<uint8_t> bytes_;
  std::vector<float> x_, scale_;
  std::vector<std::vector<float>> acc_;
  std::vector<std::vector<uint8_t>> scratch_;
};

// The floor on all threads in turns with a reference: the cold read pass (reference_over_ours is then the
// floor's ceiling), or the floor on one thread (then it is how much more work all threads do than one
// where nothing waits for memory: their number, on independent cores).
void BM_PairedFloor(benchmark::State &state, Case c, bool against_one_thread) {
  DecodeFloor floor(c);
  Data &d = data(c);
  if (!against_one_thread) make_copies(&d);
  size_t next = 0;
  measure_paired(
      state, [&] { return floor.run(int4pack::engine::thread_count()); },
      [&] {
        if (against_one_thread) return floor.run(1);
        benchmark::DoNotOptimize(read_pass(d.copies[next]));
        next = (next + 1) % d.copies.size();
        return true;
      });
  set_counters(state, c);
}

// The simple algorithm: y[j] += x[c] * ((q - 8) * scale) over the ND bytes, one thread, float32.
void BM_PlainLoop(benchmark::State &state, Case c) {
  Data &d = data(c);
  std::vector<float> x(static_cast<size_t>(c.k)), y(static_cast<size_t>(c.n)), s(static_cast<size_t>(c.n));
  for (int64_t i = 0; i < c.k; ++i) x[static_cast<size_t>(i)] = int4pack::half_to_float(d.x[static_cast<size_t>(i)]);
  for (auto _ : state) {
    std::fill(y.begin(), y.end(), 0.0f);
    for (int64_t r = 0; r < c.k; ++r) {
      if (r % c.group == 0) {
        for (int64_t j = 0; j < c.n; ++j) {
          s[static_cast<size_t>(j)] = int4pack::half_to_float(d.scale[static_cast<size_t>((r / c.group) * c.n + j)]);
        }
      }
      const uint8_t *row = d.weight.data() + r * (c.n / 2);
      const float xr = x[static_cast<size_t>(r)];
      for (int64_t j = 0; j < c.n; ++j) {
        const int q = ((row[j / 2] >> (4 * (j % 2))) & 15) - 8;
        y[static_cast<size_t>(j)] += xr * (static_cast<float>(q) * s[static_cast<size_t>(j)]);
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, c);
  state.counters["threads_used"] = 1;
}

// What a user without this operator does at prefill: sgemm on the dequantized weight (OpenBLAS), y (m, n).
void sgemm(const Case &c, const Data &d, std::vector<float> *y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(c.m), static_cast<int>(c.n),
              static_cast<int>(c.k), 1.0f, d.x_float.data(), static_cast<int>(c.k), d.dequantized.data(),
              static_cast<int>(c.n), 0.0f, y->data(), static_cast<int>(c.n));
  benchmark::DoNotOptimize(y->data());
}

void BM_Sgemm(benchmark::State &state, Case c) {
  Data &d = data(c, true);
  std::vector<float> y(static_cast<size_t>(c.m * c.n));
  for (auto _ : state) sgemm(c, d, &y);
  set_counters(state, c);
  state.counters["threads_used"] = openblas_get_num_threads();
}

// Prefill and sgemm on its shape in turns: both are bound by arithmetic on a shared host whose other
// tenants take the cores for seconds at a time, and the separate medians move with them.
void BM_PairedSgemm(benchmark::State &state, Case c) {
  const Tensors tensors(c, data(c));
  Data &d = data(c, true);
  std::vector<float> y(static_cast<size_t>(c.m * c.n));
  measure_paired(
      state, [&] { return call_operator(c, tensors); },
      [&] {
        sgemm(c, d, &y);
        return true;
      });
  set_counters(state, c);
}

void register_all() {
  const auto tune = [](benchmark::internal::Benchmark *b) { b->Unit(benchmark::kMillisecond)->UseRealTime(); };
  const Case decode{"decode", 1, kDecodeK, kDecodeN};
  std::vector<Case> cases;
  for (int64_t m : {1, 16}) {
    for (bool bf16 : {false, true}) {
      for (Weight w : {Weight::kInt4Nd, Weight::kInt4Nz}) {
        cases.push_back({std::string(bf16 ? "bf16" : "f16") + "/" + (w == Weight::kInt4Nd ? "int4_nd" : "int4_nz") +
                             "/group128/m" + std::to_string(m),
                         m, kDecodeK, kDecodeN, w, bf16, 128});
      }
    }
  }
  for (int64_t m : {256, 1024}) {
    for (bool bf16 : {false, true}) {
      for (Weight w : {Weight::kInt4Nd, Weight::kInt4Nz}) {
        cases.push_back({std::string(bf16 ? "bf16" : "f16") + "/" + (w == Weight::kInt4Nd ? "int4_nd" : "int4_nz") +
                             "/group128/m" + std::to_string(m),
                         m, kPrefillK, kPrefillN, w, bf16, 128});
      }
    }
  }
  cases.push_back({"f16/int4_nd/channel/m1", 1, kDecodeK, kDecodeN, Weight::kInt4Nd, false, 0});
  cases.push_back({"f16/int8_nd/channel/m1", 1, kDecodeK, kDecodeN, Weight::kInt8Nd, false, 0});
  cases.push_back({"bf16/int8_nd/channel/m1", 1, kDecodeK, kDecodeN, Weight::kInt8Nd, true, 0});
  cases.push_back({"f16/int8_nz/channel/m1", 1, kDecodeK, kDecodeN, Weight::kInt8Nz, false, 0});
  cases.push_back({"f16/int4_nz_transposed/channel/m1", 1, kDecodeK, kDecodeN, Weight::kInt4NzTransposed, false, 0});
  for (const Case &c : cases) tune(benchmark::RegisterBenchmark(("wqbmm/" + c.name).c_str(), BM_Operator, c, 0));
  const Case one{"f16/int4_nd/group128/m1", 1, kDecodeK, kDecodeN};
  tune(benchmark::RegisterBenchmark("wqbmm_1thread/f16/int4_nd/group128/m1", BM_Operator, one, 1));
  tune(benchmark::RegisterBenchmark("read_only/8192x14336", BM_ReadOnly, decode));
  tune(benchmark::RegisterBenchmark("cold/read_only/8192x14336", BM_ReadOnlyCold, decode));
  for (const Case &c : cases) {
    if (c.k == kDecodeK && c.name.rfind("f16/int4_n", 0) == 0 && c.group == 128)
      tune(benchmark::RegisterBenchmark(("cold/wqbmm/" + c.name).c_str(), BM_OperatorCold, c));
  }
  for (const Case &c : cases) {
    if (c.k == kDecodeK && c.name.rfind("f16/int4_n", 0) == 0 && c.group == 128)
      tune(benchmark::RegisterBenchmark(("paired/cold/" + c.name).c_str(), BM_PairedCold, c));
  }
  for (const Case &c : cases) {
    if (c.bf16 && c.group == 128 && (c.weight == Weight::kInt4Nd || c.m == 1 || c.m == 256))
      tune(benchmark::RegisterBenchmark(("paired/bf16_vs_f16/" + c.name).c_str(), BM_PairedBf16, c));
  }
  for (const Case &c : cases) {
    const bool nd_floor = c.weight == Weight::kInt4Nd && (c.m == 1 || !c.bf16);
    const bool nz_floor = c.weight == Weight::kInt4Nz && c.m == 1 && !c.bf16;
    if (c.k == kDecodeK && c.group == 128 && (nd_floor || nz_floor)) {
      tune(benchmark::RegisterBenchmark(("paired/floor/" + c.name).c_str(), BM_PairedFloor, c, false));
      tune(benchmark::RegisterBenchmark(("paired/floor_threads/" + c.name).c_str(), BM_PairedFloor, c, true));
    }
  }
  tune(benchmark::RegisterBenchmark("plain_loop/m1", BM_PlainLoop, decode));
  for (int64_t m : {256, 1024}) {
    const Case c{"sgemm/m" + std::to_string(m), m, kPrefillK, kPrefillN};
    tune(benchmark::RegisterBenchmark(("sgemm/m" + std::to_string(m)).c_str(), BM_Sgemm, c));
  }
  // A pair at m = 1024 takes a third of a second: a fixed count gives the median enough pairs.
  for (const Case &c : cases) {
    if (c.k == kPrefillK && !c.bf16)
      tune(benchmark::RegisterBenchmark(("paired/sgemm/" + c.name).c_str(), BM_PairedSgemm, c)
               ->Iterations(c.m == 256 ? 24 : 8));
  }
  const int4pack::kernels::Isa *isas = nullptr;
  const int count = int4pack::kernels::compiled_isas(&isas);
  for (int i = 0; i < count; ++i) {
    const Case bf16_one{"bf16/int4_nd/group128/m1", 1, kDecodeK, kDecodeN, Weight::kInt4Nd, true};
    for (const Case &c : {one, bf16_one, Case{"f16/int4_nd/group128/m256", 256, kPrefillK, kPrefillN}}) {
      tune(benchmark::RegisterBenchmark(("isa/" + std::string(isas[i].name) + "/" + c.name).c_str(), BM_Isa, c,
                                        std::string(isas[i].name)));
    }
  }
}

}  // namespace

int main(int argc, char **argv) {
  library();
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
