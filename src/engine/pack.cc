#include "engine/pack.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <new>

#include "engine/settings.h"

namespace int4pack::engine {
namespace {

// Outputs this large leave the cache before anyone reads them: write them with non-temporal stores.
constexpr size_t kStreamingOutputBytes = size_t{4} << 20;
// Input one thread reads at a time in pack_rows_with: well inside a core's L2.
constexpr int64_t kChunkInputBytes = int64_t{256} << 10;

// ND: contiguous byte ranges, each starting on a 64-byte boundary of the output.
template <typename Kernel>
void split_nd(int64_t bytes, const Run &run, const Kernel &kernel) {
  const int parts = parts_for(bytes * 8, run.threads, (bytes + 63) / 64, run.min_part_bytes);
  const int64_t chunk = (bytes / parts + 63) / 64 * 64;
  run_parts(parts, run.threads, [&](int p) {
    const int64_t begin = std::min(bytes, p * chunk);
    const int64_t end = p == parts - 1 ? bytes : std::min(bytes, begin + chunk);
    kernel(begin, end);
  });
}

// NZ: ranges of row blocks; a block belongs to exactly one range.
template <typename Kernel>
void split_nz(MatrixShape shape, const Run &run, const Kernel &kernel) {
  const int64_t row_blocks = nz_row_blocks(shape.rows);
  const int parts = parts_for(shape.rows * shape.cols * 4, run.threads, row_blocks, run.min_part_bytes);
  run_parts(parts, run.threads, [&](int p) { kernel(row_blocks * p / parts, row_blocks * (p + 1) / parts); });
}

// (v - low) has no bit above the low four exactly when v is in [low, low + 15]: a branch-free OR. The
// fixed-length inner loop is what lets compilers vectorise it at -O2 with the baseline SSE2 / NEON
// (GCC's cheap cost model leaves loops of unknown length scalar, which ran at half the memory's speed).
template <typename T>
bool within_16(const uint8_t *p, int64_t n, int32_t low) {
  constexpr int64_t kBlock = 64;
  uint32_t outside = 0;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    T v[kBlock];
    std::memcpy(v, p + i * static_cast<int64_t>(sizeof(T)), sizeof(v));
    uint32_t block = 0;
    for (int64_t j = 0; j < kBlock; ++j) {
      block |= (static_cast<uint32_t>(static_cast<int32_t>(v[j])) - static_cast<uint32_t>(low)) & ~0xFu;  // mod 2^32
    }
    outside |= block;
  }
  for (; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    outside |= (static_cast<uint32_t>(static_cast<int32_t>(v)) - static_cast<uint32_t>(low)) & ~0xFu;
  }
  return outside == 0;
}

bool within_16(const uint8_t *p, int64_t n, int element_bytes, bool is_signed, int32_t low) {
  switch (element_bytes * (is_signed ? 1 : -1)) {
    case 4:
      return within_16<int32_t>(p, n, low);
    case 2:
      return within_16<int16_t>(p, n, low);
    case 1:
      return within_16<int8_t>(p, n, low);
    case -4:
      return within_16<uint32_t>(p, n, low);
    case -2:
      return within_16<uint16_t>(p, n, low);
    case -1:
      return within_16<uint8_t>(p, n, low);
    default:
      return false;
  }
}

// The calling thread's buffer of at least `values` int32, kept between calls (engine threads live long);
// null when the memory cannot be had.
int32_t *thread_rows_buffer(size_t values) {
  thread_local std::unique_ptr<int32_t[]> buffer;
  thread_local size_t capacity = 0;
  if (values > capacity) {
    buffer.reset(new (std::nothrow) int32_t[values]);
    capacity = buffer != nullptr ? values : 0;
  }
  return buffer.get();
}

}  // namespace

Run active_run() {
  const kernels::Isa *isa = active_isa();
  return Run{isa != nullptr ? isa : &kernels::best_isa(), thread_count()};
}

bool carriers_fit_int4(const void *data, int64_t count, int element_bytes, bool is_signed, int32_t low,
                       const Run &run) {
  const auto *p = static_cast<const uint8_t *>(data);
  const int parts = parts_for(count * element_bytes, run.threads, count, run.min_part_bytes);
  std::atomic<bool> fits{true};
  // Aligned int32 (the common carrier) goes to the dispatched kernel; the rest to the portable loop.
  const bool int32_kernel = element_bytes == 4 && is_signed && reinterpret_cast<uintptr_t>(p) % 4 == 0;
  run_parts(parts, run.threads, [&](int part) {
    const int64_t begin = count * part / parts;
    const int64_t end = count * (part + 1) / parts;
    const bool ok = int32_kernel
                        ? run.isa->pack->fits_int4(reinterpret_cast<const int32_t *>(p) + begin, end - begin, low)
                        : within_16(p + begin * element_bytes, end - begin, element_bytes, is_signed, low);
    if (!ok) fits = false;
  });
  return fits;
}

void pack_with(const PackPlan &plan, const Run &run) {
  const kernels::PackKernels &k = *run.isa->pack;
  const bool streaming = packed_bytes(plan.shape, plan.layout) >= kStreamingOutputBytes;
  if (plan.layout == PackedLayout::kNd) {
    split_nd(plan.shape.rows * (plan.shape.cols / 2), run, [&](int64_t begin, int64_t end) {
      k.pack_nd(plan.src + 2 * begin, plan.dst + begin, end - begin, streaming);
    });
  } else {
    split_nz(plan.shape, run, [&](int64_t rb_begin, int64_t rb_end) {
      k.pack_nz(plan.src + rb_begin * kNzBlockRows * plan.shape.cols, plan.dst, plan.shape, rb_begin, rb_end,
                streaming);
    });
  }
}

void unpack_with(const UnpackPlan &plan, const Run &run) {
  const kernels::PackKernels &k = *run.isa->pack;
  if (plan.layout == PackedLayout::kNd) {
    split_nd(plan.shape.rows * (plan.shape.cols / 2), run,
             [&](int64_t begin, int64_t end) { k.unpack_nd(plan.src + begin, plan.dst + 2 * begin, end - begin); });
  } else {
    split_nz(plan.shape, run,
             [&](int64_t rb_begin, int64_t rb_end) { k.unpack_nz(plan.src, plan.dst, plan.shape, rb_begin, rb_end); });
  }
}

StreamedPack pack_rows_with(MatrixShape shape, PackedLayout layout, uint8_t *dst, const RowSource &source,
                            const Run &run, const int32_t *low) {
  const kernels::PackKernels &k = *run.isa->pack;
  const bool nd = layout == PackedLayout::kNd;
  const bool streaming = packed_bytes(shape, layout) >= kStreamingOutputBytes;
  // Units a thread reads at a time: rows for ND, row blocks (16 rows) for NZ.
  const int64_t unit_rows = nd ? 1 : kNzBlockRows;
  const int64_t units = nd ? shape.rows : nz_row_blocks(shape.rows);
  const int64_t unit_bytes = unit_rows * shape.cols * static_cast<int64_t>(sizeof(int32_t));
  const int64_t units_per_read = std::max<int64_t>(1, kChunkInputBytes / std::max<int64_t>(1, unit_bytes));
  std::atomic<int> outcome{static_cast<int>(StreamedPack::kPacked)};
  const auto fail = [&](StreamedPack why) {
    int expected = static_cast<int>(StreamedPack::kPacked);
    outcome.compare_exchange_strong(expected, static_cast<int>(why));  // the first failure wins
  };
  const int parts = parts_for(shape.rows * shape.cols * 4, run.threads, units, run.min_part_bytes);
  run_parts(parts, run.threads, [&](int part) {
    const int64_t begin = units * part / parts;
    const int64_t end = units * (part + 1) / parts;
    int32_t *values =
        thread_rows_buffer(static_cast<size_t>(std::min(units_per_read, end - begin) * unit_rows * shape.cols));
    if (values == nullptr && end > begin) {
      fail(StreamedPack::kNoMemory);
      return;
    }
    for (int64_t u = begin; u < end; u += units_per_read) {
      if (outcome.load(std::memory_order_relaxed) != static_cast<int>(StreamedPack::kPacked)) return;
      const int64_t u_end = std::min(end, u + units_per_read);
      const int64_t first_row = u * unit_rows;
      const int64_t rows = std::min(shape.rows, u_end * unit_rows) - first_row;
      const int32_t *in = source(first_row, rows, values);
      if (in == nullptr) {
        fail(StreamedPack::kSourceFailed);
        return;
      }
      if (low != nullptr && !k.fits_int4(in, rows * shape.cols, *low)) {
        fail(StreamedPack::kOutOfRange);
        return;
      }
      if (nd) {
        k.pack_nd(in, dst + first_row * (shape.cols / 2), rows * (shape.cols / 2), streaming);
      } else {
        k.pack_nz(in, dst, shape, u, u_end, streaming);
      }
    }
  });
  return static_cast<StreamedPack>(outcome.load());
}

}  // namespace int4pack::engine
