// The engine's thread split (engine/parallel.h): every part runs once, and a part that throws neither ends
// the process (an exception may not leave an OpenMP region or a std::thread) nor goes unreported.
#include "engine/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace int4pack::engine {
namespace {

TEST(RunParts, EveryPartRunsOnce) {
  for (int threads : {1, 2, 3, 8}) {
    std::vector<std::atomic<int>> runs(17);
    run_parts(17, threads, [&](int p) { runs[static_cast<size_t>(p)].fetch_add(1); });
    for (size_t p = 0; p < runs.size(); ++p)
      EXPECT_EQ(runs[p].load(), 1) << "part " << p << ", " << threads << " threads";
  }
}

TEST(RunParts, AThrowingPartReachesTheCaller) {
  for (int threads : {1, 2, 4}) {
    for (int thrower : {0, 1, 3}) {  // the calling thread's part, then helpers' parts
      std::atomic<int> runs{0};
      EXPECT_THROW(run_parts(4, threads,
                             [&](int p) {
                               runs.fetch_add(1);
                               if (p == thrower) throw std::bad_alloc();
                             }),
                   std::bad_alloc)
          << "part " << thrower << " of 4 on " << threads << " threads";
      EXPECT_GE(runs.load(), 1);
    }
  }
}

TEST(RunParts, TheFirstExceptionIsTheOneRethrown) {
  // Every part throws; whichever came first is rethrown, whole, on the calling thread.
  try {
    run_parts(4, 4, [](int p) { throw std::runtime_error("part " + std::to_string(p)); });
    ADD_FAILURE() << "nothing was thrown";
  } catch (const std::runtime_error &e) {
    EXPECT_EQ(std::string(e.what()).rfind("part ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace int4pack::engine
