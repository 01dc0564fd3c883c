// Element sizes and binary16 conversions.
#include <cstring>

#include "acl/acl_base.h"
#include "core/floats.h"

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

float aclFloat16ToFloat(aclFloat16 value) { return int4pack::half_to_float(value); }

aclFloat16 aclFloatToFloat16(float value) { return int4pack::float_to_half(value); }

}  // extern "C"
