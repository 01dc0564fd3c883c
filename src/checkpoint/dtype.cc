#include "checkpoint/dtype.h"

namespace int4pack::checkpoint {

std::optional<Dtype> parse_dtype(std::string_view name) {
#define INT4PACK_DTYPE_PARSE(e, text, bytes) \
  if (name == text) return Dtype::e;
  INT4PACK_SAFETENSORS_DTYPES(INT4PACK_DTYPE_PARSE)
#undef INT4PACK_DTYPE_PARSE
  return std::nullopt;
}

const char *dtype_name(Dtype dtype) {
  switch (dtype) {
#define INT4PACK_DTYPE_NAME(e, text, bytes) \
  case Dtype::e:                            \
    return text;
    INT4PACK_SAFETENSORS_DTYPES(INT4PACK_DTYPE_NAME)
#undef INT4PACK_DTYPE_NAME
  }
  return "?";
}

size_t dtype_size(Dtype dtype) {
  switch (dtype) {
#define INT4PACK_DTYPE_SIZE(e, text, bytes) \
  case Dtype::e:                            \
    return bytes;
    INT4PACK_SAFETENSORS_DTYPES(INT4PACK_DTYPE_SIZE)
#undef INT4PACK_DTYPE_SIZE
  }
  return 0;
}

bool is_carrier_dtype(Dtype dtype) {
  return dtype == Dtype::kI32 || dtype == Dtype::kI16 || dtype == Dtype::kI8 || dtype == Dtype::kU8;
}

}  // namespace int4pack::checkpoint
