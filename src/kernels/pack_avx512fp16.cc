// AVX-512 FP16 CPUs pack with the AVX-512 kernels: packing is integer work, which FP16 arithmetic does not
// speed up. (The table is built from their names; avx512_steps.h says why.)
#include "kernels/avx512_steps.h"
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {

const PackKernels pack_avx512fp16 = avx512::pack_table();

}  // namespace int4pack::kernels
