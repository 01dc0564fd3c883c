// The cast family: float32 to and from float16 / bfloat16 over contiguous spans, the conversions a matmul's
// activations and an aclnnCast between float types spend their time in. Rounding as core/floats.h (to
// nearest even, NaN kept and quietened), which the scalar table is and every other table is tested
// against, bit for bit.
#ifndef INT4PACK_KERNELS_CAST_KERNELS_H_
#define INT4PACK_KERNELS_CAST_KERNELS_H_

#include <cstdint>

#include "kernels/isa_arch.h"

namespace int4pack::kernels {

struct CastKernels {
  void (*float_to_half)(const float *src, uint16_t *dst, int64_t n);
  void (*half_to_float)(const uint16_t *src, float *dst, int64_t n);
  void (*float_to_bfloat16)(const float *src, uint16_t *dst, int64_t n);
  void (*bfloat16_to_float)(const uint16_t *src, float *dst, int64_t n);
};

#define INT4PACK_ISA(name, arch, flags, requirement) INT4PACK_ON_##arch(extern const CastKernels cast_##name;)
#include "kernels/isa_list.inc"
#undef INT4PACK_ISA

}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_CAST_KERNELS_H_
