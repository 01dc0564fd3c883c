// aclTensor as the int4pack libraries see it. Not installed: CANN users only see the opaque type.
#ifndef INT4PACK_TENSOR_TENSOR_H_
#define INT4PACK_TENSOR_TENSOR_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "aclnn/acl_meta.h"
#include "runtime/internal_api.h"

struct aclTensor {
  std::vector<int64_t> view_dims;
  std::vector<int64_t> strides;  // always view_dims.size() entries (computed when the caller gave none)
  int64_t offset = 0;            // in elements of dtype
  // aclDataType / aclFormat as the caller passed them. Kept as plain ints: a C caller may pass any int,
  // and a C++ enum object holding a value outside its enumerators' range is undefined behaviour.
  int32_t dtype = ACL_DT_UNDEFINED;
  int32_t format = ACL_FORMAT_UNDEFINED;  // view and storage format alike, as in CANN
  std::vector<int64_t> storage_dims;
  void *data = nullptr;  // borrowed, never freed here
};

namespace int4pack::tensor {

// Most dims a descriptor may have; CANN's operators use at most 8.
inline constexpr uint64_t kMaxDims = 64;

// True when t was returned by aclCreateTensor and not yet destroyed.
INT4PACK_INTERNAL bool is_live(const aclTensor *t);

// The bits of an enum argument, read without loading it as the enum type (see aclTensor::dtype).
template <typename Enum>
int32_t enum_bits(const Enum &value) {
  static_assert(sizeof(Enum) == sizeof(int32_t), "ACL enums are int-sized");
  int32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// Row-major strides for dims, computed with wrapping arithmetic so that absurd dims never overflow into
// undefined behaviour (operators reject such shapes on their own).
INT4PACK_INTERNAL std::vector<int64_t> contiguous_strides(const std::vector<int64_t> &dims);

// Names of an aclDataType / aclFormat value as messages print them ("FLOAT16", "FRACTAL_NZ"), or
// "UNKNOWN(<value>)" (runtime/acl_enums.inc).
INT4PACK_INTERNAL std::string dtype_name(int32_t dtype);
INT4PACK_INTERNAL std::string format_name(int32_t format);
// Origin formats describe plain row-major memory with view strides; every other format is a private
// (blocked) layout whose strides are not checked, as in CANN. Unknown values count as private.
INT4PACK_INTERNAL bool is_origin_format(int32_t format);

}  // namespace int4pack::tensor

#endif  // INT4PACK_TENSOR_TENSOR_H_
