// Matmul steps for CPUs with AVX-512 and AVX512-BF16 but not AVX-512 FP16 (AMD Zen 4 and 5, Intel Cooper
// Lake): the AVX-512 table's, whose FLOAT16 and BFLOAT16 rows round by splitting and need no AVX512-BF16 or FP16
// instruction (matmul_split.h; the cast kernels of this set use them). Built from their names (avx512_steps.h).
#include "kernels/avx512_steps.h"
#include "kernels/matmul_kernels.h"

namespace int4pack::kernels {

const MatmulKernels matmul_avx512bf16 = avx512::matmul_table();

}  // namespace int4pack::kernels
