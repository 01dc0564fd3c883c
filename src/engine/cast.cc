// int4pack::cast (include/int4pack/engine.h): every element type to every other, one value at a time
// through an exact intermediate, with the instruction set's vector conversions for contiguous spans of
// float32 <-> float16 / bfloat16.
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "core/floats.h"
#include "engine/elements.h"
#include "engine/pack.h"
#include "engine/settings.h"
#include "int4pack/engine.h"

namespace int4pack {
namespace {

using engine::Value;

constexpr size_t kMaxCastRank = 8;

// A value as the target's bits: the binary float formats by their significand and exponent limits.
struct FloatFormat {
  int mantissa_bits;  // explicit fraction bits
  int exponent_bits;
};
constexpr FloatFormat kHalfFormat{10, 5};
constexpr FloatFormat kBfloat16Format{7, 8};
constexpr FloatFormat kFloatFormat{23, 8};
constexpr FloatFormat kDoubleFormat{52, 11};

// The bits of sign * significand * 2^exponent (significand an exact integer) in `f`, rounded once: to
// nearest, ties to even; beyond the largest finite value, infinity; below half the smallest subnormal, 0.
uint64_t encode(bool negative, uint64_t significand, int exponent, FloatFormat f) {
  const uint64_t sign = negative ? uint64_t{1} << (f.mantissa_bits + f.exponent_bits) : 0;
  if (significand == 0) return sign;
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const int emax = bias;
  const int emin = 1 - bias;
  const int msb = 63 - __builtin_clzll(significand);
  const int value_exponent = exponent + msb;  // the value lies in [2^value_exponent, 2^(value_exponent + 1))
  const uint64_t infinity = sign | (((uint64_t{1} << f.exponent_bits) - 1) << f.mantissa_bits);
  if (value_exponent > emax) return infinity;
  // The lowest bit kept is worth 2^lowest: mantissa_bits below the leading one, or the subnormal step.
  const int lowest = (value_exponent >= emin ? value_exponent : emin) - f.mantissa_bits;
  uint64_t kept;
  if (lowest <= exponent) {
    kept = significand << (exponent - lowest);  // exact
  } else {
    const int shift = lowest - exponent;
    if (shift > 64) return sign;  // below a quarter of the smallest subnormal
    const uint64_t rest = shift == 64 ? significand : significand & ((uint64_t{1} << shift) - 1);
    kept = shift == 64 ? 0 : significand >> shift;
    const uint64_t half = uint64_t{1} << (shift - 1);
    if (rest > half || (rest == half && (kept & 1) != 0)) ++kept;
  }
  // kept is the significand over 2^lowest: for a normal value 2^mantissa_bits <= kept < 2^(mantissa_bits+1)
  // (or exactly 2^(mantissa_bits+1) after rounding up), for a subnormal kept < 2^mantissa_bits.
  const uint64_t implicit = uint64_t{1} << f.mantissa_bits;
  int biased = lowest + f.mantissa_bits + bias;  // the exponent field when kept has its leading one
  if (kept >= (implicit << 1)) {
    kept >>= 1;
    ++biased;
  }
  if (kept < implicit) return sign | kept;  // subnormal (or rounded to 0): exponent field 0
  if (biased >= (1 << f.exponent_bits) - 1) return infinity;
  return sign | (static_cast<uint64_t>(biased) << f.mantissa_bits) | (kept - implicit);
}

// The bits of a finite double in `f`, rounded once; infinities stay, NaN becomes the quiet NaN with the
// double's top payload bits.
uint64_t encode_double(double d, FloatFormat f) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  const bool negative = (bits >> 63) != 0;
  const int exponent_field = static_cast<int>((bits >> 52) & 0x7FF);
  const uint64_t fraction = bits & ((uint64_t{1} << 52) - 1);
  const uint64_t sign = negative ? uint64_t{1} << (f.mantissa_bits + f.exponent_bits) : 0;
  const uint64_t all_ones = ((uint64_t{1} << f.exponent_bits) - 1) << f.mantissa_bits;
  if (exponent_field == 0x7FF) {
    if (fraction == 0) return sign | all_ones;
    const uint64_t payload = fraction >> (52 - f.mantissa_bits);
    return sign | all_ones | payload | (uint64_t{1} << (f.mantissa_bits - 1));
  }
  if (exponent_field == 0) return encode(negative, fraction, -1074, f);
  return encode(negative, fraction | (uint64_t{1} << 52), exponent_field - 1075, f);
}

uint64_t encode_integer(const Value &v, FloatFormat f) {
  if (v.kind == Value::kUnsigned) return encode(false, v.u, 0, f);
  const bool negative = v.i < 0;
  const uint64_t magnitude = negative ? ~static_cast<uint64_t>(v.i) + 1 : static_cast<uint64_t>(v.i);
  return encode(negative, magnitude, 0, f);
}

// A real value in a float format: exact for integers, rounded once from the double for floats.
uint64_t to_float_bits(const Value &v, FloatFormat f) {
  if (v.kind == Value::kFloat) return encode_double(v.re, f);
  return encode_integer(v, f);
}

// A real value as an integer of `bits` bits (signed or not): floats truncate toward zero and saturate, NaN
// is 0; integers keep their low bits.
uint64_t to_integer_bits(const Value &v, int bits, bool is_signed) {
  const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  if (v.kind != Value::kFloat) return (v.kind == Value::kUnsigned ? v.u : static_cast<uint64_t>(v.i)) & mask;
  const double d = v.re;
  if (std::isnan(d)) return 0;
  const double t = std::trunc(d);
  if (is_signed) {
    const double lo = -std::ldexp(1.0, bits - 1);
    const double hi = std::ldexp(1.0, bits - 1);  // exclusive
    if (t <= lo) return static_cast<uint64_t>(-(bits == 64 ? INT64_MAX : (int64_t{1} << (bits - 1)) - 1) - 1) & mask;
    if (t >= hi) return static_cast<uint64_t>(bits == 64 ? INT64_MAX : (int64_t{1} << (bits - 1)) - 1);
    return static_cast<uint64_t>(static_cast<int64_t>(t)) & mask;
  }
  if (t <= 0) return 0;
  if (t >= std::ldexp(1.0, bits)) return mask;
  return static_cast<uint64_t>(t);
}

void store(uint8_t *p, ElementType type, const Value &v) {
  const auto put = [p](uint64_t bits, size_t bytes) { std::memcpy(p, &bits, bytes); };  // little-endian
  switch (type) {
    case ElementType::kBool:
      put(v.nonzero() ? 1 : 0, 1);
      return;
    case ElementType::kInt8:
      put(to_integer_bits(v, 8, true), 1);
      return;
    case ElementType::kUint8:
      put(to_integer_bits(v, 8, false), 1);
      return;
    case ElementType::kInt16:
      put(to_integer_bits(v, 16, true), 2);
      return;
    case ElementType::kUint16:
      put(to_integer_bits(v, 16, false), 2);
      return;
    case ElementType::kInt32:
      put(to_integer_bits(v, 32, true), 4);
      return;
    case ElementType::kUint32:
      put(to_integer_bits(v, 32, false), 4);
      return;
    case ElementType::kInt64:
      put(to_integer_bits(v, 64, true), 8);
      return;
    case ElementType::kUint64:
      put(to_integer_bits(v, 64, false), 8);
      return;
    case ElementType::kFloat16:
      put(to_float_bits(v, kHalfFormat), 2);
      return;
    case ElementType::kBFloat16:
      put(to_float_bits(v, kBfloat16Format), 2);
      return;
    case ElementType::kFloat32:
      put(to_float_bits(v, kFloatFormat), 4);
      return;
    case ElementType::kFloat64:
      put(to_float_bits(v, kDoubleFormat), 8);
      return;
    case ElementType::kComplex64: {
      put(to_float_bits(v, kFloatFormat), 4);
      const uint32_t im = static_cast<uint32_t>(encode_double(v.im, kFloatFormat));
      std::memcpy(p + 4, &im, 4);
      return;
    }
    case ElementType::kComplex128: {
      put(to_float_bits(v, kDoubleFormat), 8);
      const uint64_t im = encode_double(v.im, kDoubleFormat);
      std::memcpy(p + 8, &im, 8);
      return;
    }
    default:
      return;
  }
}

bool castable(ElementType t) { return engine::element_bytes(t) != 0 && t != ElementType::kInt4; }

std::vector<int64_t> row_major(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

bool is_row_major(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides) {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

// The vector path for a contiguous span, when there is one for the pair of types.
bool cast_span(const void *from, ElementType from_type, void *out, ElementType to, int64_t count) {
  const kernels::Isa *isa = engine::active_isa();
  if (isa == nullptr) return false;
  const kernels::CastKernels &k = *isa->cast;
  const auto *f = static_cast<const float *>(from);
  const auto *h = static_cast<const uint16_t *>(from);
  if (from_type == ElementType::kFloat32 && to == ElementType::kFloat16) {
    k.float_to_half(f, static_cast<uint16_t *>(out), count);
  } else if (from_type == ElementType::kFloat32 && to == ElementType::kBFloat16) {
    k.float_to_bfloat16(f, static_cast<uint16_t *>(out), count);
  } else if (from_type == ElementType::kFloat16 && to == ElementType::kFloat32) {
    k.half_to_float(h, static_cast<float *>(out), count);
  } else if (from_type == ElementType::kBFloat16 && to == ElementType::kFloat32) {
    k.bfloat16_to_float(h, static_cast<float *>(out), count);
  } else if (from_type == to) {
    std::memcpy(out, from, static_cast<size_t>(count) * engine::element_bytes(to));
  } else {
    return false;
  }
  return true;
}

Result fail(ErrorKind kind, std::string message) {
  Result r;
  r.kind = kind;
  r.message = std::move(message);
  return r;
}

}  // namespace

Result cast(const Array &from, ElementType to, void *out, const std::vector<int64_t> &out_strides) {
  if (!castable(from.type) || !castable(to)) return fail(ErrorKind::kType, "cast: an element type it cannot convert");
  if (from.shape.size() > kMaxCastRank) return fail(ErrorKind::kShape, "cast: more than 8 dims");
  int64_t count = 1;
  for (int64_t d : from.shape) {
    if (d < 0 || __builtin_mul_overflow(count, d, &count)) return fail(ErrorKind::kShape, "cast: not a shape");
  }
  if (count == 0) return {};
  if (from.data == nullptr || out == nullptr) return fail(ErrorKind::kBuffer, "cast: a NULL buffer");
  if (!from.strides.empty() && from.strides.size() != from.shape.size()) {
    return fail(ErrorKind::kShape, "cast: one stride per dim of the input, please");
  }
  if (!out_strides.empty() && out_strides.size() != from.shape.size()) {
    return fail(ErrorKind::kShape, "cast: one stride per dim of the output, please");
  }
  const std::vector<int64_t> in_s = from.strides.empty() ? row_major(from.shape) : from.strides;
  const std::vector<int64_t> out_s = out_strides.empty() ? row_major(from.shape) : out_strides;
  try {
    if (is_row_major(from.shape, in_s) && is_row_major(from.shape, out_s) && engine::settings_error().empty()) {
      // Contiguous both ways: the vector conversions, split over the engine's threads.
      const engine::Run run = engine::active_run();
      const size_t in_bytes = engine::element_bytes(from.type);
      const size_t out_bytes = engine::element_bytes(to);
      const int parts =
          engine::parts_for(count * static_cast<int64_t>(in_bytes + out_bytes), run.threads, count, run.min_part_bytes);
      engine::run_parts(parts, run.threads, [&](int p) {
        const int64_t begin = count * p / parts;
        const int64_t end = count * (p + 1) / parts;
        const auto *src = static_cast<const uint8_t *>(from.data) + begin * static_cast<int64_t>(in_bytes);
        auto *dst = static_cast<uint8_t *>(out) + begin * static_cast<int64_t>(out_bytes);
        if (cast_span(src, from.type, dst, to, end - begin)) return;
        for (int64_t i = 0; i < end - begin; ++i) {
          store(dst + i * static_cast<int64_t>(out_bytes), to,
                engine::load_value(src + i * static_cast<int64_t>(in_bytes), from.type));
        }
      });
      return {};
    }
    std::vector<int64_t> index(from.shape.size(), 0);
    const size_t in_bytes = engine::element_bytes(from.type);
    const size_t out_bytes = engine::element_bytes(to);
    for (int64_t e = 0; e < count; ++e) {
      int64_t in_off = 0, out_off = 0;
      for (size_t d = 0; d < index.size(); ++d) {
        in_off += index[d] * in_s[d];
        out_off += index[d] * out_s[d];
      }
      const auto *src = static_cast<const uint8_t *>(from.data) + in_off * static_cast<int64_t>(in_bytes);
      auto *dst = static_cast<uint8_t *>(out) + out_off * static_cast<int64_t>(out_bytes);
      if (from.type == to) {
        std::memcpy(dst, src, in_bytes);  // the same type: the same bits
      } else {
        store(dst, to, engine::load_value(src, from.type));
      }
      for (size_t d = index.size(); d-- > 0;) {
        if (++index[d] < from.shape[d]) break;
        index[d] = 0;
      }
    }
  } catch (const std::bad_alloc &) {
    return fail(ErrorKind::kMemory, "out of memory");
  }
  return {};
}

}  // namespace int4pack
