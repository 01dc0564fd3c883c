#include "cast_reference.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/floats.h"

namespace int4pack::reference {
namespace {

// A value exactly: an integer in 128 bits, or a float as a long double (every type's values fit; on x86 its
// 64-bit significand holds every int64 and double, on aarch64 it is binary128), plus NaN's sign and top
// payload bits (as the fraction just below the quiet bit, left-aligned in 64 bits).
struct Exact {
  bool is_int = true;
  __int128 i = 0;
  long double re = 0, im = 0;
  bool nan = false, nan_negative = false;
  uint64_t payload = 0;
  bool im_nan = false, im_nan_negative = false;
  uint64_t im_payload = 0;
};

template <typename T>
T get(const void *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A NaN's fraction below the quiet bit, left-aligned, from a format with `fraction_bits`.
uint64_t payload_of(uint64_t fraction, int fraction_bits) {
  const uint64_t below_quiet = fraction & ((uint64_t{1} << (fraction_bits - 1)) - 1);
  return below_quiet << (64 - (fraction_bits - 1));
}

Exact from_float_bits(uint64_t bits, int fraction_bits, int exponent_bits, long double value) {
  Exact e;
  e.is_int = false;
  const uint64_t exponent = (bits >> fraction_bits) & ((uint64_t{1} << exponent_bits) - 1);
  const uint64_t fraction = bits & ((uint64_t{1} << fraction_bits) - 1);
  if (exponent == (uint64_t{1} << exponent_bits) - 1 && fraction != 0) {
    e.nan = true;
    e.nan_negative = (bits >> (fraction_bits + exponent_bits)) & 1;
    e.payload = payload_of(fraction, fraction_bits);
    return e;
  }
  e.re = value;
  return e;
}

Exact read(const void *p, aclDataType t) {
  Exact e;
  switch (t) {
    case ACL_BOOL:
      e.i = get<uint8_t>(p) != 0;
      return e;
    case ACL_INT8:
      e.i = get<int8_t>(p);
      return e;
    case ACL_UINT8:
      e.i = get<uint8_t>(p);
      return e;
    case ACL_INT16:
      e.i = get<int16_t>(p);
      return e;
    case ACL_UINT16:
      e.i = get<uint16_t>(p);
      return e;
    case ACL_INT32:
      e.i = get<int32_t>(p);
      return e;
    case ACL_UINT32:
      e.i = get<uint32_t>(p);
      return e;
    case ACL_INT64:
      e.i = get<int64_t>(p);
      return e;
    case ACL_UINT64:
      e.i = get<uint64_t>(p);
      return e;
    case ACL_FLOAT16: {
      const uint16_t h = get<uint16_t>(p);
      return from_float_bits(h, 10, 5, half_to_float(h));
    }
    case ACL_BF16: {
      const uint16_t b = get<uint16_t>(p);
      return from_float_bits(b, 7, 8, bits_float(static_cast<uint32_t>(b) << 16));
    }
    case ACL_FLOAT:
      return from_float_bits(get<uint32_t>(p), 23, 8, get<float>(p));
    case ACL_DOUBLE:
      return from_float_bits(get<uint64_t>(p), 52, 11, get<double>(p));
    case ACL_COMPLEX64: {
      Exact re = from_float_bits(get<uint32_t>(p), 23, 8, get<float>(p));
      const Exact im = from_float_bits(get<uint32_t>(static_cast<const uint8_t *>(p) + 4), 23, 8,
                                       get<float>(static_cast<const uint8_t *>(p) + 4));
      re.im = im.re;
      re.im_nan = im.nan;
      re.im_nan_negative = im.nan_negative;
      re.im_payload = im.payload;
      return re;
    }
    case ACL_COMPLEX128: {
      Exact re = from_float_bits(get<uint64_t>(p), 52, 11, get<double>(p));
      const Exact im = from_float_bits(get<uint64_t>(static_cast<const uint8_t *>(p) + 8), 52, 11,
                                       get<double>(static_cast<const uint8_t *>(p) + 8));
      re.im = im.re;
      re.im_nan = im.nan;
      re.im_nan_negative = im.nan_negative;
      re.im_payload = im.payload;
      return re;
    }
    default:
      return e;
  }
}

// v rounded to nearest even in a binary format of `precision` significand bits (implicit bit included) and
// exponents down to `min_exponent` (of the leading bit of normal values); +-inf past `max_finite`.
long double round_to_format(long double v, int precision, int min_exponent, long double max_finite) {
  if (v == 0 || std::isinf(v)) return v;
  int e = 0;
  std::frexp(v, &e);  // |v| in [2^(e-1), 2^e)
  const int ulp_exponent = std::max(e - 1, min_exponent) - (precision - 1);
  const long double r = std::ldexp(std::nearbyint(std::ldexp(v, -ulp_exponent)), ulp_exponent);
  if (std::fabs(r) > max_finite) return v < 0 ? -INFINITY : INFINITY;
  return r;
}

void write_float(const Exact &e, bool imaginary, aclDataType t, void *dst) {
  const long double v = imaginary ? e.im : (e.is_int ? static_cast<long double>(e.i) : e.re);
  const bool nan = imaginary ? e.im_nan : e.nan;
  const uint64_t payload = imaginary ? e.im_payload : e.payload;
  // A NaN: sign, all-ones exponent, the quiet bit and the top payload bits that fit.
  const auto nan_bits = [&](int fraction_bits, int exponent_bits) {
    const bool negative = imaginary ? e.im_nan_negative : e.nan_negative;
    const uint64_t sign = negative ? uint64_t{1} << (fraction_bits + exponent_bits) : 0;
    const uint64_t exp = ((uint64_t{1} << exponent_bits) - 1) << fraction_bits;
    return sign | exp | (uint64_t{1} << (fraction_bits - 1)) | (payload >> (64 - (fraction_bits - 1)));
  };
  switch (t) {
    case ACL_FLOAT16: {
      const uint16_t h = nan ? static_cast<uint16_t>(nan_bits(10, 5))
                             : float_to_half(static_cast<float>(round_to_format(v, 11, -14, 65504.0L)));
      std::memcpy(dst, &h, 2);
      return;
    }
    case ACL_BF16: {
      const uint16_t b =
          nan ? static_cast<uint16_t>(nan_bits(7, 8))
              : static_cast<uint16_t>(
                    float_bits(static_cast<float>(round_to_format(v, 8, -126, std::ldexp(255.0L, 120)))) >> 16);
      std::memcpy(dst, &b, 2);
      return;
    }
    case ACL_FLOAT:
    case ACL_COMPLEX64: {
      const uint32_t f = nan ? static_cast<uint32_t>(nan_bits(23, 8))
                             : float_bits(static_cast<float>(round_to_format(v, 24, -126, FLT_MAX)));
      std::memcpy(static_cast<uint8_t *>(dst) + (imaginary ? 4 : 0), &f, 4);
      return;
    }
    default: {  // DOUBLE, COMPLEX128
      uint64_t d;
      if (nan) {
        d = nan_bits(52, 11);
      } else {
        const double r = static_cast<double>(round_to_format(v, 53, -1022, DBL_MAX));
        std::memcpy(&d, &r, 8);
      }
      std::memcpy(static_cast<uint8_t *>(dst) + (imaginary ? 8 : 0), &d, 8);
      return;
    }
  }
}

void write_int(const Exact &e, aclDataType t, void *dst) {
  int bits = 8;
  bool is_signed = false;
  switch (t) {
    case ACL_INT8:
      is_signed = true;
      bits = 8;
      break;
    case ACL_UINT8:
      bits = 8;
      break;
    case ACL_INT16:
      is_signed = true;
      bits = 16;
      break;
    case ACL_UINT16:
      bits = 16;
      break;
    case ACL_INT32:
      is_signed = true;
      bits = 32;
      break;
    case ACL_UINT32:
      bits = 32;
      break;
    case ACL_INT64:
      is_signed = true;
      bits = 64;
      break;
    default:
      bits = 64;
      break;  // UINT64
  }
  unsigned __int128 result;
  if (e.is_int) {
    result = static_cast<unsigned __int128>(e.i);  // the low bits: wrap-around
  } else if (e.nan) {
    result = 0;
  } else {
    const long double lo = is_signed ? -std::ldexp(1.0L, bits - 1) : 0.0L;
    const long double hi = is_signed ? std::ldexp(1.0L, bits - 1) - 1 : std::ldexp(1.0L, bits) - 1;
    const long double t = std::trunc(e.re);
    const long double c = t < lo ? lo : t > hi ? hi : t;
    result = static_cast<unsigned __int128>(static_cast<__int128>(c));
  }
  const uint64_t low = static_cast<uint64_t>(result);
  std::memcpy(dst, &low, static_cast<size_t>(bits / 8));  // little-endian
}

}  // namespace

size_t cast_element_bytes(aclDataType dtype) { return dtype == ACL_BOOL ? 1 : aclDataTypeSize(dtype); }

void cast_element(const void *src, aclDataType from, void *dst, aclDataType to) {
  if (from == to) {  // the same type: the same bits, a signalling NaN included
    std::memcpy(dst, src, cast_element_bytes(to));
    return;
  }
  const Exact e = read(src, from);
  switch (to) {
    case ACL_BOOL: {
      const bool nonzero = e.is_int ? e.i != 0 : (e.nan || e.im_nan || e.re != 0 || e.im != 0);
      const uint8_t b = nonzero ? 1 : 0;
      std::memcpy(dst, &b, 1);
      return;
    }
    case ACL_FLOAT16:
    case ACL_BF16:
    case ACL_FLOAT:
    case ACL_DOUBLE:
      write_float(e, false, to, dst);
      return;
    case ACL_COMPLEX64:
    case ACL_COMPLEX128:
      write_float(e, false, to, dst);
      write_float(e, true, to, dst);
      return;
    default:
      write_int(e, to, dst);
      return;
  }
}

}  // namespace int4pack::reference
