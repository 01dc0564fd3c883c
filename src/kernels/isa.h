// The instruction sets of this build (kernels/isa_list.inc), whether this CPU runs each, and their kernel
// tables. Detection happens once per process; choosing one (INT4PACK_ISA) is the engine's business.
#ifndef INT4PACK_KERNELS_ISA_H_
#define INT4PACK_KERNELS_ISA_H_

#include <string>

#include "kernels/cast_kernels.h"
#include "kernels/matmul_kernels.h"
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {

// An instruction set and its table of each kernel family.
struct Isa {
  const char *name;  // as in isa_list.inc and INT4PACK_ISA
  bool supported;    // this CPU and OS can run it
  const PackKernels *pack;
  const CastKernels *cast;
  const MatmulKernels *matmul;
};

// Every instruction set of this build, best first, scalar last (always supported). *isas stays valid.
int compiled_isas(const Isa **isas);

// A supported instruction set by name, or null (tests and benchmarks force ISAs this way).
const Isa *find_supported(const std::string &name);

// The best supported one.
const Isa &best_isa();

// The names of this build's instruction sets, "avx512|avx2|scalar" (for messages).
std::string isa_names();

}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_ISA_H_
