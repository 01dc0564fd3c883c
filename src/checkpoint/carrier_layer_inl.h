// for_each_carrier's definition (a template, used by carrier_layer.cc and int4_tensors.cc).
#ifndef INT4PACK_CHECKPOINT_CARRIER_LAYER_INL_H_
#define INT4PACK_CHECKPOINT_CARRIER_LAYER_INL_H_

#include <cstring>

namespace int4pack::checkpoint {

template <typename F>
void for_each_carrier(const uint8_t *p, Dtype dtype, int64_t n, F f) {
  switch (dtype) {
    case Dtype::kI32:
      for (int64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        if (!f(i, v)) return;
      }
      return;
    case Dtype::kI16:
      for (int64_t i = 0; i < n; ++i) {
        int16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        if (!f(i, v)) return;
      }
      return;
    case Dtype::kI8:
      for (int64_t i = 0; i < n; ++i) {
        if (!f(i, static_cast<int8_t>(p[i]))) return;
      }
      return;
    case Dtype::kU8:
      for (int64_t i = 0; i < n; ++i) {
        if (!f(i, p[i])) return;
      }
      return;
    default:
      return;
  }
}

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_CARRIER_LAYER_INL_H_
