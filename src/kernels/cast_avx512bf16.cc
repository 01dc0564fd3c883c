// AVX-512 CPUs with AVX512-BF16 convert floats with the AVX-512 kernels: VCVTNEPS2BF16 flushes subnormals,
// which a cast must keep. (Copied at start-up from the constant-initialized AVX-512 table.)
#include "kernels/cast_kernels.h"

namespace int4pack::kernels {

const CastKernels cast_avx512bf16 = cast_avx512;

}  // namespace int4pack::kernels
