// INT4PACK_ON_<architecture>(...): its arguments on that architecture, nothing elsewhere. Expands the
// architecture field of isa_list.inc.
#ifndef INT4PACK_KERNELS_ISA_ARCH_H_
#define INT4PACK_KERNELS_ISA_ARCH_H_

#if defined(__x86_64__)
#define INT4PACK_ON_x86_64(...) __VA_ARGS__
#else
#define INT4PACK_ON_x86_64(...)
#endif
#if defined(__aarch64__)
#define INT4PACK_ON_aarch64(...) __VA_ARGS__
#else
#define INT4PACK_ON_aarch64(...)
#endif
#define INT4PACK_ON_any(...) __VA_ARGS__

#endif  // INT4PACK_KERNELS_ISA_ARCH_H_
