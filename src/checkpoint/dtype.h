// safetensors' element types, parsed once at the boundary (the header reader) into an enum; the rest of
// the converter compares enums, and only messages and written headers spell names.
#ifndef INT4PACK_CHECKPOINT_DTYPE_H_
#define INT4PACK_CHECKPOINT_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace int4pack::checkpoint {

// X(enumerator, name in files, bytes per element)
#define INT4PACK_SAFETENSORS_DTYPES(X) \
  X(kBool, "BOOL", 1)                  \
  X(kU8, "U8", 1)                      \
  X(kI8, "I8", 1)                      \
  X(kF8E5M2, "F8_E5M2", 1)             \
  X(kF8E4M3, "F8_E4M3", 1)             \
  X(kI16, "I16", 2)                    \
  X(kU16, "U16", 2)                    \
  X(kF16, "F16", 2)                    \
  X(kBF16, "BF16", 2)                  \
  X(kI32, "I32", 4)                    \
  X(kU32, "U32", 4)                    \
  X(kF32, "F32", 4)                    \
  X(kF64, "F64", 8)                    \
  X(kI64, "I64", 8)                    \
  X(kU64, "U64", 8)

enum class Dtype : uint8_t {
#define INT4PACK_DTYPE_ENUMERATOR(e, name, bytes) e,
  INT4PACK_SAFETENSORS_DTYPES(INT4PACK_DTYPE_ENUMERATOR)
#undef INT4PACK_DTYPE_ENUMERATOR
};

// The dtype a header names ("I32", "BF16", ...; case matters), or nothing for a name the format lacks.
std::optional<Dtype> parse_dtype(std::string_view name);
const char *dtype_name(Dtype dtype);
size_t dtype_size(Dtype dtype);

// The integer carriers of int4 values the converter packs: I32, I16, I8, U8.
bool is_carrier_dtype(Dtype dtype);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_DTYPE_H_
