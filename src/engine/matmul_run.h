// The engine's weight-quantized matmul with an explicit Run (ISA, threads): int4pack/matmul.h's
// weight_quant_matmul runs it with the settings' Run; benchmarks and tests pick the ISA.
#ifndef INT4PACK_ENGINE_MATMUL_RUN_H_
#define INT4PACK_ENGINE_MATMUL_RUN_H_

#include "engine/parallel.h"
#include "int4pack/matmul.h"

namespace int4pack::engine {

Result weight_quant_matmul_with(const MatmulArgs &args, const Run &run);

}  // namespace int4pack::engine

#endif  // INT4PACK_ENGINE_MATMUL_RUN_H_
