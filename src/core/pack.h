// The engine's entry points: pack an int32 carrier matrix into int4 (ND or FRACTAL_NZ) and back.
// Plans hold raw spans that the caller has already validated; nothing here can fail.
#ifndef INT4PACK_CORE_PACK_H_
#define INT4PACK_CORE_PACK_H_

#include <cstdint>

#include "core/layout.h"

namespace int4pack {

// src: rows*cols int32 values, row-major. dst: packed_bytes(shape, layout) bytes; every byte is written
// (NZ padding as 0). Values are masked with 0xF: 8 packs as -8, -9 as 7.
struct PackPlan {
  MatrixShape shape;
  PackedLayout layout = PackedLayout::kNd;
  const int32_t *src = nullptr;
  uint8_t *dst = nullptr;
};

// src: packed_bytes(shape, layout) bytes. dst: rows*cols int32 values in [-8, 7] (nibbles sign-extended).
struct UnpackPlan {
  MatrixShape shape;
  PackedLayout layout = PackedLayout::kNd;
  const uint8_t *src = nullptr;
  int32_t *dst = nullptr;
};

void pack(const PackPlan &plan);
void unpack(const UnpackPlan &plan);

}  // namespace int4pack

#endif  // INT4PACK_CORE_PACK_H_
