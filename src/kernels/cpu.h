// What this CPU and its OS support, read once (CPUID and XGETBV on x86-64; AArch64 always has NEON). The
// requirements in isa_list.inc are expressions over these fields.
#ifndef INT4PACK_KERNELS_CPU_H_
#define INT4PACK_KERNELS_CPU_H_

namespace int4pack::kernels {

struct CpuFeatures {
  // x86-64. The AVX features count only when the OS saves the registers they use (XCR0).
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512bf16 = false;
  bool avx512fp16 = false;
  // AArch64.
  bool neon = false;
};

const CpuFeatures &cpu_features();

}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_CPU_H_
