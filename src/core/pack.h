// The engine's entry points: pack an int32 carrier matrix into int4 (ND or FRACTAL_NZ) and back, with
// the dispatched kernels, split over threads. Plans hold raw spans the caller has validated.
#ifndef INT4PACK_CORE_PACK_H_
#define INT4PACK_CORE_PACK_H_

#include <cstdint>
#include <functional>
#include <string>

#include "core/layout.h"

namespace int4pack {

namespace kernels {
struct KernelTable;
}

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

// What is wrong with the engine's settings (INT4PACK_ISA, INT4PACK_NUM_THREADS), or "" when it can
// run. Callers check it before building plans; pack() and unpack() assume it is "".
std::string engine_error();

// With the active kernels and thread count. Small matrices stay on the calling thread.
void pack(const PackPlan &plan);
void unpack(const UnpackPlan &plan);

// With a given table and thread count (tests and benchmarks compare ISAs and thread counts this way).
void pack_with(const PackPlan &plan, const kernels::KernelTable &kernels, int threads);
void unpack_with(const UnpackPlan &plan, const kernels::KernelTable &kernels, int threads);

// Rows [first_row, first_row + rows) of a matrix, row-major int32: a pointer to them where the source
// holds them in memory already, else `buffer` (room for those rows) filled with them, e.g. read from a
// file. Null when they cannot be had (a read error); that ends the pack. Called from several threads at
// once, for disjoint rows.
using RowSource = std::function<const int32_t *(int64_t first_row, int64_t rows, int32_t *buffer)>;
enum class StreamedPack { kPacked, kOutOfRange, kSourceFailed, kNoMemory };
// Packs like pack()/pack_with(), checking on the way that every value lies in [low, low + 15]; with any
// outcome but kPacked the output is unspecified (and may be partly written). Each thread takes a few
// hundred KiB of rows at a time from `source`, checks them and packs them while they are in cache, so a
// converter validates and packs with one read of its input. For a file, reading rows with pread into the
// buffer is a copy the kernel makes at memory speed, where touching a memory map of the same pages pays a
// TLB miss, in a virtual machine a costly one, per 4 KiB.
StreamedPack pack_rows_if_in_range(MatrixShape shape, PackedLayout layout, uint8_t *dst, int32_t low,
                                   const RowSource &source);
StreamedPack pack_rows_if_in_range_with(MatrixShape shape, PackedLayout layout, uint8_t *dst, int32_t low,
                                        const RowSource &source, const kernels::KernelTable &kernels, int threads);

// Whether every value of a carrier (count values of element_bytes 1, 2 or 4, signed or not, little-
// endian, any alignment) lies in [low, low + 15]: the int4 range of a signed ([-8, 7]) or offset-8
// ([0, 15]) encoding. Read at memory speed, on the engine's threads; converters run it before packing.
bool carriers_fit_int4(const void *data, int64_t count, int element_bytes, bool is_signed, int32_t low);

// Threads used per call: INT4PACK_NUM_THREADS, else the CPUs this process may run on, unless set here.
int thread_count();
// n >= 1 sets it; 0 returns to the default. False (and no change) for n < 0.
bool set_thread_count(int n);

}  // namespace int4pack

#endif  // INT4PACK_CORE_PACK_H_
