#include "engine/settings.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace int4pack::engine {
namespace {

constexpr int kMaxThreads = 1024;

struct Settings {
  const kernels::Isa *isa = nullptr;
  int default_threads = 1;
  std::string error;
};

const kernels::Isa *chosen_isa(std::string *error) {
  const char *forced = std::getenv("INT4PACK_ISA");
  if (forced == nullptr || *forced == '\0') return &kernels::best_isa();
  const kernels::Isa *isas = nullptr;
  const int count = kernels::compiled_isas(&isas);
  for (int i = 0; i < count; ++i) {
    if (std::string(forced) != isas[i].name) continue;
    if (!isas[i].supported) {
      *error = std::string("INT4PACK_ISA=") + forced + ": this CPU (or its OS) does not support " + forced;
      return nullptr;
    }
    return &isas[i];
  }
  *error =
      std::string("INT4PACK_ISA=") + forced + " is not an instruction set of this build (" + kernels::isa_names() + ")";
  return nullptr;
}

int default_thread_count(std::string *error) {
#if defined(_OPENMP)
  int count = omp_get_num_procs();
#else
  int count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#endif
  if (const char *env = std::getenv("INT4PACK_NUM_THREADS"); env != nullptr && *env != '\0') {
    char *end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (*end != '\0' || n < 1 || n > kMaxThreads) {
      if (error->empty()) {
        *error = std::string("INT4PACK_NUM_THREADS=") + env + " is not a thread count (1.." +
                 std::to_string(kMaxThreads) + ")";
      }
    } else {
      count = static_cast<int>(n);
    }
  }
  return count;
}

const Settings &settings() {
  static const Settings s = [] {
    Settings t;
    t.isa = chosen_isa(&t.error);
    t.default_threads = default_thread_count(&t.error);
    return t;
  }();
  return s;
}

std::atomic<int> thread_override{0};

}  // namespace

const std::string &settings_error() { return settings().error; }

const kernels::Isa *active_isa() { return settings().isa; }

int thread_count() {
  const int forced = thread_override.load(std::memory_order_relaxed);
  return forced > 0 ? forced : settings().default_threads;
}

bool set_thread_count(int n) {
  if (n < 0) return false;
  thread_override.store(std::min(n, kMaxThreads), std::memory_order_relaxed);
  return true;
}

}  // namespace int4pack::engine
