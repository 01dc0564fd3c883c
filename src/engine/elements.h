// Elements of every ElementType: their sizes, and any one of them read as an exact value (the cast's
// intermediate, and how the matmul reads its scale, offset and bias operands).
#ifndef INT4PACK_ENGINE_ELEMENTS_H_
#define INT4PACK_ENGINE_ELEMENTS_H_

#include <cstdint>
#include <cstring>

#include "core/floats.h"
#include "int4pack/engine.h"

namespace int4pack::engine {

inline size_t element_bytes(ElementType t) {
  switch (t) {
    case ElementType::kBool:
    case ElementType::kInt8:
    case ElementType::kUint8:
    case ElementType::kInt4:
      return 1;
    case ElementType::kInt16:
    case ElementType::kUint16:
    case ElementType::kFloat16:
    case ElementType::kBFloat16:
      return 2;
    case ElementType::kInt32:
    case ElementType::kUint32:
    case ElementType::kFloat32:
      return 4;
    case ElementType::kInt64:
    case ElementType::kUint64:
    case ElementType::kFloat64:
    case ElementType::kComplex64:
      return 8;
    case ElementType::kComplex128:
      return 16;
  }
  return 0;
}

// A value exactly: an integer (signed or not), or a float or complex as doubles (every float type fits).
struct Value {
  enum Kind { kSigned, kUnsigned, kFloat } kind = kSigned;
  int64_t i = 0;
  uint64_t u = 0;
  double re = 0, im = 0;
  bool nonzero() const { return kind == kSigned ? i != 0 : kind == kUnsigned ? u != 0 : (re != 0 || im != 0); }
};

template <typename T>
T read_as(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline Value signed_value(int64_t i) {
  Value v;
  v.i = i;
  return v;
}
inline Value unsigned_value(uint64_t u) {
  Value v;
  v.kind = Value::kUnsigned;
  v.u = u;
  return v;
}
inline Value float_value(double re, double im = 0) {
  Value v;
  v.kind = Value::kFloat;
  v.re = re;
  v.im = im;
  return v;
}

// The element at p (little-endian, any alignment). kInt4 has no single-element reading.
inline Value load_value(const uint8_t *p, ElementType t) {
  switch (t) {
    case ElementType::kBool:
      return unsigned_value(*p != 0 ? 1 : 0);
    case ElementType::kInt8:
      return signed_value(static_cast<int8_t>(*p));
    case ElementType::kUint8:
      return unsigned_value(*p);
    case ElementType::kInt16:
      return signed_value(read_as<int16_t>(p));
    case ElementType::kUint16:
      return unsigned_value(read_as<uint16_t>(p));
    case ElementType::kInt32:
      return signed_value(read_as<int32_t>(p));
    case ElementType::kUint32:
      return unsigned_value(read_as<uint32_t>(p));
    case ElementType::kInt64:
      return signed_value(read_as<int64_t>(p));
    case ElementType::kUint64:
      return unsigned_value(read_as<uint64_t>(p));
    case ElementType::kFloat16:
      return float_value(half_to_float(read_as<uint16_t>(p)));
    case ElementType::kBFloat16:
      return float_value(bfloat16_to_float(read_as<uint16_t>(p)));
    case ElementType::kFloat32:
      return float_value(read_as<float>(p));
    case ElementType::kFloat64:
      return float_value(read_as<double>(p));
    case ElementType::kComplex64:
      return float_value(read_as<float>(p), read_as<float>(p + 4));
    case ElementType::kComplex128:
      return float_value(read_as<double>(p), read_as<double>(p + 8));
    case ElementType::kInt4:
      break;
  }
  return Value{};
}

}  // namespace int4pack::engine

#endif  // INT4PACK_ENGINE_ELEMENTS_H_
