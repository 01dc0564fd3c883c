// Chooses the kernel table once per process: CPU detection (CPUID plus the OS check that it saves the
// wide registers), then INT4PACK_ISA if set, else the best supported table, scalar last.
#include <cstdlib>

#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace int4pack::kernels {
namespace {

const KernelTable kScalar{"scalar", pack_nd_scalar, pack_nz_scalar, unpack_nd_scalar, unpack_nz_scalar, fits_int4_scalar};
#if defined(__x86_64__)
const KernelTable kAvx2{"avx2", pack_nd_avx2, pack_nz_avx2, unpack_nd_avx2, unpack_nz_avx2, fits_int4_avx2};
const KernelTable kAvx512{"avx512", pack_nd_avx512, pack_nz_avx512, unpack_nd_avx512, unpack_nz_avx512, fits_int4_avx512};

// XCR0: which register states the OS saves on context switch.
uint64_t read_xcr0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

struct X86Features {
  bool avx2 = false;
  bool avx512 = false;  // F + BW + VL
};

X86Features detect_x86() {
  X86Features f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx & (1u << 27)) != 0;
  const bool avx = (ecx & (1u << 28)) != 0;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  const bool zmm_saved = (xcr0 & 0xE6) == 0xE6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  f.avx2 = ymm_saved && (ebx & (1u << 5)) != 0;
  const bool avx512f = (ebx & (1u << 16)) != 0;
  const bool avx512bw = (ebx & (1u << 30)) != 0;
  const bool avx512vl = (ebx & (1u << 31)) != 0;
  f.avx512 = f.avx2 && zmm_saved && avx512f && avx512bw && avx512vl;
  return f;
}
#endif
#if defined(__aarch64__)
const KernelTable kNeon{"neon", pack_nd_neon, pack_nz_neon, unpack_nd_neon, unpack_nz_neon, fits_int4_neon};
#endif

struct Registry {
  IsaSupport isas[4];
  int count = 0;
  const KernelTable *active = nullptr;
  std::string error;
};

const Registry &registry() {
  static const Registry r = [] {
    Registry reg;
#if defined(__x86_64__)
    const X86Features f = detect_x86();
    reg.isas[reg.count++] = {&kAvx512, f.avx512};
    reg.isas[reg.count++] = {&kAvx2, f.avx2};
#endif
#if defined(__aarch64__)
    reg.isas[reg.count++] = {&kNeon, true};
#endif
    reg.isas[reg.count++] = {&kScalar, true};

    const char *forced = std::getenv("INT4PACK_ISA");
    if (forced == nullptr || *forced == '\0') {
      for (int i = 0; i < reg.count && reg.active == nullptr; ++i) {
        if (reg.isas[i].supported) reg.active = reg.isas[i].table;
      }
      return reg;
    }
    std::string known;
    for (int i = 0; i < reg.count; ++i) {
      known += std::string(i ? "|" : "") + reg.isas[i].table->isa;
      if (std::string(forced) != reg.isas[i].table->isa) continue;
      if (reg.isas[i].supported) {
        reg.active = reg.isas[i].table;
      } else {
        reg.error = std::string("INT4PACK_ISA=") + forced + ": this CPU (or its OS) does not support " + forced;
      }
      return reg;
    }
    reg.error = std::string("INT4PACK_ISA=") + forced + " is not an instruction set of this build (" + known + ")";
    return reg;
  }();
  return r;
}

}  // namespace

int compiled_isas(const IsaSupport **isas) {
  *isas = registry().isas;
  return registry().count;
}

const KernelTable *find_supported(const std::string &isa) {
  const Registry &r = registry();
  for (int i = 0; i < r.count; ++i) {
    if (r.isas[i].supported && isa == r.isas[i].table->isa) return r.isas[i].table;
  }
  return nullptr;
}

const KernelTable *active_kernels() { return registry().active; }

const std::string &isa_error() { return registry().error; }

}  // namespace int4pack::kernels
