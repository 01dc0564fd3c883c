// Element sizes and binary16 conversions.
#include <cstring>

#include "acl/acl_base.h"

extern "C" {

size_t aclDataTypeSize(aclDataType dataType) {
  int32_t bits;  // a C caller may pass any int: never load it as the enum (see tensor/tensor.h)
  std::memcpy(&bits, &dataType, sizeof bits);
  switch (bits) {
#define INT4PACK_DTYPE(enumerator, name, bytes) \
  case enumerator:                              \
    return bytes;
#include "runtime/acl_enums.inc"
#undef INT4PACK_DTYPE
  }
  return 0;  // values outside the enumeration
}

float aclFloat16ToFloat(aclFloat16 value) {
  const uint32_t sign = static_cast<uint32_t>(value & 0x8000u) << 16;
  const uint32_t exponent = (value >> 10) & 0x1Fu;
  uint32_t mantissa = value & 0x3FFu;
  uint32_t bits = 0;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf / nan (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise the mantissa into a float.
    uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

aclFloat16 aclFloatToFloat16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<aclFloat16>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));  // nan
  if (magnitude >= 0x47800000u) return static_cast<aclFloat16>(sign | 0x7C00u);  // >= 2^16: inf
  if (magnitude < 0x33000000u) return static_cast<aclFloat16>(sign);             // <= 2^-25: rounds to 0
  const uint32_t exponent = magnitude >> 23;
  if (magnitude < 0x38800000u) {
    // Result is subnormal: value / 2^-24, rounded to nearest even.
    const uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - exponent;
    uint32_t result = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (result & 1u))) ++result;
    return static_cast<aclFloat16>(sign | result);
  }
  uint32_t result = ((exponent - 112) << 10) | ((magnitude >> 13) & 0x3FFu);
  const uint32_t rest = magnitude & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;  // a carry may round up to inf: correct
  return static_cast<aclFloat16>(sign | result);
}

}  // extern "C"
