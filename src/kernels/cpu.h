// What this CPU and its OS support, read once (CPUID and XGETBV on x86-64; on AArch64, NEON always and the
// rest from the kernel's HWCAP). The requirements in isa_list.inc are expressions over these fields.
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
  bool neon_fp16 = false;  // half-precision arithmetic, scalar and vector (FEAT_FP16: HWCAP_FPHP, HWCAP_ASIMDHP)
};

const CpuFeatures &cpu_features();

}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_CPU_H_
