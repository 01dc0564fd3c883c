// The reference: the packing rule written as plainly as possible, one value at a time, straight from
// the definition (nibble 2j low, 2j+1 high; NZ byte (i, j) at nz_offset). Every other kernel is tested
// against it byte for byte. Slow on purpose; never used on a hot path.
#ifndef INT4PACK_KERNELS_REFERENCE_H_
#define INT4PACK_KERNELS_REFERENCE_H_

#include <cstdint>

#include "core/layout.h"

namespace int4pack::reference {

// src: shape.rows x shape.cols int32 values, row-major; dst: packed_bytes(shape, layout) bytes, all written.
void pack(const int32_t *src, MatrixShape shape, PackedLayout layout, uint8_t *dst);
// The inverse: dst gets the values sign-extended to [-8, 7].
void unpack(const uint8_t *src, MatrixShape shape, PackedLayout layout, int32_t *dst);

}  // namespace int4pack::reference

#endif  // INT4PACK_KERNELS_REFERENCE_H_
