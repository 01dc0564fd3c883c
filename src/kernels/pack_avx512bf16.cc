// AVX-512 CPUs with AVX512-BF16 pack with the AVX-512 kernels: packing is integer work. (Copied at
// start-up from the constant-initialized AVX-512 table.)
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {

const PackKernels pack_avx512bf16 = pack_avx512;

}  // namespace int4pack::kernels
