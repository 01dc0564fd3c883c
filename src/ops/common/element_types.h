// CANN's data types as the engine's element types (include/int4pack/engine.h).
#ifndef INT4PACK_OPS_COMMON_ELEMENT_TYPES_H_
#define INT4PACK_OPS_COMMON_ELEMENT_TYPES_H_

#include <cstdint>
#include <optional>

#include "acl/acl_base.h"
#include "int4pack/engine.h"

namespace int4pack::ops {

// Nothing for a dtype the engine has no element type for (STRING, the 8-, 6- and 4-bit floats, ...).
// UINT64 and INT64 words are both kUint64 / kInt64 as named; INT4 is the packed kInt4.
inline std::optional<ElementType> element_type_of(int32_t dtype) {
  switch (dtype) {
    case ACL_BOOL:
      return ElementType::kBool;
    case ACL_INT8:
      return ElementType::kInt8;
    case ACL_UINT8:
      return ElementType::kUint8;
    case ACL_INT16:
      return ElementType::kInt16;
    case ACL_UINT16:
      return ElementType::kUint16;
    case ACL_INT32:
      return ElementType::kInt32;
    case ACL_UINT32:
      return ElementType::kUint32;
    case ACL_INT64:
      return ElementType::kInt64;
    case ACL_UINT64:
      return ElementType::kUint64;
    case ACL_FLOAT16:
      return ElementType::kFloat16;
    case ACL_BF16:
      return ElementType::kBFloat16;
    case ACL_FLOAT:
      return ElementType::kFloat32;
    case ACL_DOUBLE:
      return ElementType::kFloat64;
    case ACL_COMPLEX64:
      return ElementType::kComplex64;
    case ACL_COMPLEX128:
      return ElementType::kComplex128;
    case ACL_INT4:
      return ElementType::kInt4;
    default:
      return std::nullopt;
  }
}

}  // namespace int4pack::ops

#endif  // INT4PACK_OPS_COMMON_ELEMENT_TYPES_H_
