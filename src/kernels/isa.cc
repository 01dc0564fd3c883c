// The instruction sets of this build, expanded from isa_list.inc, and the CPU detection behind their
// requirements.
#include "kernels/isa.h"

#include "kernels/cpu.h"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace int4pack::kernels {
namespace {

#if defined(__x86_64__)
// XCR0: which register states the OS saves on context switch.
uint64_t read_xcr0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx & (1u << 27)) != 0;
  const bool avx = (ecx & (1u << 28)) != 0;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_saved = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  f.fma = ymm_saved && (ecx & (1u << 12)) != 0;
  f.f16c = ymm_saved && (ecx & (1u << 29)) != 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  f.avx2 = ymm_saved && (ebx & (1u << 5)) != 0;
  f.avx512f = zmm_saved && (ebx & (1u << 16)) != 0;
  f.avx512bw = zmm_saved && (ebx & (1u << 30)) != 0;
  f.avx512vl = zmm_saved && (ebx & (1u << 31)) != 0;
  f.avx512fp16 = zmm_saved && (edx & (1u << 23)) != 0;
  if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) f.avx512bf16 = f.avx512f && (eax & (1u << 5)) != 0;
  return f;
}
#else
CpuFeatures detect() {
  CpuFeatures f;
#if defined(__aarch64__)
  f.neon = true;                                                   // Advanced SIMD is part of every AArch64 CPU
  constexpr unsigned long kFphp = 1ul << 9, kAsimdhp = 1ul << 10;  // the kernel's HWCAP bits (asm/hwcap.h)
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.neon_fp16 = (hwcap & kFphp) != 0 && (hwcap & kAsimdhp) != 0;
#endif
  return f;
}
#endif

constexpr bool same(const char *a, const char *b) { return *a == *b && (*a == '\0' || same(a + 1, b + 1)); }

#define INT4PACK_ISA(name, arch, flags, requirement) INT4PACK_ON_##arch(#name, )
constexpr const char *kNames[] = {
#include "kernels/isa_list.inc"
};
#undef INT4PACK_ISA
constexpr int kCount = static_cast<int>(sizeof(kNames) / sizeof(kNames[0]));
static_assert(kCount >= 1 && same(kNames[kCount - 1], "scalar"),
              "isa_list.inc must end with the portable scalar kernels, which every CPU runs");

struct Registry {
  Isa isas[kCount];
  int best = kCount - 1;  // scalar, unless a better one is supported
};

const Registry &registry() {
  static const Registry r = [] {
    const CpuFeatures &cpu = cpu_features();
    (void)cpu;  // unused where every requirement of this architecture is `true`
#define INT4PACK_ISA(name, arch, flags, requirement) \
  INT4PACK_ON_##arch(Isa{#name, (requirement), &pack_##name, &cast_##name, &matmul_##name}, )
    Registry reg{{
#include "kernels/isa_list.inc"
    }};
#undef INT4PACK_ISA
    for (int i = 0; i < kCount; ++i) {
      if (reg.isas[i].supported) {
        reg.best = i;
        break;
      }
    }
    return reg;
  }();
  return r;
}

}  // namespace

const CpuFeatures &cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

int compiled_isas(const Isa **isas) {
  *isas = registry().isas;
  return kCount;
}

const Isa *find_supported(const std::string &name) {
  for (const Isa &isa : registry().isas) {
    if (isa.supported && name == isa.name) return &isa;
  }
  return nullptr;
}

const Isa &best_isa() { return registry().isas[registry().best]; }

std::string isa_names() {
  std::string names;
  for (const Isa &isa : registry().isas) names += std::string(names.empty() ? "" : "|") + isa.name;
  return names;
}

}  // namespace int4pack::kernels
