// The pack family: per-ISA kernels that pack int32 values into int4 (ND, FRACTAL_NZ) and back, and check
// the int4 range. Every instruction set of isa_list.inc defines its table in pack_<isa>.cc, the only file
// compiled with its flags.
//
// Kernels see plain spans the engine has validated: they write every output byte they own (NZ padding
// as 0), never allocate and never fail. `streaming` asks for non-temporal stores: the engine sets it when
// the output is too large to stay in cache anyway (the x86 NZ kernels take their streaming path only when
// dst is 64-byte aligned, as aclrtMalloc's blocks are).
#ifndef INT4PACK_KERNELS_PACK_KERNELS_H_
#define INT4PACK_KERNELS_PACK_KERNELS_H_

#include <cstdint>

#include "core/layout.h"
#include "kernels/isa_arch.h"

namespace int4pack::kernels {

struct PackKernels {
  // ND: the packed matrix is one flat run of value pairs. src: 2 * bytes int32 values, dst: bytes.
  void (*pack_nd)(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming);
  void (*unpack_nd)(const uint8_t *src, int32_t *dst, int64_t bytes);
  // NZ: the blocks of row blocks [rb_begin, rb_end), all column blocks. src holds the rows of those row
  // blocks (it starts at row 16 * rb_begin), so a caller can stream rows through a small buffer; dst is
  // the whole NZ buffer, so threads given disjoint row-block ranges never write the same byte.
  void (*pack_nz)(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                  bool streaming);
  void (*unpack_nz)(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end);
  // Whether all n values of src lie in [low, low + 15] (the int4 range of a signed or offset-8 encoding).
  bool (*fits_int4)(const int32_t *src, int64_t n, int32_t low);
};

#define INT4PACK_ISA(name, arch, flags, requirement) INT4PACK_ON_##arch(extern const PackKernels pack_##name;)
#include "kernels/isa_list.inc"
#undef INT4PACK_ISA

}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_PACK_KERNELS_H_
