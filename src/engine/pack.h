// Packing plans and their execution: the dispatched kernels over the thread split. Plans hold raw spans
// the caller has validated (the checked entry points are in api.cc, behind include/int4pack/engine.h).
#ifndef INT4PACK_ENGINE_PACK_H_
#define INT4PACK_ENGINE_PACK_H_

#include <cstdint>

#include "core/layout.h"
#include "engine/parallel.h"
#include "int4pack/engine.h"

namespace int4pack::engine {

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

// The active instruction set and thread count; settings_error() must be "".
Run active_run();

void pack_with(const PackPlan &plan, const Run &run);
void unpack_with(const UnpackPlan &plan, const Run &run);

// Packs a matrix whose rows come from `source` (see int4pack::RowSource). With `low`, every value must lie
// in [low, low + 15]: the first value outside ends the pack with kOutOfRange (the output is then
// unspecified and may be partly written); without, values are masked like pack_with's. Each thread takes
// a few hundred KiB of rows at a time from `source`, checks them and packs them while they are in cache.
// For a file, reading rows with pread into the buffer is a copy the kernel makes at memory speed, where
// touching a memory map of the same pages pays a TLB miss, in a virtual machine a costly one, per 4 KiB.
enum class StreamedPack { kPacked, kOutOfRange, kSourceFailed, kNoMemory };
StreamedPack pack_rows_with(MatrixShape shape, PackedLayout layout, uint8_t *dst, const RowSource &source,
                            const Run &run, const int32_t *low);
inline StreamedPack pack_rows_if_in_range_with(MatrixShape shape, PackedLayout layout, uint8_t *dst, int32_t low,
                                               const RowSource &source, const Run &run) {
  return pack_rows_with(shape, layout, dst, source, run, &low);
}

// Whether every value of a carrier (count values of element_bytes 1, 2 or 4, signed or not, little-
// endian, any alignment) lies in [low, low + 15]. Read at memory speed, on the run's threads.
bool carriers_fit_int4(const void *data, int64_t count, int element_bytes, bool is_signed, int32_t low, const Run &run);

}  // namespace int4pack::engine

#endif  // INT4PACK_ENGINE_PACK_H_
