// IEEE binary16 ("half", FLOAT16) and bfloat16 (BF16) to and from binary32, one value at a time: the
// definitions every vectorized conversion is tested against, and what the portable kernels use. Rounding
// is to nearest, ties to even; overflow gives infinity; a NaN stays a NaN, made quiet (its top payload bits
// kept) where a width changes, as the hardware conversions (F16C, NEON) do.
#ifndef INT4PACK_CORE_FLOATS_H_
#define INT4PACK_CORE_FLOATS_H_

#include <cstdint>
#include <cstring>

namespace int4pack {

inline uint32_t float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

inline float bits_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) {  // inf, or nan (quietened, payload kept)
    return bits_float(sign | 0x7F800000u | (mantissa << 13) | (mantissa != 0 ? 0x00400000u : 0u));
  }
  if (exponent != 0) return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return bits_float(sign);
  uint32_t e = 113;  // a subnormal half: normalise its mantissa into a float
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  return bits_float(sign | (e << 23) | ((mantissa & 0x3FFu) << 13));
}

inline uint16_t float_to_half(float value) {
  const uint32_t bits = float_bits(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));  // nan
  if (magnitude >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 2^16: inf
  if (magnitude < 0x33000000u) return static_cast<uint16_t>(sign);             // <= 2^-25: rounds to 0
  const uint32_t exponent = magnitude >> 23;
  if (magnitude < 0x38800000u) {
    // Result is subnormal: value / 2^-24, rounded to nearest even.
    const uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - exponent;
    uint32_t result = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  uint32_t result = ((exponent - 112) << 10) | ((magnitude >> 13) & 0x3FFu);
  const uint32_t rest = magnitude & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;  // a carry may round up to inf: correct
  return static_cast<uint16_t>(sign | result);
}

// Exact: a bfloat16 is the top half of a float (a NaN made quiet).
inline float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  return bits_float((bits & 0x7FFFFFFFu) > 0x7F800000u ? bits | 0x00400000u : bits);
}

inline uint16_t float_to_bfloat16(float value) {
  const uint32_t bits = float_bits(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // quiet nan
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to even; a carry into the exponent
  // rounds up to the next binade, or to infinity, as it should.
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// A float rounded to the nearest half / bfloat16 and back: the golden steps' r(v).
inline float round_to_half(float v) { return half_to_float(float_to_half(v)); }
inline float round_to_bfloat16(float v) { return bfloat16_to_float(float_to_bfloat16(v)); }

}  // namespace int4pack

#endif  // INT4PACK_CORE_FLOATS_H_
