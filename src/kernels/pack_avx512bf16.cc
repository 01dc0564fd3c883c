// AVX-512 CPUs with AVX512-BF16 pack with the AVX-512 kernels: packing is integer work. (The table is built
// from their names; avx512_steps.h says why.)
#include "kernels/avx512_steps.h"
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {

const PackKernels pack_avx512bf16 = avx512::pack_table();

}  // namespace int4pack::kernels
