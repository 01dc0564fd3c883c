// aclnnCast as a CANN program calls it: every pair of the A2/A3 dtypes, bit for bit against the reference
// (tests/reference/cast_reference.cc) on values at every edge (zeros, infinities, NaNs with payloads,
// subnormals, ties, the integer limits) and random bits; strided self and out; the vector paths on long
// contiguous spans; and the refusals.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "aclnnop/aclnn_cast.h"
#include "cast_reference.h"
#include "test_support.h"

namespace int4pack::testing {
namespace {

const aclDataType kDtypes[] = {ACL_FLOAT16, ACL_FLOAT, ACL_DOUBLE, ACL_INT8,      ACL_UINT8,
                               ACL_INT16,   ACL_INT32, ACL_INT64,  ACL_UINT16,    ACL_UINT32,
                               ACL_UINT64,  ACL_BOOL,  ACL_BF16,   ACL_COMPLEX64, ACL_COMPLEX128};

std::string name_of(aclDataType t) {
  switch (t) {
    case ACL_FLOAT16:
      return "FLOAT16";
    case ACL_FLOAT:
      return "FLOAT";
    case ACL_DOUBLE:
      return "DOUBLE";
    case ACL_INT8:
      return "INT8";
    case ACL_UINT8:
      return "UINT8";
    case ACL_INT16:
      return "INT16";
    case ACL_INT32:
      return "INT32";
    case ACL_INT64:
      return "INT64";
    case ACL_UINT16:
      return "UINT16";
    case ACL_UINT32:
      return "UINT32";
    case ACL_UINT64:
      return "UINT64";
    case ACL_BOOL:
      return "BOOL";
    case ACL_BF16:
      return "BF16";
    case ACL_COMPLEX64:
      return "COMPLEX64";
    default:
      return "COMPLEX128";
  }
}

template <typename T>
void put(std::vector<uint8_t> &out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}

// `count` elements of `t`: the edge values of its kind first, then random bits (valid BOOL bytes only).
std::vector<uint8_t> values_of(aclDataType t, size_t count, uint32_t seed) {
  std::vector<uint8_t> out;
  const size_t width = reference::cast_element_bytes(t);
  const auto edges_of_float = [&](auto tag) {
    using F = decltype(tag);
    const F inf = std::numeric_limits<F>::infinity();
    for (F v : {F(0),
                -F(0),
                F(1),
                F(-1),
                F(0.5),
                F(1.5),
                F(2.5),
                F(-2.5),
                F(127.5),
                F(128),
                F(-128.5),
                F(255.5),
                F(256),
                F(-129),
                F(32767.5),
                F(65504),
                F(65519),
                F(65520),
                F(-65520),
                F(1e10),
                F(-1e10),
                F(2147483647.0),
                F(2147483648.0),
                F(-2147483649.0),
                F(4294967296.0),
                F(9.3e18),
                F(1.9e19),
                F(-9.3e18),
                std::numeric_limits<F>::max(),
                std::numeric_limits<F>::lowest(),
                std::numeric_limits<F>::min(),
                std::numeric_limits<F>::denorm_min(),
                F(5.96e-8),
                F(2.98e-8),
                F(1e-39),
                inf,
                -inf,
                std::numeric_limits<F>::quiet_NaN(),
                -std::numeric_limits<F>::quiet_NaN()}) {
      put(out, v);
    }
  };
  switch (t) {
    case ACL_FLOAT:
      edges_of_float(float{});
      break;
    case ACL_DOUBLE:
      edges_of_float(double{});
      break;
    case ACL_COMPLEX64:
      for (float re : {0.0f, 1.5f, -2.5f, 1e30f, NAN}) {
        for (float im : {0.0f, -1.0f, INFINITY}) {
          put(out, re);
          put(out, im);
        }
      }
      break;
    case ACL_COMPLEX128:
      for (double re : {0.0, 1.5, -2.5, 1e300, static_cast<double>(NAN)}) {
        for (double im : {0.0, -1.0, static_cast<double>(INFINITY)}) {
          put(out, re);
          put(out, im);
        }
      }
      break;
    case ACL_FLOAT16:
      for (uint16_t h : {0x0000, 0x8000, 0x3C00, 0x7BFF, 0xFBFF, 0x0001, 0x03FF, 0x0400, 0x7C00, 0xFC00, 0x7E00, 0x7C01,
                         0xFD55, 0x3800, 0x3E00, 0x4100, 0x5BF8, 0x5C04}) {
        put(out, h);
      }
      break;
    case ACL_BF16:
      for (uint16_t b : {0x0000, 0x8000, 0x3F80, 0x7F7F, 0xFF7F, 0x0001, 0x007F, 0x0080, 0x7F80, 0xFF80, 0x7FC0, 0x7F81,
                         0xFFA5, 0x4300, 0x4F00, 0x5F00, 0x3FC0}) {
        put(out, b);
      }
      break;
    case ACL_BOOL:
      put(out, uint8_t{0});
      put(out, uint8_t{1});
      break;
    default:  // integers: zero, -1, the limits of every width
      for (int64_t v : {int64_t{0},
                        int64_t{1},
                        int64_t{-1},
                        int64_t{127},
                        int64_t{128},
                        int64_t{-128},
                        int64_t{-129},
                        int64_t{255},
                        int64_t{256},
                        int64_t{32767},
                        int64_t{-32768},
                        int64_t{65535},
                        int64_t{65536},
                        int64_t{2147483647},
                        int64_t{-2147483647 - 1},
                        int64_t{4294967295},
                        int64_t{16777217},
                        int64_t{9007199254740993},
                        std::numeric_limits<int64_t>::max(),
                        std::numeric_limits<int64_t>::min()}) {
        const size_t at = out.size();
        out.resize(at + width);
        std::memcpy(out.data() + at, &v, width);  // the low bytes
      }
  }
  std::mt19937 gen(seed);
  while (out.size() < count * width) {
    if (t == ACL_BOOL) {
      out.push_back(static_cast<uint8_t>(gen() & 1));
    } else {
      out.push_back(static_cast<uint8_t>(gen()));
    }
  }
  out.resize(count * width);
  return out;
}

std::vector<uint8_t> reference_cast(const std::vector<uint8_t> &src, aclDataType from, aclDataType to) {
  const size_t in = reference::cast_element_bytes(from), out = reference::cast_element_bytes(to);
  const size_t n = src.size() / in;
  std::vector<uint8_t> dst(n * out);
  for (size_t i = 0; i < n; ++i) reference::cast_element(src.data() + i * in, from, dst.data() + i * out, to);
  return dst;
}

aclnnStatus run_cast(const aclTensor *self, aclDataType dtype, aclTensor *out, aclrtStream stream) {
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  aclnnStatus s = aclnnCastGetWorkspaceSize(self, dtype, out, &workspace, &executor);
  if (s != ACLNN_SUCCESS) return s;
  if (workspace != 0) return -1;
  s = aclnnCast(nullptr, 0, executor, stream);
  return s != ACLNN_SUCCESS ? s : aclrtSynchronizeStream(stream);
}

using CastTest = AclTest;

// Every pair, contiguous: bit for bit.
TEST_F(CastTest, EveryPairMatchesTheReferenceBitForBit) {
  uint32_t seed = 1;
  for (aclDataType from : kDtypes) {
    for (aclDataType to : kDtypes) {
      SCOPED_TRACE(name_of(from) + " -> " + name_of(to));
      const size_t n = 300;
      const std::vector<uint8_t> src = values_of(from, n, seed++);
      DeviceBuffer in(src.size()), out(n * reference::cast_element_bytes(to));
      in.upload(src);
      out.fill(0xA5);
      Tensor self({static_cast<int64_t>(n)}, from, ACL_FORMAT_ND, in.get());
      Tensor dst({static_cast<int64_t>(n)}, to, ACL_FORMAT_ND, out.get());
      ASSERT_EQ(run_cast(self.get(), to, dst.get(), stream_), ACLNN_SUCCESS) << recent_error();
      const std::vector<uint8_t> want = reference_cast(src, from, to), got = out.download<uint8_t>();
      const size_t w = reference::cast_element_bytes(to);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::memcmp(got.data() + i * w, want.data() + i * w, w), 0) << "element " << i;
      }
    }
  }
}

// The vector conversions (float32 <-> float16 / bfloat16) on spans long enough to be split over threads,
// every half and bfloat16 bit pattern among them.
TEST_F(CastTest, LongFloatSpansMatchTheReference) {
  const size_t n = (size_t{1} << 18) + 13;
  for (aclDataType narrow : {ACL_FLOAT16, ACL_BF16}) {
    std::vector<uint8_t> halves(n * 2);
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = static_cast<uint16_t>(i * 40503u);
      std::memcpy(halves.data() + 2 * i, &h, 2);
    }
    std::vector<uint8_t> floats = values_of(ACL_FLOAT, n, 7);
    for (const auto &[from, to, src] :
         {std::make_tuple(narrow, ACL_FLOAT, &halves), std::make_tuple(ACL_FLOAT, narrow, &floats)}) {
      SCOPED_TRACE(name_of(from) + " -> " + name_of(to));
      DeviceBuffer in(src->size()), out(n * reference::cast_element_bytes(to));
      in.upload(*src);
      Tensor self({static_cast<int64_t>(n)}, from, ACL_FORMAT_ND, in.get());
      Tensor dst({static_cast<int64_t>(n)}, to, ACL_FORMAT_ND, out.get());
      ASSERT_EQ(run_cast(self.get(), to, dst.get(), stream_), ACLNN_SUCCESS) << recent_error();
      ASSERT_EQ(out.download<uint8_t>(), reference_cast(*src, from, to));
    }
  }
}

// A non-contiguous self (a transposed 3-D view over a larger storage, at an offset) into a contiguous out,
// and a contiguous self into a strided out.
TEST_F(CastTest, StridedSelfAndOut) {
  const std::vector<int64_t> view = {3, 5, 4};
  const std::vector<int64_t> strides = {1, 12, 3};  // storage (5, 4, 3) read as (3, 5, 4), plus an offset
  const int64_t offset = 7;
  for (const auto &[from, to] : {std::make_pair(ACL_FLOAT, ACL_FLOAT16), std::make_pair(ACL_INT32, ACL_INT8),
                                 std::make_pair(ACL_DOUBLE, ACL_BF16), std::make_pair(ACL_FLOAT16, ACL_FLOAT)}) {
    SCOPED_TRACE(name_of(from) + " -> " + name_of(to));
    const size_t in_w = reference::cast_element_bytes(from), out_w = reference::cast_element_bytes(to);
    const std::vector<uint8_t> storage = values_of(from, 60 + offset, 11);
    std::vector<uint8_t> logical;  // the view's elements in row-major order
    for (int64_t a = 0; a < 3; ++a) {
      for (int64_t b = 0; b < 5; ++b) {
        for (int64_t c = 0; c < 4; ++c) {
          const size_t at = static_cast<size_t>(offset + a * strides[0] + b * strides[1] + c * strides[2]) * in_w;
          logical.insert(logical.end(), storage.begin() + at, storage.begin() + at + in_w);
        }
      }
    }
    const std::vector<uint8_t> want = reference_cast(logical, from, to);
    DeviceBuffer in(storage.size()), out(60 * out_w);
    in.upload(storage);
    Tensor self(view, from, ACL_FORMAT_ND, in.get(), {60 + offset}, strides, offset);
    Tensor dst(view, to, ACL_FORMAT_ND, out.get());
    ASSERT_EQ(run_cast(self.get(), to, dst.get(), stream_), ACLNN_SUCCESS) << recent_error();
    ASSERT_EQ(out.download<uint8_t>(), want);
    // And the other way round: contiguous self, out written through the same strides.
    DeviceBuffer in2(logical.size()), out2((60 + offset) * out_w);
    in2.upload(logical);
    out2.fill(0x5A);
    Tensor self2(view, from, ACL_FORMAT_ND, in2.get());
    Tensor dst2(view, to, ACL_FORMAT_ND, out2.get(), {60 + offset}, strides, offset);
    ASSERT_EQ(run_cast(self2.get(), to, dst2.get(), stream_), ACLNN_SUCCESS) << recent_error();
    const std::vector<uint8_t> written = out2.download<uint8_t>();
    size_t e = 0;
    for (int64_t a = 0; a < 3; ++a) {
      for (int64_t b = 0; b < 5; ++b) {
        for (int64_t c = 0; c < 4; ++c, ++e) {
          const size_t at = static_cast<size_t>(offset + a * strides[0] + b * strides[1] + c * strides[2]) * out_w;
          ASSERT_EQ(std::memcmp(written.data() + at, want.data() + e * out_w, out_w), 0) << e;
        }
      }
    }
  }
}

TEST_F(CastTest, EmptySelfSucceedsWithNoWorkspace) {
  Tensor self({0, 4}, ACL_FLOAT, ACL_FORMAT_ND, nullptr);
  Tensor out({0, 4}, ACL_FLOAT16, ACL_FORMAT_ND, nullptr);
  EXPECT_EQ(run_cast(self.get(), ACL_FLOAT16, out.get(), stream_), ACLNN_SUCCESS) << recent_error();
}

// A fuzz_consumers finding: an empty view's offset need not lie in any memory, and must not be computed with.
TEST_F(CastTest, EmptySelfAtAHugeOffsetSucceeds) {
  static uint8_t arena[16];
  Tensor self({0, 4}, ACL_FLOAT16, ACL_FORMAT_ND, arena, {1}, {}, int64_t{7575166129274879999});
  Tensor out({0, 4}, ACL_FLOAT, ACL_FORMAT_ND, arena, {1}, {}, int64_t{7575166129274879999});
  EXPECT_EQ(run_cast(self.get(), ACL_FLOAT, out.get(), stream_), ACLNN_SUCCESS) << recent_error();
}

TEST_F(CastTest, Refusals) {
  static uint8_t arena[256];
  Tensor f32({4}, ACL_FLOAT, ACL_FORMAT_ND, arena), f16({4}, ACL_FLOAT16, ACL_FORMAT_ND, arena);
  uint64_t ws = 0;
  aclOpExecutor *ex = nullptr;
  EXPECT_EQ(aclnnCastGetWorkspaceSize(nullptr, ACL_FLOAT16, f16.get(), &ws, &ex), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclnnCastGetWorkspaceSize", "self is NULL"}));
  EXPECT_EQ(aclnnCastGetWorkspaceSize(f32.get(), ACL_FLOAT16, nullptr, &ws, &ex), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"out is NULL"}));
  EXPECT_EQ(aclnnCastGetWorkspaceSize(f32.get(), ACL_FLOAT16, f16.get(), nullptr, &ex), ACLNN_ERR_PARAM_NULLPTR);
  // dtype and out's dtype must agree.
  EXPECT_EQ(aclnnCastGetWorkspaceSize(f32.get(), ACL_BF16, f16.get(), &ws, &ex), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"dtype BF16", "out's dtype FLOAT16", "must be the same"}));
  // Unsupported dtypes.
  Tensor int4({4}, ACL_INT4, ACL_FORMAT_ND, arena), fp8({4}, ACL_FLOAT8_E4M3FN, ACL_FORMAT_ND, arena);
  EXPECT_EQ(aclnnCastGetWorkspaceSize(int4.get(), ACL_FLOAT16, f16.get(), &ws, &ex), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"self dtype", "INT4"}));
  EXPECT_EQ(aclnnCastGetWorkspaceSize(f32.get(), ACL_FLOAT8_E4M3FN, fp8.get(), &ws, &ex), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"FLOAT8_E4M3FN"}));
  // Shapes.
  Tensor f16_5({5}, ACL_FLOAT16, ACL_FORMAT_ND, arena);
  EXPECT_EQ(aclnnCastGetWorkspaceSize(f32.get(), ACL_FLOAT16, f16_5.get(), &ws, &ex), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"out shape must be self's (4,)", "(5,)"}));
  const std::vector<int64_t> nine(9, 1);
  Tensor self9(nine, ACL_FLOAT, ACL_FORMAT_ND, arena), out9(nine, ACL_FLOAT16, ACL_FORMAT_ND, arena);
  EXPECT_EQ(aclnnCastGetWorkspaceSize(self9.get(), ACL_FLOAT16, out9.get(), &ws, &ex), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"self view must have 0 to 8 dims", "got 9"}));
  // A strided view reaching past its storage.
  Tensor past({4}, ACL_FLOAT, ACL_FORMAT_ND, arena, {6}, {2});
  EXPECT_EQ(aclnnCastGetWorkspaceSize(past.get(), ACL_FLOAT16, f16.get(), &ws, &ex), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"self storage shape (6,)", "does not hold its view (4,) with strides (2,)"}));
  EXPECT_EQ(ex, nullptr);
}

}  // namespace
}  // namespace int4pack::testing
