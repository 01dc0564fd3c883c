// Picks the kernel table the engine uses. Only the portable table exists so far; SIMD tables and the
// INT4PACK_ISA override join here.
#include "kernels/kernels.h"

namespace int4pack::kernels {

const KernelTable &active_kernels() { return scalar_kernels(); }

}  // namespace int4pack::kernels
