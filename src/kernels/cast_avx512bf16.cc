// AVX-512 CPUs with AVX512-BF16 convert floats with the AVX-512 kernels: VCVTNEPS2BF16 flushes subnormals,
// which a cast must keep. (The table is built from their names; avx512_steps.h says why.)
#include "kernels/avx512_steps.h"
#include "kernels/cast_kernels.h"

namespace int4pack::kernels {

const CastKernels cast_avx512bf16 = avx512::cast_table();

}  // namespace int4pack::kernels
