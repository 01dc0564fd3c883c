#include "core/pack.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kernels/kernels.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace int4pack {
namespace {

// Below this much input per thread, another thread costs more to start than it saves (a 64x64 weight,
// 16 KiB, stays on the caller's thread).
constexpr int64_t kMinInputBytesPerThread = int64_t{256} << 10;
// Outputs this large leave the cache before anyone reads them: write them with non-temporal stores.
constexpr size_t kStreamingOutputBytes = size_t{4} << 20;
constexpr int kMaxThreads = 1024;

struct ThreadSetting {
  int default_count = 1;
  std::string error;
};

const ThreadSetting &thread_setting() {
  static const ThreadSetting s = [] {
    ThreadSetting t;
#if defined(_OPENMP)
    t.default_count = omp_get_num_procs();
#else
    t.default_count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#endif
    if (const char *env = std::getenv("INT4PACK_NUM_THREADS"); env != nullptr && *env != '\0') {
      char *end = nullptr;
      const long n = std::strtol(env, &end, 10);
      if (*end != '\0' || n < 1 || n > kMaxThreads) {
        t.error = std::string("INT4PACK_NUM_THREADS=") + env + " is not a thread count (1.." +
                  std::to_string(kMaxThreads) + ")";
      } else {
        t.default_count = static_cast<int>(n);
      }
    }
    return t;
  }();
  return s;
}

std::atomic<int> thread_override{0};

// Runs work(part) for part in [0, parts) on up to `threads` threads; part 0 on the caller's thread.
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

int parts_for(int64_t input_bytes, int threads, int64_t max_parts) {
  const int64_t by_size = std::max<int64_t>(1, input_bytes / kMinInputBytesPerThread);
  return static_cast<int>(std::max<int64_t>(1, std::min({static_cast<int64_t>(threads), by_size, max_parts})));
}

// ND: contiguous byte ranges, each starting on a 64-byte boundary of the output.
template <typename Kernel>
void split_nd(int64_t bytes, int threads, const Kernel &kernel) {
  const int parts = parts_for(bytes * 8, threads, (bytes + 63) / 64);
  const int64_t chunk = (bytes / parts + 63) / 64 * 64;
  run_parts(parts, threads, [&](int p) {
    const int64_t begin = std::min(bytes, p * chunk);
    const int64_t end = p == parts - 1 ? bytes : std::min(bytes, begin + chunk);
    kernel(begin, end);
  });
}

// NZ: ranges of row blocks; a block belongs to exactly one range.
template <typename Kernel>
void split_nz(MatrixShape shape, int threads, const Kernel &kernel) {
  const int64_t row_blocks = nz_row_blocks(shape.rows);
  const int parts = parts_for(shape.rows * shape.cols * 4, threads, row_blocks);
  run_parts(parts, threads, [&](int p) { kernel(row_blocks * p / parts, row_blocks * (p + 1) / parts); });
}

// (v - low) has no bit above the low four exactly when v is in [low, low + 15]: a branch-free OR that
// compilers vectorise with plain SSE2 / NEON.
template <typename T>
bool within_16(const uint8_t *p, int64_t n, int32_t low) {
  uint32_t outside = 0;
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    outside |= (static_cast<uint32_t>(static_cast<int32_t>(v)) - static_cast<uint32_t>(low)) & ~0xFu;  // mod 2^32
  }
  return outside == 0;
}

bool within_16(const uint8_t *p, int64_t n, int element_bytes, bool is_signed, int32_t low) {
  switch (element_bytes * (is_signed ? 1 : -1)) {
    case 4: return within_16<int32_t>(p, n, low);
    case 2: return within_16<int16_t>(p, n, low);
    case 1: return within_16<int8_t>(p, n, low);
    case -4: return within_16<uint32_t>(p, n, low);
    case -2: return within_16<uint16_t>(p, n, low);
    case -1: return within_16<uint8_t>(p, n, low);
    default: return false;
  }
}

}  // namespace

bool carriers_fit_int4(const void *data, int64_t count, int element_bytes, bool is_signed, int32_t low) {
  const auto *p = static_cast<const uint8_t *>(data);
  const int parts = parts_for(count * element_bytes, thread_count(), count);
  std::atomic<bool> fits{true};
  run_parts(parts, thread_count(), [&](int part) {
    const int64_t begin = count * part / parts;
    const int64_t end = count * (part + 1) / parts;
    if (!within_16(p + begin * element_bytes, end - begin, element_bytes, is_signed, low)) fits = false;
  });
  return fits;
}

std::string engine_error() {
  if (!kernels::isa_error().empty()) return kernels::isa_error();
  return thread_setting().error;
}

int thread_count() {
  const int forced = thread_override.load(std::memory_order_relaxed);
  return forced > 0 ? forced : thread_setting().default_count;
}

bool set_thread_count(int n) {
  if (n < 0) return false;
  thread_override.store(std::min(n, kMaxThreads), std::memory_order_relaxed);
  return true;
}

void pack_with(const PackPlan &plan, const kernels::KernelTable &k, int threads) {
  const bool streaming = packed_bytes(plan.shape, plan.layout) >= kStreamingOutputBytes;
  if (plan.layout == PackedLayout::kNd) {
    split_nd(plan.shape.rows * (plan.shape.cols / 2), threads, [&](int64_t begin, int64_t end) {
      k.pack_nd(plan.src + 2 * begin, plan.dst + begin, end - begin, streaming);
    });
  } else {
    split_nz(plan.shape, threads, [&](int64_t rb_begin, int64_t rb_end) {
      k.pack_nz(plan.src, plan.dst, plan.shape, rb_begin, rb_end, streaming);
    });
  }
}

void unpack_with(const UnpackPlan &plan, const kernels::KernelTable &k, int threads) {
  if (plan.layout == PackedLayout::kNd) {
    split_nd(plan.shape.rows * (plan.shape.cols / 2), threads, [&](int64_t begin, int64_t end) {
      k.unpack_nd(plan.src + begin, plan.dst + 2 * begin, end - begin);
    });
  } else {
    split_nz(plan.shape, threads, [&](int64_t rb_begin, int64_t rb_end) {
      k.unpack_nz(plan.src, plan.dst, plan.shape, rb_begin, rb_end);
    });
  }
}

void pack(const PackPlan &plan) {
  const kernels::KernelTable *k = kernels::active_kernels();
  pack_with(plan, k != nullptr ? *k : *kernels::find_supported("scalar"), thread_count());
}

void unpack(const UnpackPlan &plan) {
  const kernels::KernelTable *k = kernels::active_kernels();
  unpack_with(plan, k != nullptr ? *k : *kernels::find_supported("scalar"), thread_count());
}

}  // namespace int4pack
