// AVX-512 FP16 CPUs pack with the AVX-512 kernels: packing is integer work, which FP16 arithmetic does not
// speed up. (Copied at start-up from the constant-initialized AVX-512 table.)
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {

const PackKernels pack_avx512fp16 = pack_avx512;

}  // namespace int4pack::kernels
