// NEON CPUs with half-precision arithmetic pack with the NEON kernels: packing is integer work. (Copied at
// start-up from the constant-initialized NEON table.)
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {

const PackKernels pack_neonfp16 = pack_neon;

}  // namespace int4pack::kernels
