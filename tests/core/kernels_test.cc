// Every kernel table this CPU runs, and every thread count, against the reference, byte for byte.
// Shapes sit below, on and above each block size (NZ blocks: 16 rows x 64 values; SIMD steps: 16 to 128
// values); outputs are pre-filled with a sentinel so unwritten padding shows.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/pack.h"
#include "engine/settings.h"
#include "isa_names.h"
#include "kernels/isa.h"
#include "kernels/reference.h"

namespace int4pack {
namespace {

using engine::pack_rows_if_in_range_with;
using engine::pack_with;
using engine::StreamedPack;
using engine::unpack_with;

constexpr uint8_t kSentinel = 0xA5;

const std::vector<int64_t> kRows = {1, 2, 15, 16, 17, 31, 33, 63, 64, 65, 97};
const std::vector<int64_t> kCols = {2, 8, 14, 16, 18, 30, 32, 34, 62, 64, 66, 126, 128, 130, 194, 256, 258, 514};

std::vector<int32_t> random_values(MatrixShape s, uint32_t seed, bool full_int32_range = false) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> int4(-8, 7);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  std::vector<int32_t> v(static_cast<size_t>(s.rows * s.cols));
  for (auto &x : v) x = full_int32_range ? any(gen) : int4(gen);
  return v;
}

std::vector<uint8_t> reference_pack(const std::vector<int32_t> &src, MatrixShape shape, PackedLayout layout) {
  std::vector<uint8_t> out(packed_bytes(shape, layout), kSentinel);
  reference::pack(src.data(), shape, layout, out.data());
  return out;
}

// An output buffer starting on a 64-byte boundary, as aclrtMalloc's are: the x86 kernels take their
// streaming path only there (PackToMisalignedOutput covers the rest).
class AlignedOutput {
 public:
  explicit AlignedOutput(size_t bytes) : storage_(bytes + 64, kSentinel), size_(bytes) {
    const auto base = reinterpret_cast<uintptr_t>(storage_.data());
    data_ = storage_.data() + (64 - base % 64) % 64;
  }
  uint8_t *data() { return data_; }
  std::vector<uint8_t> bytes() const { return std::vector<uint8_t>(data_, data_ + size_); }

 private:
  std::vector<uint8_t> storage_;
  size_t size_;
  uint8_t *data_;
};

using testing::compiled_isa_names;

// The pack kernels of a supported ISA; a table of nulls for one this CPU lacks (see SKIP_IF_UNSUPPORTED).
const kernels::PackKernels &require_isa(const std::string &isa) {
  const kernels::Isa *found = kernels::find_supported(isa);
  if (found == nullptr) {
    static const kernels::PackKernels none{};
    return none;
  }
  return *found->pack;
}

// The engine run on that ISA's kernels with `threads` threads.
engine::Run run_on(const std::string &isa, int threads) { return {kernels::find_supported(isa), threads}; }

#define SKIP_IF_UNSUPPORTED(table, isa) \
  if ((table).pack_nd == nullptr) GTEST_SKIP() << "this CPU does not support " << (isa)

using KernelCase = std::tuple<std::string, PackedLayout, bool>;  // isa, layout, streaming stores

class KernelsVsReference : public ::testing::TestWithParam<KernelCase> {
 protected:
  // Runs the kernel over the whole matrix, in one call or in `pieces` disjoint calls as threads would.
  void run_pack(const kernels::PackKernels &k, const std::vector<int32_t> &src, uint8_t *dst, MatrixShape shape,
                int pieces) {
    const auto [isa, layout, streaming] = GetParam();
    if (layout == PackedLayout::kNd) {
      const int64_t bytes = shape.rows * shape.cols / 2;
      for (int p = 0; p < pieces; ++p) {
        const int64_t begin = bytes * p / pieces;
        const int64_t end = bytes * (p + 1) / pieces;
        k.pack_nd(src.data() + 2 * begin, dst + begin, end - begin, streaming);
      }
    } else {
      const int64_t row_blocks = nz_row_blocks(shape.rows);
      for (int p = 0; p < pieces; ++p) {
        // Each piece gets only its own rows, in a buffer of their size: a kernel reading a row outside
        // its range is caught (by the sanitizers, or by the wrong bytes it packs).
        const int64_t rb_begin = row_blocks * p / pieces, rb_end = row_blocks * (p + 1) / pieces;
        const int64_t first = std::min(shape.rows, rb_begin * 16), last = std::min(shape.rows, rb_end * 16);
        const std::vector<int32_t> rows(src.begin() + first * shape.cols, src.begin() + last * shape.cols);
        k.pack_nz(rows.data(), dst, shape, rb_begin, rb_end, streaming);
      }
    }
  }
};

TEST_P(KernelsVsReference, PackMatchesReferenceOverEdgeShapes) {
  const auto [isa, layout, streaming] = GetParam();
  const kernels::PackKernels &k = require_isa(isa);
  SKIP_IF_UNSUPPORTED(k, isa);
  uint32_t seed = 1;
  for (int64_t rows : kRows) {
    for (int64_t cols : kCols) {
      const MatrixShape shape{rows, cols};
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
      const auto src = random_values(shape, seed++);
      AlignedOutput got(packed_bytes(shape, layout));
      run_pack(k, src, got.data(), shape, 1);
      ASSERT_EQ(got.bytes(), reference_pack(src, shape, layout));
    }
  }
}

TEST_P(KernelsVsReference, PackInDisjointPiecesMatchesReference) {
  const auto [isa, layout, streaming] = GetParam();
  const kernels::PackKernels &k = require_isa(isa);
  SKIP_IF_UNSUPPORTED(k, isa);
  for (MatrixShape shape : {MatrixShape{97, 514}, MatrixShape{130, 66}, MatrixShape{257, 130}}) {
    const auto src = random_values(shape, static_cast<uint32_t>(shape.rows));
    for (int pieces : {2, 3, 7}) {
      SCOPED_TRACE(std::to_string(shape.rows) + "x" + std::to_string(shape.cols) + " in " + std::to_string(pieces));
      AlignedOutput got(packed_bytes(shape, layout));
      run_pack(k, src, got.data(), shape, pieces);
      ASSERT_EQ(got.bytes(), reference_pack(src, shape, layout));
    }
  }
}

// Output addresses that are not 16/32/64-byte aligned take the head/tail paths of the wide stores.
TEST_P(KernelsVsReference, PackToMisalignedOutput) {
  const auto [isa, layout, streaming] = GetParam();
  const kernels::PackKernels &k = require_isa(isa);
  SKIP_IF_UNSUPPORTED(k, isa);
  const MatrixShape shape{33, 258};
  const auto src = random_values(shape, 5);
  const auto want = reference_pack(src, shape, layout);
  for (size_t shift : {1, 3, 8, 17, 32, 33}) {
    SCOPED_TRACE("shift " + std::to_string(shift));
    std::vector<uint8_t> buffer(want.size() + 128, kSentinel);
    run_pack(k, src, buffer.data() + shift, shape, 1);
    ASSERT_EQ(std::vector<uint8_t>(buffer.begin() + shift, buffer.begin() + shift + want.size()), want);
    for (size_t i = 0; i < shift; ++i) ASSERT_EQ(buffer[i], kSentinel);
    for (size_t i = shift + want.size(); i < buffer.size(); ++i) ASSERT_EQ(buffer[i], kSentinel);
  }
}

TEST_P(KernelsVsReference, OutOfRangeValuesAreMaskedLikeCann) {
  const auto [isa, layout, streaming] = GetParam();
  const kernels::PackKernels &k = require_isa(isa);
  SKIP_IF_UNSUPPORTED(k, isa);
  const MatrixShape shape{17, 258};
  const auto src = random_values(shape, 7, true);
  AlignedOutput got(packed_bytes(shape, layout));
  run_pack(k, src, got.data(), shape, 1);
  EXPECT_EQ(got.bytes(), reference_pack(src, shape, layout));
}

TEST_P(KernelsVsReference, UnpackInvertsPack) {
  const auto [isa, layout, streaming] = GetParam();
  const kernels::PackKernels &k = require_isa(isa);
  SKIP_IF_UNSUPPORTED(k, isa);
  for (int64_t rows : kRows) {
    for (int64_t cols : kCols) {
      const MatrixShape shape{rows, cols};
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
      const auto src = random_values(shape, static_cast<uint32_t>(rows * 7 + cols));
      const auto packed = reference_pack(src, shape, layout);
      std::vector<int32_t> got(src.size(), 0x5A5A5A5A);
      if (layout == PackedLayout::kNd) {
        k.unpack_nd(packed.data(), got.data(), rows * cols / 2);
      } else {
        const int64_t rb = nz_row_blocks(rows);
        k.unpack_nz(packed.data(), got.data(), shape, 0, rb / 2);  // in two pieces, as two threads would
        k.unpack_nz(packed.data(), got.data(), shape, rb / 2, rb);
      }
      ASSERT_EQ(got, src);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, KernelsVsReference,
                         ::testing::Combine(::testing::ValuesIn(compiled_isa_names()),
                                            ::testing::Values(PackedLayout::kNd, PackedLayout::kNz), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<KernelCase> &info) {
                           return std::get<0>(info.param) +
                                  (std::get<1>(info.param) == PackedLayout::kNd ? "_nd" : "_nz") +
                                  (std::get<2>(info.param) ? "_streaming" : "");
                         });

// The engine's thread split, for every ISA and thread count, on shapes large enough to be split.
using EngineCase = std::tuple<std::string, PackedLayout, int>;  // isa, layout, threads

class EngineThreads : public ::testing::TestWithParam<EngineCase> {};

TEST_P(EngineThreads, PackAndUnpackMatchReference) {
  const auto [isa, layout, threads] = GetParam();
  const kernels::PackKernels &k = require_isa(isa);
  SKIP_IF_UNSUPPORTED(k, isa);
  // 1.1 MB to 8.6 MB of input: several pieces per thread count, and past the streaming-store threshold.
  for (MatrixShape shape : {MatrixShape{1041, 258}, MatrixShape{17, 16642}, MatrixShape{2063, 1042}}) {
    SCOPED_TRACE(std::to_string(shape.rows) + "x" + std::to_string(shape.cols));
    const auto src = random_values(shape, static_cast<uint32_t>(shape.cols));
    AlignedOutput got(packed_bytes(shape, layout));
    pack_with({shape, layout, src.data(), got.data()}, run_on(isa, threads));
    const auto want = reference_pack(src, shape, layout);
    ASSERT_EQ(got.bytes(), want);
    std::vector<int32_t> back(src.size(), 0x5A5A5A5A);
    unpack_with({shape, layout, got.data(), back.data()}, run_on(isa, threads));
    ASSERT_EQ(back, src);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsaAndThreadCount, EngineThreads,
                         ::testing::Combine(::testing::ValuesIn(compiled_isa_names()),
                                            ::testing::Values(PackedLayout::kNd, PackedLayout::kNz),
                                            ::testing::Values(1, 2, 3, 4, 7)),
                         [](const ::testing::TestParamInfo<EngineCase> &info) {
                           return std::get<0>(info.param) +
                                  (std::get<1>(info.param) == PackedLayout::kNd ? "_nd_" : "_nz_") +
                                  std::to_string(std::get<2>(info.param)) + "threads";
                         });

// The converter's one-read path, pack_rows_if_in_range_with, for every ISA and thread count, with rows
// that stay in place (a matrix in memory) and rows copied into the engine's buffer (as read from a file):
// the same bytes as the reference when every value is in range, and a refusal when a single value
// anywhere is not.
TEST_P(EngineThreads, CheckedPacksMatchReferenceAndRefuseOutOfRange) {
  const auto [isa, layout, threads] = GetParam();
  const kernels::PackKernels &k = require_isa(isa);
  SKIP_IF_UNSUPPORTED(k, isa);
  const std::vector<MatrixShape> shapes = {{1, 2},    {15, 64},    {16, 66},    {17, 130},
                                           {65, 258}, {1041, 258}, {17, 16642}, {2063, 1042}};
  for (MatrixShape shape : shapes) {
    SCOPED_TRACE(std::to_string(shape.rows) + "x" + std::to_string(shape.cols));
    auto src = random_values(shape, static_cast<uint32_t>(shape.rows + shape.cols));
    const auto want = reference_pack(src, shape, layout);
    const auto in_place = [&](const std::vector<int32_t> &matrix) -> RowSource {
      return [&matrix, shape](int64_t first, int64_t, int32_t *) { return matrix.data() + first * shape.cols; };
    };
    std::atomic<int64_t> rows_read{0};
    const RowSource copied = [&](int64_t first, int64_t count, int32_t *buffer) -> const int32_t * {
      EXPECT_GE(first, 0);
      EXPECT_LE(first + count, shape.rows);
      std::memcpy(buffer, src.data() + first * shape.cols, static_cast<size_t>(count * shape.cols) * sizeof(int32_t));
      rows_read += count;
      return buffer;
    };
    AlignedOutput got(want.size());
    ASSERT_EQ(pack_rows_if_in_range_with(shape, layout, got.data(), -8, in_place(src), run_on(isa, threads)),
              StreamedPack::kPacked);
    ASSERT_EQ(got.bytes(), want);
    AlignedOutput again(want.size());
    ASSERT_EQ(pack_rows_if_in_range_with(shape, layout, again.data(), -8, copied, run_on(isa, threads)),
              StreamedPack::kPacked);
    ASSERT_EQ(again.bytes(), want);
    EXPECT_EQ(rows_read.load(), shape.rows) << "every row read exactly once";
    // One value just outside, at the first, a middle and the last element, on either side of the range.
    const int64_t n = shape.rows * shape.cols;
    for (int64_t at : {int64_t{0}, n / 2, n - 1}) {
      for (int32_t bad : {-9, 8, INT32_MIN, INT32_MAX}) {
        const int32_t kept = src[static_cast<size_t>(at)];
        src[static_cast<size_t>(at)] = bad;
        EXPECT_EQ(pack_rows_if_in_range_with(shape, layout, got.data(), -8, in_place(src), run_on(isa, threads)),
                  StreamedPack::kOutOfRange)
            << at << " " << bad;
        EXPECT_EQ(pack_rows_if_in_range_with(shape, layout, got.data(), -8, copied, run_on(isa, threads)),
                  StreamedPack::kOutOfRange)
            << at << " " << bad;
        src[static_cast<size_t>(at)] = kept;
      }
    }
    // The offset-8 range [0, 15]: the same values shifted up by 8 fit it, and not the signed one.
    std::vector<int32_t> shifted(src);
    for (auto &v : shifted) v += 8;
    EXPECT_EQ(pack_rows_if_in_range_with(shape, layout, got.data(), 0, in_place(shifted), run_on(isa, threads)),
              StreamedPack::kPacked);
    const bool any_above_7 = std::any_of(shifted.begin(), shifted.end(), [](int32_t v) { return v > 7; });
    EXPECT_EQ(pack_rows_if_in_range_with(shape, layout, got.data(), -8, in_place(shifted), run_on(isa, threads)),
              any_above_7 ? StreamedPack::kOutOfRange : StreamedPack::kPacked);
    // A source that fails ends the pack with kSourceFailed.
    const RowSource broken = [](int64_t, int64_t, int32_t *) -> const int32_t * { return nullptr; };
    EXPECT_EQ(pack_rows_if_in_range_with(shape, layout, got.data(), -8, broken, run_on(isa, threads)),
              StreamedPack::kSourceFailed);
  }
}

// fits_int4 of every ISA against the plain definition, at every length around its vector steps and with
// the odd value at every position.
class RangeKernel : public ::testing::TestWithParam<std::string> {};

TEST_P(RangeKernel, FitsInt4MatchesDefinition) {
  const std::string isa = GetParam();
  const kernels::PackKernels &k = require_isa(isa);
  SKIP_IF_UNSUPPORTED(k, isa);
  for (int32_t low : {-8, 0}) {
    for (int64_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100}) {
      std::vector<int32_t> v(static_cast<size_t>(n), low + 15);
      EXPECT_TRUE(k.fits_int4(v.data(), n, low)) << n;
      for (int64_t at = 0; at < n; ++at) {
        for (int32_t bad : {low - 1, low + 16, INT32_MIN, INT32_MAX}) {
          v[static_cast<size_t>(at)] = bad;
          EXPECT_FALSE(k.fits_int4(v.data(), n, low)) << "n " << n << " at " << at << " value " << bad;
          v[static_cast<size_t>(at)] = low;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, RangeKernel, ::testing::ValuesIn(compiled_isa_names()),
                         [](const ::testing::TestParamInfo<std::string> &info) { return info.param; });

TEST(Dispatch, ScalarIsAlwaysSupportedAndListedLast) {
  const kernels::Isa *isas = nullptr;
  const int n = kernels::compiled_isas(&isas);
  ASSERT_GE(n, 1);
  EXPECT_STREQ(isas[n - 1].name, "scalar");
  EXPECT_TRUE(isas[n - 1].supported);
}

// INT4PACK_ISA (read once per process) picks the table; tests run under each supported value (see
// tests/CMakeLists.txt), and this checks the choice was honoured.
TEST(Dispatch, ActiveTableFollowsInt4packIsa) {
  const char *forced = std::getenv("INT4PACK_ISA");
  const kernels::Isa *active = engine::active_isa();
  if (forced == nullptr || *forced == '\0') {
    ASSERT_NE(active, nullptr);
    const kernels::Isa *isas = nullptr;
    kernels::compiled_isas(&isas);
    int best = 0;
    while (!isas[best].supported) ++best;
    EXPECT_EQ(active, &isas[best]) << "the best supported table is the default";
  } else if (kernels::find_supported(forced) != nullptr) {
    ASSERT_NE(active, nullptr);
    EXPECT_STREQ(active->name, forced);
  } else {
    EXPECT_EQ(active, nullptr);
    EXPECT_NE(engine::settings_error().find(forced), std::string::npos) << engine::settings_error();
    EXPECT_FALSE(engine::settings_error().empty());
  }
}

// The spec's worked example through the engine entry point.
TEST(EnginePack, SpecWorkedExample) {
  const std::vector<int32_t> w = {1, -2, 3, -4, 5, -6, 7, -8, 0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<uint8_t> nd(8, kSentinel);
  ASSERT_TRUE(pack({w.data(), ElementType::kInt32, {2, 8}, {}}, Layout::kNd, nd.data(), nd.size()));
  EXPECT_EQ(nd, (std::vector<uint8_t>{0xE1, 0xC3, 0xA5, 0x87, 0x10, 0x32, 0x54, 0x76}));

  std::vector<uint8_t> nz(512, kSentinel);
  ASSERT_TRUE(pack({w.data(), ElementType::kInt32, {2, 8}, {}}, Layout::kNz, nz.data(), nz.size()));
  std::vector<uint8_t> want(512, 0);
  for (int j = 0; j < 4; ++j) {
    want[j] = nd[j];
    want[32 + j] = nd[4 + j];
  }
  EXPECT_EQ(nz, want);
}

TEST(EnginePack, ReferenceSpecSingleValueExample) {
  std::vector<int32_t> w(18 * 66, 0);
  w[17 * 66 + 65] = 5;
  std::vector<uint8_t> nz(2048, kSentinel);
  reference::pack(w.data(), {18, 66}, PackedLayout::kNz, nz.data());
  for (size_t i = 0; i < nz.size(); ++i) ASSERT_EQ(nz[i], i == 1568 ? 0x50 : 0x00) << i;
}

TEST(EngineSettings, ThreadCountCanBeSetAndReset) {
  const int initial = engine::thread_count();
  EXPECT_GE(initial, 1);
  EXPECT_TRUE(engine::set_thread_count(3));
  EXPECT_EQ(engine::thread_count(), 3);
  EXPECT_FALSE(engine::set_thread_count(-1));
  EXPECT_EQ(engine::thread_count(), 3);
  EXPECT_TRUE(engine::set_thread_count(0));
  EXPECT_EQ(engine::thread_count(), initial);
}

}  // namespace
}  // namespace int4pack
