// Kernel interface: one table of function pointers per instruction set, chosen once at run time.
//
// Kernels receive spans the engine has validated and split between threads; they write every output
// byte of their part (NZ padding as 0), never allocate and never fail. `streaming` asks for
// non-temporal stores: the engine sets it when the output is too large to stay in cache anyway (the x86
// NZ kernels take their streaming path only when dst is 64-byte aligned, as aclrtMalloc's blocks are).
#ifndef INT4PACK_KERNELS_KERNELS_H_
#define INT4PACK_KERNELS_KERNELS_H_

#include <cstdint>
#include <string>

#include "core/layout.h"

namespace int4pack::kernels {

// ND: the packed matrix is one flat run of value pairs. src: 2*bytes int32 values, dst: bytes.
using PackNd = void (*)(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming);
using UnpackNd = void (*)(const uint8_t *src, int32_t *dst, int64_t bytes);
// NZ: the blocks of row blocks [rb_begin, rb_end), all column blocks. src holds the rows of those row
// blocks (it starts at row 16 * rb_begin), so a caller can stream rows through a small buffer; dst is the
// whole NZ buffer, so threads given disjoint row-block ranges never write the same byte.
using PackNz = void (*)(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                        bool streaming);
using UnpackNz = void (*)(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end);
// Whether all n values of src lie in [low, low + 15] (the int4 range of a signed or offset-8 encoding).
using FitsInt4 = bool (*)(const int32_t *src, int64_t n, int32_t low);

struct KernelTable {
  const char *isa;  // "scalar", "avx2", "avx512", "neon"
  PackNd pack_nd;
  PackNz pack_nz;
  UnpackNd unpack_nd;
  UnpackNz unpack_nz;
  FitsInt4 fits_int4;
};

// One file per ISA (pack_<isa>.cc, pack and unpack); only those files are compiled with ISA flags.
void pack_nd_scalar(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming);
void pack_nz_scalar(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                    bool streaming);
void unpack_nd_scalar(const uint8_t *src, int32_t *dst, int64_t bytes);
void unpack_nz_scalar(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end);
bool fits_int4_scalar(const int32_t *src, int64_t n, int32_t low);
#if defined(__x86_64__)
void pack_nd_avx2(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming);
void pack_nz_avx2(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                  bool streaming);
void unpack_nd_avx2(const uint8_t *src, int32_t *dst, int64_t bytes);
void unpack_nz_avx2(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end);
bool fits_int4_avx2(const int32_t *src, int64_t n, int32_t low);
void pack_nd_avx512(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming);
void pack_nz_avx512(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                    bool streaming);
void unpack_nd_avx512(const uint8_t *src, int32_t *dst, int64_t bytes);
void unpack_nz_avx512(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end);
bool fits_int4_avx512(const int32_t *src, int64_t n, int32_t low);
#endif
#if defined(__aarch64__)
void pack_nd_neon(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming);
void pack_nz_neon(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                  bool streaming);
void unpack_nd_neon(const uint8_t *src, int32_t *dst, int64_t bytes);
void unpack_nz_neon(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end);
bool fits_int4_neon(const int32_t *src, int64_t n, int32_t low);
#endif

// Every table this build contains, best first, scalar last, with whether this CPU and OS can run it.
struct IsaSupport {
  const KernelTable *table;
  bool supported;
};
int compiled_isas(const IsaSupport **isas);

// A supported table by name, or null (tests and benchmarks force ISAs this way).
const KernelTable *find_supported(const std::string &isa);

// The table the engine uses, decided once: the one INT4PACK_ISA names, else the best supported one.
// Null when INT4PACK_ISA is unknown or names an ISA this CPU lacks; isa_error() then says why, and the
// operator and the tool refuse to run instead of silently falling back.
const KernelTable *active_kernels();
const std::string &isa_error();

}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_KERNELS_H_
