// The cast and matmul kernel families of every ISA against the scalar table, bit for bit: every half and
// bfloat16 pattern, floats at every rounding boundary, NaN payloads; dequant_row under every rounding and
// operand mix; accumulate over row counts and panel depths around the vector and register block sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/floats.h"
#include "isa_names.h"
#include "kernels/isa.h"

namespace int4pack {
namespace {

using testing::compiled_isa_names;

const kernels::Isa &scalar_isa() { return *kernels::find_supported("scalar"); }

class FloatKernels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    isa_ = kernels::find_supported(GetParam());
    if (isa_ == nullptr) GTEST_SKIP() << "this CPU does not support " << GetParam();
  }
  const kernels::Isa *isa_ = nullptr;
};

std::vector<float> interesting_floats(size_t random_count) {
  std::vector<float> v;
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {  // every half and bfloat16 value, and the midpoints around them
    const float f = half_to_float(static_cast<uint16_t>(h));
    v.push_back(f);
    v.push_back(std::nextafter(f, INFINITY));
    v.push_back(std::nextafter(f, -INFINITY));
    v.push_back(bits_float(h << 16));
    v.push_back(bits_float((h << 16) | 0x8000u));  // a bfloat16 tie
    v.push_back(bits_float((h << 16) | 0x8001u));
    v.push_back(bits_float((h << 16) | 0x7FFFu));
  }
  for (float f : {1e-45f, 1e-40f, 65519.99f, 65520.0f, 3.3895e38f, 3.4e38f, INFINITY, -INFINITY, NAN, -NAN})
    v.push_back(f);
  v.push_back(bits_float(0x7F800001u));  // signalling NaNs with payloads
  v.push_back(bits_float(0xFFA00000u));
  v.push_back(bits_float(0x7FBFFFFFu));
  std::mt19937 gen(3);
  for (size_t i = 0; i < random_count; ++i) v.push_back(bits_float(static_cast<uint32_t>(gen())));
  return v;
}

TEST_P(FloatKernels, FloatToHalfAndBfloat16MatchScalar) {
  const std::vector<float> v = interesting_floats(100000);
  for (bool bf16 : {false, true}) {
    for (size_t start : {size_t{0}, size_t{1}}) {  // aligned and not
      const size_t n = v.size() - start;
      std::vector<uint16_t> got(n + 1, 0xDEAD), want(n + 1, 0xDEAD);
      const auto convert = bf16 ? isa_->cast->float_to_bfloat16 : isa_->cast->float_to_half;
      const auto reference = bf16 ? scalar_isa().cast->float_to_bfloat16 : scalar_isa().cast->float_to_half;
      convert(v.data() + start, got.data(), static_cast<int64_t>(n));
      reference(v.data() + start, want.data(), static_cast<int64_t>(n));
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], want[i]) << (bf16 ? "bf16" : "half") << " of bits 0x" << std::hex << float_bits(v[start + i]);
      }
      EXPECT_EQ(got[n], 0xDEAD) << "wrote past the end";
    }
  }
}

TEST_P(FloatKernels, HalfAndBfloat16ToFloatMatchScalar) {
  std::vector<uint16_t> all(65536 + 7);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  for (bool bf16 : {false, true}) {
    for (int64_t n :
         {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{17}, static_cast<int64_t>(all.size())}) {
      std::vector<float> got(static_cast<size_t>(n) + 1, -1.0f), want(static_cast<size_t>(n) + 1, -1.0f);
      (bf16 ? isa_->cast->bfloat16_to_float : isa_->cast->half_to_float)(all.data(), got.data(), n);
      (bf16 ? scalar_isa().cast->bfloat16_to_float : scalar_isa().cast->half_to_float)(all.data(), want.data(), n);
      for (int64_t i = 0; i <= n; ++i) {
        ASSERT_EQ(float_bits(got[static_cast<size_t>(i)]), float_bits(want[static_cast<size_t>(i)]))
            << (bf16 ? "bf16 " : "half ") << std::hex << all[static_cast<size_t>(std::min<int64_t>(i, n))];
      }
    }
  }
}

TEST_P(FloatKernels, DequantRowMatchesScalar) {
  std::mt19937 gen(5);
  std::uniform_int_distribution<int> q(-128, 127);
  std::uniform_real_distribution<float> scales(1e-4f, 0.1f), offsets(-9.0f, 9.0f);
  const std::vector<float> specials = interesting_floats(0);
  for (int round = 0; round < 300; ++round) {
    int8_t values[kernels::kPanelCols];
    float offset[kernels::kPanelCols], scale[kernels::kPanelCols];
    for (int64_t c = 0; c < kernels::kPanelCols; ++c) {
      values[c] = static_cast<int8_t>(q(gen));
      // Mostly ordinary operands; some rounds draw scales and offsets from every edge value.
      scale[c] = round % 5 == 4 ? specials[gen() % specials.size()] : scales(gen);
      offset[c] =
          round % 7 == 6 ? specials[gen() % specials.size()] : std::round(offsets(gen)) + (c % 3 == 0 ? 0.5f : 0.0f);
    }
    for (auto rounding : {kernels::Rounding::kHalf, kernels::Rounding::kBFloat16, kernels::Rounding::kNone}) {
      for (int mode = 0; mode < 4; ++mode) {
        const float *o = (mode & 1) ? offset : nullptr;
        const float *s = (mode & 2) ? scale : nullptr;
        float got[kernels::kPanelCols], want[kernels::kPanelCols];
        isa_->matmul->dequant_row(values, o, s, rounding, got);
        scalar_isa().matmul->dequant_row(values, o, s, rounding, want);
        for (int64_t c = 0; c < kernels::kPanelCols; ++c) {
          ASSERT_EQ(float_bits(got[c]), float_bits(want[c]))
              << "round " << round << " mode " << mode << " column " << c;
        }
      }
    }
  }
}

// The packed-int4 row: every nibble pattern, scales and offsets of the rounding's type (the operator gives
// them x's dtype), edge values included.
TEST_P(FloatKernels, DequantInt4RowMatchesScalar) {
  std::mt19937 gen(6);
  std::uniform_real_distribution<float> scales(1e-4f, 0.1f), offsets(-9.0f, 9.0f);
  const std::vector<float> specials = interesting_floats(0);
  for (int round = 0; round < 300; ++round) {
    uint8_t bytes[kernels::kPanelCols / 2];
    for (uint8_t &b : bytes) b = static_cast<uint8_t>(round < 16 ? round * 17 : gen());
    for (auto rounding : {kernels::Rounding::kHalf, kernels::Rounding::kBFloat16, kernels::Rounding::kNone}) {
      const auto as_type = [rounding](float v) {
        return rounding == kernels::Rounding::kHalf       ? round_to_half(v)
               : rounding == kernels::Rounding::kBFloat16 ? round_to_bfloat16(v)
                                                          : v;
      };
      float offset[kernels::kPanelCols], scale[kernels::kPanelCols];
      for (int64_t c = 0; c < kernels::kPanelCols; ++c) {
        scale[c] = as_type(round % 5 == 4 ? specials[gen() % specials.size()] : scales(gen));
        offset[c] = as_type(round % 7 == 6 ? specials[gen() % specials.size()] : std::round(offsets(gen)));
      }
      for (int mode = 0; mode < 4; ++mode) {
        const float *o = (mode & 1) ? offset : nullptr;
        const float *sc = (mode & 2) ? scale : nullptr;
        float got[kernels::kPanelCols], want[kernels::kPanelCols];
        isa_->matmul->dequant_int4_row(bytes, o, sc, rounding, got);
        scalar_isa().matmul->dequant_int4_row(bytes, o, sc, rounding, want);
        for (int64_t c = 0; c < kernels::kPanelCols; ++c) {
          ASSERT_EQ(float_bits(got[c]), float_bits(want[c]))
              << "round " << round << " rounding " << static_cast<int>(rounding) << " mode " << mode << " column " << c;
        }
      }
    }
  }
}

// Products of half / bfloat16 values are exact in float32, so every ISA's sums are the scalar's bit for bit.
// Rows below, on and above each ISA's block of rows (4 on AVX-512, 6 on AVX2) and its passes of 48.
TEST_P(FloatKernels, AccumulateMatchesScalar) {
  std::mt19937 gen(9);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (int64_t rows : {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 31, 47, 48, 49, 97}) {
    for (int64_t kp : {1, 2, 15, 16, 17, 64, 127, 128}) {
      for (bool bf16 : {false, true}) {
        const int64_t stride = 128 + 3;
        std::vector<float> x(static_cast<size_t>(rows * stride)), w(static_cast<size_t>(kp * kernels::kPanelCols));
        for (float &v : x) v = bf16 ? round_to_bfloat16(unit(gen)) : round_to_half(unit(gen));
        for (float &v : w) v = bf16 ? round_to_bfloat16(unit(gen) * 0.1f) : round_to_half(unit(gen) * 0.1f);
        std::vector<float> got(static_cast<size_t>(rows * kernels::kPanelCols)), want;
        for (float &v : got) v = unit(gen);
        want = got;
        isa_->matmul->accumulate(x.data(), stride, rows, w.data(), kp, got.data());
        scalar_isa().matmul->accumulate(x.data(), stride, rows, w.data(), kp, want.data());
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << rows << " rows, kp " << kp << ", element " << i;
        }
      }
    }
  }
}

// A fused step (accumulate_int4 or accumulate_int8) against the scalar one (its row step, then accumulate):
// every row count the fused paths and the panel path take, weight rows apart as in ND and NZ, every
// offset/scale/rounding mode, special scales included. value_bytes: a row's 64 stored values' bytes.
// in_blocks: the table's accumulate_int8_blocks on the same rows laid out as an INT8 FRACTAL_NZ tile's two
// blocks (the second right after the first, or 544 bytes further: not a whole number of lines), against the
// scalar step.
using FusedStep = decltype(kernels::MatmulKernels::accumulate_int4);
void check_fused_step(FusedStep kernels::MatmulKernels::*step, const kernels::Isa &isa, int64_t value_bytes,
                      unsigned seed, bool in_blocks = false) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f), scales(1e-4f, 0.1f), offsets(-9.0f, 9.0f);
  const std::vector<float> specials = interesting_floats(0);
  int round = 0;
  for (int64_t rows : {1, 2, 3, 4, 5, 6, 7, 8, 13, 17, 32, 49}) {
    for (int64_t kp : {1, 15, 16, 17, 64, 127, 128}) {
      for (int64_t row_bytes : {value_bytes, value_bytes + 96}) {
        ++round;
        for (auto rounding : {kernels::Rounding::kHalf, kernels::Rounding::kBFloat16, kernels::Rounding::kNone}) {
          const auto as_type = [rounding](float v) {
            return rounding == kernels::Rounding::kBFloat16 ? round_to_bfloat16(v) : round_to_half(v);
          };
          std::vector<uint8_t> bytes(static_cast<size_t>(kp * row_bytes));
          for (uint8_t &b : bytes) b = static_cast<uint8_t>(gen());
          float offset[kernels::kPanelCols], scale[kernels::kPanelCols];
          for (int64_t c = 0; c < kernels::kPanelCols; ++c) {
            scale[c] = as_type(round % 5 == 4 && c % 7 == 0 ? specials[gen() % specials.size()] : scales(gen));
            offset[c] = as_type(std::round(offsets(gen)) + (c % 3 == 0 ? 0.5f : 0.0f));
          }
          // A NaN scale, an infinite offset, an offset whose products overflow: the fused bfloat16 rounding
          // leaves out the NaN case of the scalar one, which these must show changes nothing.
          if (round % 4 == 1) scale[5] = NAN;
          if (round % 4 == 2) offset[9] = INFINITY;
          if (round % 4 == 3) offset[11] = as_type(3.0e38f);
          // Subnormal antiquantized values, which a rounding that flushes them would get wrong, one case a
          // round, in a column whose accumulators start at 0 so that nothing absorbs them: a subnormal scale;
          // the smallest normal scale times w + 0.5; a subnormal offset with w = 0 throughout, scaled up;
          // w = -1 throughout with offset 1 + 2^-7 and scale 2^-120, whose product 2^-127 is the first
          // exponent past the bound on |scale| * ulp(offset).
          const int subnormal_case = round % 3 == 1 ? (round / 3) % 4 : -1;
          const int64_t subnormal_column = 20;
          // Column 20's stored value in every row: an int8, or the low nibble of byte 10.
          const auto set_column_value = [&](uint8_t value) {
            for (int64_t t = 0; t < kp; ++t) {
              uint8_t &b = bytes[static_cast<size_t>(t * row_bytes + subnormal_column * value_bytes / 64)];
              b = value_bytes == kernels::kPanelCols ? value : static_cast<uint8_t>((b & 0xF0) | (value & 0x0F));
            }
          };
          if (subnormal_case == 0) scale[subnormal_column] = as_type(1e-39f);
          if (subnormal_case == 1) {
            scale[subnormal_column] = as_type(std::ldexp(1.0f, -126));
            offset[subnormal_column] = 0.5f;
          }
          if (subnormal_case == 2) {
            offset[subnormal_column] = as_type(1e-39f);
            // r(offset) * scale is normal, and |scale| * ulp(offset) too: only the offset's own rounding flushes.
            scale[subnormal_column] = 8192.0f;
            set_column_value(0);
          }
          if (subnormal_case == 3) {
            offset[subnormal_column] = 1.0f + std::ldexp(1.0f, -7);
            scale[subnormal_column] = as_type(std::ldexp(1.0f, -120));
            set_column_value(0xFF);
          }
          const int64_t x_stride = kp + 5;
          std::vector<float> x(static_cast<size_t>(rows * x_stride));
          for (float &v : x) v = as_type(unit(gen));
          for (int mode = 0; mode < 4; ++mode) {
            const float *o = (mode & 1) ? offset : nullptr;
            const float *sc = (mode & 2) ? scale : nullptr;
            std::vector<float> got(static_cast<size_t>(rows * kernels::kPanelCols));
            for (size_t i = 0; i < got.size(); ++i) {
              const int64_t c = static_cast<int64_t>(i) % kernels::kPanelCols;
              got[i] = subnormal_case >= 0 && c == subnormal_column ? 0.0f : unit(gen);
            }
            std::vector<float> want = got;
            if (in_blocks) {
              const int64_t half = kernels::kInt8BlockRowBytes;
              const int64_t second = row_bytes == value_bytes ? half * kp : half * kp + 544;
              std::vector<uint8_t> blocks(static_cast<size_t>(second + half * kp));
              for (int64_t t = 0; t < kp; ++t) {
                std::memcpy(&blocks[static_cast<size_t>(half * t)], &bytes[static_cast<size_t>(t * row_bytes)], half);
                std::memcpy(&blocks[static_cast<size_t>(second + half * t)],
                            &bytes[static_cast<size_t>(t * row_bytes + half)], half);
              }
              isa.matmul->accumulate_int8_blocks(blocks.data(), second, kp, o, sc, rounding, x.data(), x_stride, rows,
                                                 got.data());
            } else {
              (isa.matmul->*step)(bytes.data(), row_bytes, kp, o, sc, rounding, x.data(), x_stride, rows, got.data());
            }
            (scalar_isa().matmul->*step)(bytes.data(), row_bytes, kp, o, sc, rounding, x.data(), x_stride, rows,
                                         want.data());
            for (size_t i = 0; i < got.size(); ++i) {
              ASSERT_EQ(float_bits(got[i]), float_bits(want[i]))
                  << rows << " rows, kp " << kp << ", row bytes " << row_bytes << ", rounding "
                  << static_cast<int>(rounding) << ", mode " << mode << ", element " << i;
            }
          }
        }
      }
    }
  }
}

TEST_P(FloatKernels, AccumulateInt4MatchesScalar) {
  check_fused_step(&kernels::MatmulKernels::accumulate_int4, *isa_, kernels::kPanelCols / 2, 12);
}

TEST_P(FloatKernels, AccumulateInt8MatchesScalar) {
  check_fused_step(&kernels::MatmulKernels::accumulate_int8, *isa_, kernels::kPanelCols, 13);
}

TEST_P(FloatKernels, AccumulateInt8BlocksMatchesScalar) {
  check_fused_step(&kernels::MatmulKernels::accumulate_int8, *isa_, kernels::kPanelCols, 14, true);
}

// Accumulators of a run's tiles that do not start at zero, except (zero_column) column 7 of the last tile's,
// where a subnormal scale's products would otherwise be absorbed.
std::vector<float> starting_acc(int64_t tiles, int64_t acc_stride, int64_t rows, bool zero_column, std::mt19937 &gen) {
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> acc(static_cast<size_t>(tiles * acc_stride));
  for (float &v : acc) v = unit(gen);
  for (int64_t i = 0; zero_column && i < rows; ++i)
    acc[static_cast<size_t>((tiles - 1) * acc_stride + i * kernels::kPanelCols + 7)] = 0.0f;
  return acc;
}

// A run of INT4 tiles in one call against the scalar accumulate_int4 on each tile: tile counts, depths and
// segments around the register blocks, every offset/scale/rounding mode, scale and offset rows that differ
// from tile to tile (one of them subnormal in some runs), accumulators that do not start at zero.
TEST_P(FloatKernels, AccumulateInt4TilesMatchesScalarPerTile) {
  std::mt19937 gen(16);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f), scales(1e-4f, 0.1f), offsets(-9.0f, 9.0f);
  constexpr int64_t kCols = kernels::kPanelCols;
  for (int64_t tiles : {1, 2, 17}) {
    for (int64_t kp : {1, 15, 16, 17, 64, 127, 128}) {
      if (tiles > 2 && kp != 16 && kp != 17 && kp != 128) continue;  // many tiles: a few depths (ASan's time)
      for (int64_t segment : {int64_t{5}, int64_t{16}, kp}) {
        for (int64_t rows : {1, 2, 3, 4, 5, 8}) {
          // ND rows (tiles side by side), with and without a gap; NZ tiles (rows side by side, tiles apart).
          const bool nz = rows % 3 == 2;
          const int64_t row_bytes = nz ? kCols / 2 : tiles * kCols / 2 + (rows % 2) * 96;
          const int64_t tile_bytes = nz ? (kp + 1) * kCols / 2 : kCols / 2;
          std::vector<uint8_t> bytes(static_cast<size_t>(nz ? tiles * tile_bytes : kp * row_bytes));
          for (uint8_t &b : bytes) b = static_cast<uint8_t>(gen());
          const int64_t param_stride = 3 * kCols, acc_stride = rows * kCols + 16, x_stride = kp + 3;
          for (auto rounding : {kernels::Rounding::kHalf, kernels::Rounding::kBFloat16, kernels::Rounding::kNone}) {
            const auto as_type = [rounding](float v) {
              return rounding == kernels::Rounding::kBFloat16 ? round_to_bfloat16(v) : round_to_half(v);
            };
            std::vector<float> offset(static_cast<size_t>(tiles * param_stride)), scale(offset.size());
            for (size_t i = 0; i < offset.size(); ++i) {
              scale[i] = as_type(scales(gen));
              offset[i] = as_type(std::round(offsets(gen)) + (i % 3 == 0 ? 0.5f : 0.0f));
            }
            // In some runs the last tile has a subnormal scale in column 7, whose accumulators start at 0 so
            // that its subnormal products show: a run that a flushing rounding would get wrong in one tile.
            const bool subnormal = (kp + segment) % 3 == 0;
            const int64_t subnormal_at = (tiles - 1) * param_stride + 7;
            if (subnormal) scale[static_cast<size_t>(subnormal_at)] = as_type(1e-39f);
            std::vector<float> x(static_cast<size_t>(rows * x_stride));
            for (float &v : x) v = as_type(unit(gen));
            for (int mode = 0; mode < 4; ++mode) {
              const float *o = (mode & 1) ? offset.data() : nullptr;
              const float *sc = (mode & 2) ? scale.data() : nullptr;
              std::vector<float> got = starting_acc(tiles, acc_stride, rows, subnormal, gen);
              std::vector<float> want = got;
              std::vector<uint8_t> scratch(static_cast<size_t>(tiles * kernels::kTileScratchBytes) + 1);
              const kernels::TileRun run{
                  bytes.data(), row_bytes, tile_bytes, kp,       tiles, segment,    o,          sc,
                  param_stride, rounding,  x.data(),   x_stride, rows,  got.data(), acc_stride, scratch.data() + 1};
              isa_->matmul->accumulate_int4_tiles(run);
              for (int64_t s = 0; s < tiles; ++s) {
                scalar_isa().matmul->accumulate_int4(bytes.data() + s * tile_bytes, row_bytes, kp,
                                                     o != nullptr ? o + s * param_stride : nullptr,
                                                     sc != nullptr ? sc + s * param_stride : nullptr, rounding,
                                                     x.data(), x_stride, rows, want.data() + s * acc_stride);
              }
              for (size_t i = 0; i < got.size(); ++i) {
                ASSERT_EQ(float_bits(got[i]), float_bits(want[i]))
                    << tiles << " tiles, kp " << kp << ", segment " << segment << ", " << rows << " rows, rounding "
                    << static_cast<int>(rounding) << ", mode " << mode << ", element " << i;
              }
            }
          }
        }
      }
    }
  }
}

// The kernel sets with a by-lanes step (the others leave it null, and the engine takes accumulate_int4_tiles).
class ByLanesKernels : public FloatKernels {};

std::vector<std::string> by_lanes_isa_names() {
  std::vector<std::string> names;
  for (const std::string &name : compiled_isa_names()) {
    const kernels::Isa *isas = nullptr;
    const int n = kernels::compiled_isas(&isas);
    for (int i = 0; i < n; ++i) {
      if (name == isas[i].name && isas[i].matmul->accumulate_int4_tiles_by_lanes != nullptr) names.push_back(name);
    }
  }
  return names;
}

// The by-lanes sums as their definition reads, written out here: each row's values by the scalar row step,
// 16 lanes of fused multiply-adds from +0, then halves folded (stride 8, 4, 2, 1).
void by_lanes_definition(const kernels::TileRun &run) {
  for (int64_t s = 0; s < run.tiles; ++s) {
    for (int64_t i = 0; i < run.rows; ++i) {
      std::vector<float> lanes(16 * kernels::kPanelCols, 0.0f);
      for (int64_t t = 0; t < run.kp; ++t) {
        float w[kernels::kPanelCols];
        scalar_isa().matmul->dequant_int4_row(run.bytes + s * run.tile_bytes + t * run.row_bytes,
                                              run.offset != nullptr ? run.offset + s * run.param_stride : nullptr,
                                              run.scale != nullptr ? run.scale + s * run.param_stride : nullptr,
                                              run.rounding, w);
        for (int64_t c = 0; c < kernels::kPanelCols; ++c) {
          float &lane = lanes[static_cast<size_t>(16 * c + t % 16)];
          lane = std::fma(run.x[i * run.x_stride + t], w[c], lane);
        }
      }
      for (int64_t c = 0; c < kernels::kPanelCols; ++c) {
        float *v = lanes.data() + 16 * c;
        for (int stride = 8; stride >= 1; stride /= 2)
          for (int r = 0; r < stride; ++r) v[r] = v[r] + v[r + stride];
        float &a = run.acc[s * run.acc_stride + i * kernels::kPanelCols + c];
        a = a + v[0];
      }
    }
  }
}

// accumulate_int4_tiles_by_lanes against the scalar table's, and that against its definition: tile counts
// from 1 to 67, depths below, on and above the 16-row blocks and their halves, ND and NZ rows, every offset/scale/
// rounding mode, special and subnormal scales, an infinite offset, accumulators that do not start at zero.
TEST_P(ByLanesKernels, MatchScalar) {
  const auto mine = isa_->matmul->accumulate_int4_tiles_by_lanes;
  std::mt19937 gen(17);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f), scales(1e-4f, 0.1f), offsets(-9.0f, 9.0f);
  const std::vector<float> specials = interesting_floats(0);
  constexpr int64_t kCols = kernels::kPanelCols;
  int round = 0;
  for (int64_t tiles : {1, 2, 3, 67}) {
    for (int64_t kp : {1, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 97, 127, 128}) {
      if (tiles > 3 && kp != 17 && kp != 128) continue;  // many tiles: a few depths (ASan's time)
      for (int64_t rows : {1, 2, 3}) {
        for (bool nz : {false, true}) {
          ++round;
          const int64_t row_bytes = nz ? kCols / 2 : tiles * kCols / 2 + (rows % 2) * 96;
          const int64_t tile_bytes = nz ? (kp + 3) * kCols / 2 : kCols / 2;
          std::vector<uint8_t> bytes(static_cast<size_t>(nz ? tiles * tile_bytes : kp * row_bytes));
          for (uint8_t &b : bytes) b = static_cast<uint8_t>(gen());
          const int64_t param_stride = 2 * kCols + 5, acc_stride = rows * kCols + 16, x_stride = kp + 3;
          for (auto rounding : {kernels::Rounding::kHalf, kernels::Rounding::kBFloat16, kernels::Rounding::kNone}) {
            const auto as_type = [rounding](float v) {
              return rounding == kernels::Rounding::kBFloat16 ? round_to_bfloat16(v) : round_to_half(v);
            };
            std::vector<float> offset(static_cast<size_t>(tiles * param_stride)), scale(offset.size());
            for (size_t i = 0; i < offset.size(); ++i) {
              scale[i] = as_type(i % 11 == 3 && round % 3 == 0 ? specials[gen() % specials.size()] : scales(gen));
              offset[i] = as_type(std::round(offsets(gen)) + (i % 3 == 0 ? 0.5f : 0.0f));
            }
            // A subnormal scale in a column whose accumulators start at 0; an infinite offset elsewhere.
            const int64_t last = (tiles - 1) * param_stride;
            scale[static_cast<size_t>(last + 7)] = as_type(1e-39f);
            offset[static_cast<size_t>(last + 9)] = INFINITY;
            std::vector<float> x(static_cast<size_t>(rows * x_stride));
            for (float &v : x) v = as_type(unit(gen));
            for (int mode = 0; mode < 4; ++mode) {
              const float *o = (mode & 1) ? offset.data() : nullptr;
              const float *sc = (mode & 2) ? scale.data() : nullptr;
              std::vector<float> got = starting_acc(tiles, acc_stride, rows, true, gen);
              std::vector<float> want = got, defined = got;
              std::vector<uint8_t> scratch(static_cast<size_t>(tiles * kernels::kTileScratchBytes) + 1);
              kernels::TileRun run{bytes.data(), row_bytes,         tile_bytes, kp,       tiles,    16,   o,
                                   sc,           param_stride,      rounding,   x.data(), x_stride, rows, got.data(),
                                   acc_stride,   scratch.data() + 1};
              mine(run);
              run.acc = want.data();
              scalar_isa().matmul->accumulate_int4_tiles_by_lanes(run);
              run.acc = defined.data();
              by_lanes_definition(run);
              for (size_t i = 0; i < got.size(); ++i) {
                const std::string where = std::to_string(tiles) + " tiles, kp " + std::to_string(kp) + ", " +
                                          std::to_string(rows) + " rows, " + (nz ? "NZ" : "ND") + ", rounding " +
                                          std::to_string(static_cast<int>(rounding)) + ", mode " +
                                          std::to_string(mode) + ", element " + std::to_string(i);
                ASSERT_EQ(float_bits(want[i]), float_bits(defined[i])) << "scalar vs definition: " << where;
                ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << where;
              }
            }
          }
        }
      }
    }
  }
}

// Every scale of either type (without an offset and with one of 15) with every nibble, and every offset
// with scales 1, 1.99.. and 1/16, one row and x = 1, through the by-lanes step's tables (split rounding where
// a row's scales and offsets allow it, the steps of dequant_row otherwise) against the scalar step: the
// antiquantized values, bit for bit.
TEST_P(ByLanesKernels, AntiquantizationOfEveryScaleAndOffset) {
  const auto mine = isa_->matmul->accumulate_int4_tiles_by_lanes;
  constexpr int kCols = static_cast<int>(kernels::kPanelCols);
  uint8_t bytes[kCols / 2];  // column c holds nibble c % 16
  for (int i = 0; i < kCols / 2; ++i) bytes[i] = static_cast<uint8_t>((2 * i % 16) | ((2 * i + 1) % 16) << 4);
  for (auto rounding : {kernels::Rounding::kHalf, kernels::Rounding::kBFloat16}) {
    const bool half = rounding == kernels::Rounding::kHalf;
    const auto to_float = [half](uint32_t bits) {
      return half ? half_to_float(static_cast<uint16_t>(bits)) : bfloat16_to_float(static_cast<uint16_t>(bits));
    };
    const auto check = [&](const float *scale, const float *offset, const std::string &what) {
      const float x = 1.0f;
      float got[kCols] = {}, want[kCols] = {};
      uint8_t scratch[kernels::kTileScratchBytes];
      kernels::TileRun run{bytes, kCols / 2, kCols / 2, 1, 1, 1, offset, scale, 0, rounding, &x, 1, 1, got, 0, scratch};
      mine(run);
      run.acc = want;
      scalar_isa().matmul->accumulate_int4_tiles_by_lanes(run);
      for (int c = 0; c < kCols; ++c) {
        ASSERT_EQ(float_bits(got[c]), float_bits(want[c]))
            << "rounding " << static_cast<int>(rounding) << ", " << what << ", nibble " << c % 16 << ", scale "
            << scale[c] << (offset != nullptr ? ", offset " + std::to_string(offset[c]) : std::string());
      }
    };
    float fifteen[kCols];
    for (float &o : fifteen) o = to_float(half ? 0x4B80 : 0x4170);
    for (uint32_t base = 0; base <= 0xFFFF; base += 4) {
      float values[kCols];  // four of the type's values, 16 columns each
      for (int c = 0; c < kCols; ++c) values[c] = to_float(base + static_cast<uint32_t>(c / 16));
      check(values, nullptr, "every scale");
      check(values, fifteen, "every scale, offset 15");
      for (uint32_t fixed : {half ? 0x3C00u : 0x3F80u, 0x3FFFu, half ? 0x2C00u : 0x3D80u}) {
        float scale[kCols];
        for (float &v : scale) v = to_float(fixed);
        check(scale, values, "every offset");
      }
    }
  }
}

// One weight row (INT4, or INT8 with int8) times x = 1 under a rounding, from accumulators at 0, against the
// scalar step: the antiquantized values themselves, bit for bit. A row's 64 columns hold `value(c)` (a
// nibble, or an int8 value), `scale(c)` and `offset(c)` (bits of the rounding's type; offset null: none).
template <typename Value, typename Scale, typename Offset>
void check_antiquant_row(const kernels::Isa &isa, kernels::Rounding rounding, bool int8, const Value &value,
                         const Scale &scale, const Offset *offset, const std::string &what) {
  const auto to_float = [rounding](uint16_t bits) {
    return rounding == kernels::Rounding::kHalf ? half_to_float(bits) : bfloat16_to_float(bits);
  };
  uint8_t bytes[kernels::kPanelCols];
  float s[kernels::kPanelCols], o[kernels::kPanelCols];
  for (int c = 0; c < kernels::kPanelCols; ++c) {
    s[c] = to_float(scale(c));
    if (offset != nullptr) o[c] = to_float((*offset)(c));
    if (int8) bytes[c] = static_cast<uint8_t>(value(c));
  }
  if (!int8) {
    for (int i = 0; i < kernels::kPanelCols / 2; ++i)
      bytes[i] = static_cast<uint8_t>(value(2 * i) | (value(2 * i + 1) << 4));
  }
  const auto step = int8 ? &kernels::MatmulKernels::accumulate_int8 : &kernels::MatmulKernels::accumulate_int4;
  const int64_t row_bytes = int8 ? kernels::kPanelCols : kernels::kPanelCols / 2;
  const float x = 1.0f;
  float got[kernels::kPanelCols] = {}, want[kernels::kPanelCols] = {};
  const float *op = offset != nullptr ? o : nullptr;
  (isa.matmul->*step)(bytes, row_bytes, 1, op, s, rounding, &x, 1, 1, got);
  (scalar_isa().matmul->*step)(bytes, row_bytes, 1, op, s, rounding, &x, 1, 1, want);
  for (int c = 0; c < kernels::kPanelCols; ++c) {
    ASSERT_EQ(float_bits(got[c]), float_bits(want[c]))
        << what << (int8 ? ", INT8" : ", INT4") << ", rounding " << static_cast<int>(rounding) << ", column " << c
        << ": value " << value(c) << ", scale 0x" << std::hex << scale(c) << (offset != nullptr ? ", offset 0x" : "")
        << (offset != nullptr ? (*offset)(c) : 0);
  }
}

// The antiquantization r(r(w + offset) * scale) under the FLOAT16 and BFLOAT16 roundings, for every scale of
// the type with every int4 value and 16 int8 ones, the extremes among them (without an offset, and with one
// of 15); every offset with those values, scaled by 1, by a scale of full precision and by 1/16; and every pair of
// significands (with signs) of an r(w + offset) and a scale, whose rounding is all that the exponents leave
// to decide. The AVX-512 tables round by Veltkamp's splitting, which this shows equal to rounding to nearest
// even wherever they take it (and the rest goes to the steps they fall back to).
TEST_P(FloatKernels, AntiquantizationOfEveryScaleAndOffset) {
  const int int8_values[16] = {-128, -127, -65, -64, -3, -1, 0, 1, 2, 63, 64, 65, 100, 125, 126, 127};
  for (auto rounding : {kernels::Rounding::kHalf, kernels::Rounding::kBFloat16}) {
    const bool half = rounding == kernels::Rounding::kHalf;
    const auto fifteen = [half](int) { return half ? uint16_t{0x4B80} : uint16_t{0x4170}; };
    for (bool int8 : {false, true}) {
      const auto value = [int8, &int8_values](int c) { return int8 ? int8_values[c % 16] : c % 16; };
      for (uint32_t base = 0; base <= 0xFFFF; base += 4) {
        const auto scale = [base](int c) { return static_cast<uint16_t>(base + c / 16); };
        check_antiquant_row(*isa_, rounding, int8, value, scale, static_cast<decltype(scale) *>(nullptr),
                            "every scale");
        // An offset of 15, with which the largest scales' products overflow.
        check_antiquant_row(*isa_, rounding, int8, value, scale, &fifteen, "every scale, offset 15");
        // 1, 1.99... (all fraction bits set), and 1/16, small enough for the largest offsets' products
        for (uint16_t fixed : {half ? uint16_t{0x3C00} : uint16_t{0x3F80}, uint16_t{0x3FFF},
                               half ? uint16_t{0x2C00} : uint16_t{0x3D80}}) {
          const auto scale_fixed = [fixed](int) { return fixed; };
          check_antiquant_row(*isa_, rounding, int8, value, scale_fixed, &scale, "every offset");
        }
      }
    }
    // Significand pairs: w = 0, so r(w + offset) is the offset, of exponent 0 or 3 and either sign; scales
    // of exponent 0 and either sign.
    const uint32_t fraction_bits = half ? 10 : 7, fractions = 1u << fraction_bits;
    const uint32_t one = half ? 0x3C00 : 0x3F80, eight = half ? 0x4800 : 0x4100, sign = 0x8000;
    for (uint32_t first = 0; first < 4 * fractions; ++first) {
      const auto offset = [=](int) {
        return static_cast<uint16_t>((first & (2 * fractions) ? sign : 0u) | (first & fractions ? eight : one) |
                                     (first & (fractions - 1)));
      };
      for (uint32_t second = 0; second < 2 * fractions; second += kernels::kPanelCols) {
        const auto scale = [=](int c) {
          const uint32_t k = second + static_cast<uint32_t>(c);
          return static_cast<uint16_t>((k & fractions ? sign : 0u) | one | (k & (fractions - 1)));
        };
        check_antiquant_row(
            *isa_, rounding, false, [](int) { return 0; }, scale, &offset, "significands");
      }
    }
  }
}

// The table step of a transposed INT4 tile against the scalar one: every nibble through each column's
// table (special values included), columns apart as in ND and NZ, several rows of x.
TEST_P(FloatKernels, MultiplyAddInt4MatchesScalar) {
  std::mt19937 gen(15);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  const std::vector<float> specials = interesting_floats(0);
  for (int64_t columns : {1, 2, 17, 64}) {
    for (int64_t row_bytes : {int64_t{32}, int64_t{40}}) {
      for (int64_t rows : {1, 2, 5}) {
        std::vector<uint8_t> bytes(static_cast<size_t>(columns * row_bytes));
        for (uint8_t &b : bytes) b = static_cast<uint8_t>(gen());
        std::vector<float> table(static_cast<size_t>(columns * 16));
        for (size_t i = 0; i < table.size(); ++i) {
          table[i] = i % 13 == 5 ? specials[gen() % specials.size()] : round_to_half(unit(gen) * 4.0f);
        }
        const int64_t x_stride = kernels::kPanelCols + 7;
        std::vector<float> x(static_cast<size_t>(rows * x_stride));
        for (float &v : x) v = round_to_half(unit(gen));
        std::vector<float> got(static_cast<size_t>(rows * kernels::kPanelCols * kernels::kPanelCols));
        for (float &v : got) v = unit(gen);
        std::vector<float> want = got;
        isa_->matmul->multiply_add_int4(bytes.data(), row_bytes, columns, table.data(), x.data(), x_stride, rows,
                                        got.data());
        scalar_isa().matmul->multiply_add_int4(bytes.data(), row_bytes, columns, table.data(), x.data(), x_stride, rows,
                                               want.data());
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(float_bits(got[i]), float_bits(want[i]))
              << columns << " columns, row bytes " << row_bytes << ", " << rows << " rows, lane " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, FloatKernels, ::testing::ValuesIn(compiled_isa_names()),
                         [](const ::testing::TestParamInfo<std::string> &info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(IsasWithByLanes, ByLanesKernels, ::testing::ValuesIn(by_lanes_isa_names()),
                         [](const ::testing::TestParamInfo<std::string> &info) { return info.param; });

// The scalar definitions themselves, on values whose answers are known.
TEST(FloatDefinitions, RoundingToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16(bits_float(0x3F808000u)), 0x3F80);  // a tie to even (down)
  EXPECT_EQ(float_to_bfloat16(bits_float(0x3F818000u)), 0x3F82);  // a tie to even (up)
  EXPECT_EQ(float_to_bfloat16(bits_float(0x3F808001u)), 0x3F81);
  EXPECT_EQ(float_to_bfloat16(bits_float(0x7F7FFFFFu)), 0x7F80);  // rounds up to infinity
  EXPECT_EQ(float_to_bfloat16(bits_float(0x7F800001u)), 0x7FC0);  // a signalling NaN comes out quiet
  EXPECT_EQ(float_bits(bfloat16_to_float(0x7F81)), 0x7FC10000u);
  EXPECT_EQ(float_bits(half_to_float(0x7C01)), 0x7FC02000u);
  EXPECT_EQ(round_to_half(3.0f + 3.0f / 1024), 3.0f + 4.0f / 1024);  // 3 + 1.5 ulp(2^-9): to even
}

}  // namespace
}  // namespace int4pack
