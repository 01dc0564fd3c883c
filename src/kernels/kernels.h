// Kernel interface: one table of function pointers per instruction set. Kernels receive validated
// spans and write every output byte; they never allocate and never fail.
#ifndef INT4PACK_KERNELS_KERNELS_H_
#define INT4PACK_KERNELS_KERNELS_H_

#include <cstdint>

#include "core/layout.h"

namespace int4pack::kernels {

struct KernelTable {
  const char *isa;  // "scalar", ...
  // src rows*cols int32, dst packed_bytes(shape, kNd) bytes.
  void (*pack_nd)(const int32_t *src, uint8_t *dst, MatrixShape shape);
  // src rows*cols int32, dst packed_bytes(shape, kNz) bytes (padding written as 0).
  void (*pack_nz)(const int32_t *src, uint8_t *dst, MatrixShape shape);
  void (*unpack_nd)(const uint8_t *src, int32_t *dst, MatrixShape shape);
  void (*unpack_nz)(const uint8_t *src, int32_t *dst, MatrixShape shape);
};

// Portable kernels: whole bytes at a time, NZ written block by block in output order.
const KernelTable &scalar_kernels();

// The table the engine uses.
const KernelTable &active_kernels();

}  // namespace int4pack::kernels

#endif  // INT4PACK_KERNELS_KERNELS_H_
