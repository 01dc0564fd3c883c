// aclnnWeightQuantBatchMatmulV2 as a CANN program calls it, against the golden steps: every supported
// combination of x dtype, weight dtype, format, transposition, antiquant mode, offset and bias, on shapes
// at and around the block sizes (1, 15, 16, 17, 63, 64, 65, primes) with m from 1 to past 64; the INT8
// output and packed-scale modes; CANN's sample scenarios (every y equals k); and the same bits for every
// thread count and run.
#include <string>
#include <vector>

#include "wqbmm_support.h"

namespace int4pack::testing {
namespace {

// Whether CANN's A2/A3 rules accept the combination (the randomized cases below are all valid ones).
bool supported(const MatmulCase &c) {
  const bool int4 = c.weight != WeightDtype::kInt8;
  const int64_t align = c.weight == WeightDtype::kInt32 ? 8 : c.weight == WeightDtype::kInt4 ? 2 : 1;
  if ((c.weight_transposed ? c.k : c.n) % align != 0) return false;
  if (c.mode == MatmulCase::kPerGroup && (c.group_size % 32 != 0 || c.group_size > c.k - 1)) return false;
  if (int4 && c.nz) {
    // One scale for the whole weight is per-tensor, whatever its shape says (n = 1 per channel too).
    if (c.int8_out || c.mode == MatmulCase::kPerTensor || (c.mode == MatmulCase::kPerChannel && c.n == 1)) return false;
    if (c.mode == MatmulCase::kPerChannel && !c.weight_transposed) return false;
    if (c.mode == MatmulCase::kPerGroup &&
        (c.x_transposed || c.weight_transposed || (c.group_size != 64 && c.group_size != 128) ||
         c.k % c.group_size != 0 || c.n % 64 != 0)) {
      return false;
    }
  }
  return true;
}

// Every combination, each with shapes picked from the edge lists until the rules accept one.
std::vector<MatmulCase> all_combinations() {
  const int64_t ms[] = {1, 15, 16, 17, 63, 64, 65, 71, 2, 33};
  const int64_t ks[] = {64, 65, 97, 128, 130, 193, 256, 72, 33, 160};
  const int64_t ns[] = {1, 16, 17, 63, 64, 65, 128, 130, 2, 15, 97, 192};
  std::vector<MatmulCase> cases;
  uint32_t seed = 1;
  size_t pick = 0;
  for (bool bf16 : {false, true}) {
    for (WeightDtype w : {WeightDtype::kInt4, WeightDtype::kInt32, WeightDtype::kInt8}) {
      for (bool nz : {false, true}) {
        for (bool xt : {false, true}) {
          for (bool wt : {false, true}) {
            for (auto mode : {MatmulCase::kPerTensor, MatmulCase::kPerChannel, MatmulCase::kPerGroup}) {
              for (int extras = 0; extras < 4; ++extras) {
                MatmulCase c;
                c.bf16 = bf16;
                c.weight = w;
                c.nz = nz;
                c.x_transposed = xt;
                c.weight_transposed = wt;
                c.mode = mode;
                c.offset = (extras & 1) != 0;
                c.bias = (extras & 2) != 0;
                c.scale_2d = (seed % 3) != 0;
                bool found = false;
                for (size_t tries = 0; tries < 200 && !found; ++tries, ++pick) {
                  c.m = ms[pick % 10];
                  c.k = ks[(pick / 3) % 10];
                  c.n = ns[(pick / 7) % 12];
                  c.group_size = nz && (w != WeightDtype::kInt8) ? (pick % 2 == 0 ? 64 : 128) : 32 * (1 + pick % 3);
                  found = supported(c);
                }
                if (!found) continue;  // this combination is not a valid one (e.g. INT4 NZ per-tensor)
                c.seed = seed++;
                cases.push_back(c);
              }
            }
          }
        }
      }
    }
  }
  return cases;
}

using MatmulRandomized = AclTest;

// One test over every combination (a few hundred cases of well under a millisecond each: one process, not
// hundreds); a failure names its case.
TEST_F(MatmulRandomized, EveryCombinationWithinTheBoundOfTheGoldenSteps) {
  int failures = 0;
  for (const MatmulCase &c : all_combinations()) {
    const reference::GoldenMatmul g = draw(c);
    const MatmulRun run = run_case(c, g, stream_);
    EXPECT_EQ(run.status, ACLNN_SUCCESS) << c.name() << ": " << run.message;
    const ::testing::AssertionResult ok =
        run.status == ACLNN_SUCCESS ? within_bound(c, g, run.y) : ::testing::AssertionFailure();
    EXPECT_TRUE(ok);
    if (!ok && ++failures >= 20) FAIL() << "stopping after 20 failing cases";
  }
}

// The combinations the rules refuse are refused with 161002, never run.
TEST(MatmulCombinations, EveryCombinationIsCoveredOrRefusedByTheRules) {
  const auto cases = all_combinations();
  EXPECT_GT(cases.size(), 200u);
  int nz_int4 = 0;
  for (const MatmulCase &c : cases) nz_int4 += c.nz && c.weight != WeightDtype::kInt8;
  EXPECT_GT(nz_int4, 20);
}

using MatmulOutputModes = AclTest;

// INT8 output (quantScale / quantOffset): every valid weight, f16 and bf16 x.
TEST_F(MatmulOutputModes, Int8OutputWithinHalfAStep) {
  uint32_t seed = 100;
  for (bool bf16 : {false, true}) {
    for (WeightDtype w : {WeightDtype::kInt8, WeightDtype::kInt4, WeightDtype::kInt32}) {
      for (bool wt : {false, true}) {
        MatmulCase c;
        c.m = 17;
        c.k = 96;
        c.n = 72;
        c.bf16 = bf16;
        c.weight = w;
        c.weight_transposed = wt;
        c.offset = true;
        c.bias = true;
        c.int8_out = true;
        c.seed = seed++;
        const reference::GoldenMatmul g = draw(c);
        const MatmulRun run = run_case(c, g, stream_);
        ASSERT_EQ(run.status, ACLNN_SUCCESS) << c.name() << ": " << run.message;
        EXPECT_TRUE(within_bound(c, g, run.y));
      }
    }
  }
}

// The packed-scale mode: UINT64 scale words, INT32 offset, a transposed INT8 ND weight.
TEST_F(MatmulOutputModes, PackedScaleWithinTheBound) {
  uint32_t seed = 200;
  for (int64_t m : {1, 17, 96}) {
    for (bool offset : {false, true}) {
      for (bool bias : {false, true}) {
        MatmulCase c;
        c.m = m;
        c.k = 128;
        c.n = 192;
        c.weight = WeightDtype::kInt8;
        c.weight_transposed = true;
        c.packed_scale = true;
        c.offset = offset;
        c.bias = bias;
        c.seed = seed++;
        const reference::GoldenMatmul g = draw(c);
        const MatmulRun run = run_case(c, g, stream_);
        ASSERT_EQ(run.status, ACLNN_SUCCESS) << c.name() << ": " << run.message;
        EXPECT_TRUE(within_bound(c, g, run.y));
      }
    }
  }
}

// CANN's sample scenarios: x, weight and scale all ones, so every y equals k exactly.
TEST_F(MatmulOutputModes, CannSampleScenariosGiveK) {
  for (bool nz : {false, true}) {
    for (WeightDtype w : {WeightDtype::kInt4, WeightDtype::kInt32}) {
      MatmulCase c;
      c.m = 16;
      c.k = 72;
      c.n = nz ? 17 : 16;
      c.weight = w;
      c.nz = nz;
      c.weight_transposed = nz;  // NZ per-channel takes the transposed (n, k) weight
      c.scale_2d = nz;
      reference::GoldenMatmul g = draw(c);
      std::fill(g.x.begin(), g.x.end(), 1.0f);
      std::fill(g.w.begin(), g.w.end(), 1);
      std::fill(g.scale.begin(), g.scale.end(), 1.0f);
      const MatmulRun run = run_case(c, g, stream_);
      ASSERT_EQ(run.status, ACLNN_SUCCESS) << c.name() << ": " << run.message;
      for (size_t o = 0; o < static_cast<size_t>(c.m * c.n); ++o)
        ASSERT_EQ(y_value(c, g, run.y, o), 72.0) << c.name() << " " << o;
    }
  }
}

// Large enough to be split over threads (tiles of 64 columns, rows when the tiles are few, at decode parts
// of k, at prefill groups of tiles): the same bits with 1, 2, 3 and 7 threads, and again.
TEST_F(MatmulOutputModes, EveryThreadCountGivesTheSameBits) {
  if (int4packGetIsa() == nullptr) GTEST_SKIP() << "INT4PACK_ISA is invalid in this run";
  std::vector<MatmulCase> cases(9);
  cases[0].m = 1, cases[0].k = 1024, cases[0].n = 640;
  cases[1].m = 70, cases[1].k = 512, cases[1].n = 130, cases[1].mode = MatmulCase::kPerGroup, cases[1].group_size = 128;
  cases[1].offset = true;
  cases[2].m = 300, cases[2].k = 256, cases[2].n = 64, cases[2].nz = true, cases[2].mode = MatmulCase::kPerGroup;
  cases[2].group_size = 64, cases[2].bf16 = true, cases[2].bias = true;
  cases[3].m = 2, cases[3].k = 2176, cases[3].n = 650, cases[3].weight = WeightDtype::kInt8;
  cases[3].mode = MatmulCase::kPerGroup, cases[3].group_size = 128, cases[3].offset = true;
  // k in three parts, the last one short; a group of 96 rows straddles the parts' edges.
  cases[4].m = 3, cases[4].k = 3272, cases[4].n = 130, cases[4].mode = MatmulCase::kPerGroup;
  cases[4].group_size = 96, cases[4].offset = true;
  cases[5].m = 1, cases[5].k = 2112, cases[5].n = 64, cases[5].nz = true, cases[5].mode = MatmulCase::kPerGroup;
  cases[5].group_size = 64, cases[5].bf16 = true, cases[5].bias = true;
  cases[6].m = 2, cases[6].k = 2176, cases[6].n = 130, cases[6].weight = WeightDtype::kInt8, cases[6].nz = true;
  cases[6].mode = MatmulCase::kPerGroup, cases[6].group_size = 64, cases[6].offset = true, cases[6].bf16 = true;
  // Prefill with more column tiles than a group of them takes (NZ too), the last ND tile partial.
  cases[7].m = 100, cases[7].k = 384, cases[7].n = 320, cases[7].nz = true, cases[7].mode = MatmulCase::kPerGroup;
  cases[7].group_size = 128;
  cases[8].m = 97, cases[8].k = 256, cases[8].n = 330, cases[8].mode = MatmulCase::kPerGroup;
  cases[8].group_size = 64, cases[8].offset = true;
  for (MatmulCase &c : cases) {
    const reference::GoldenMatmul g = draw(c);
    std::vector<uint8_t> first;
    for (int32_t threads : {1, 2, 3, 7, 2}) {
      ASSERT_EQ(int4packSetNumThreads(threads), ACLNN_SUCCESS);
      const MatmulRun run = run_case(c, g, stream_);
      ASSERT_EQ(run.status, ACLNN_SUCCESS) << c.name() << ": " << run.message;
      if (first.empty()) {
        first = run.y;
        EXPECT_TRUE(within_bound(c, g, run.y));
      }
      ASSERT_EQ(run.y, first) << c.name() << " with " << threads << " threads";
    }
  }
  EXPECT_EQ(int4packSetNumThreads(0), ACLNN_SUCCESS);
}

}  // namespace
}  // namespace int4pack::testing
