// fuzz_differential: every kernel set this CPU runs, with 1, 2 and 3 threads, ND and FRACTAL_NZ, packs a
// weight from the input byte for byte as the reference does, and unpacks the packing back to the values
// masked to 4 bits and sign-extended. Buffers are sized exactly (ASan sees any write past them) and placed
// at input-chosen alignments (the operator hands the engine arbitrary offsets into the caller's memory).
//
// Input: flags, rows, cols, source and destination misalignment, value mode, then values or a seed.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/layout.h"
#include "core/pack.h"
#include "fuzz_common.h"
#include "kernels/kernels.h"
#include "kernels/reference.h"

namespace {

using int4pack::MatrixShape;
using int4pack::PackedLayout;

constexpr int64_t kMaxRows = 256;
constexpr int64_t kMaxCols = 1024;
constexpr uint8_t kSentinel = 0xA5;

// An exactly sized block whose first `misalign` bytes are a guard we check, then `bytes` of payload.
struct Block {
  Block(size_t misalign, size_t bytes) : misalign_(misalign), bytes_(bytes) {
    base_ = static_cast<uint8_t *>(std::malloc(misalign + bytes + (misalign + bytes == 0 ? 1 : 0)));
    if (base_ == nullptr) std::abort();
    std::memset(base_, kSentinel, misalign + bytes);
  }
  ~Block() { std::free(base_); }
  Block(const Block &) = delete;
  Block &operator=(const Block &) = delete;
  uint8_t *data() const { return base_ + misalign_; }
  void reset() const { std::memset(base_, kSentinel, misalign_ + bytes_); }
  bool guard_intact() const {
    for (size_t i = 0; i < misalign_; ++i) {
      if (base_[i] != kSentinel) return false;
    }
    return true;
  }

 private:
  uint8_t *base_;
  size_t misalign_;
  size_t bytes_;
};

// A 64-byte aligned payload (as aclrtMalloc gives) followed by a 64-byte guard: the x86 kernels' streaming
// paths run only on aligned outputs, which pack_with never hands them at these sizes.
struct AlignedBlock {
  explicit AlignedBlock(size_t bytes) : bytes_(bytes) {
    base_ = static_cast<uint8_t *>(std::aligned_alloc(64, (bytes + 64 + 63) / 64 * 64));
    if (base_ == nullptr) std::abort();
    reset();
  }
  ~AlignedBlock() { std::free(base_); }
  AlignedBlock(const AlignedBlock &) = delete;
  AlignedBlock &operator=(const AlignedBlock &) = delete;
  uint8_t *data() const { return base_; }
  void reset() const { std::memset(base_, kSentinel, bytes_ + 64); }
  bool guard_intact() const {
    for (size_t i = bytes_; i < bytes_ + 64; ++i) {
      if (base_[i] != kSentinel) return false;
    }
    return true;
  }

 private:
  uint8_t *base_;
  size_t bytes_;
};

int32_t masked(int32_t v) {
  const int nibble = static_cast<int>(static_cast<uint32_t>(v) & 0xFu);
  return nibble >= 8 ? nibble - 16 : nibble;
}

const char *layout_name(PackedLayout l) { return l == PackedLayout::kNd ? "ND" : "NZ"; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Input in(data, size);
  const uint8_t flags = in.u8();
  int64_t rows = 0;
  int64_t cols = 0;
  switch (flags % 4) {
    case 3:  // large: several parts per thread split (the engine splits from 512 KiB of input)
      rows = kMaxRows / 2 + in.u16() % (kMaxRows / 2 + 1);
      cols = 2 * (kMaxCols / 4 + in.u16() % (kMaxCols / 4 + 1));
      break;
    case 2:  // anything up to the cap
      rows = 1 + in.u16() % kMaxRows;
      cols = 2 * (1 + in.u16() % (kMaxCols / 2));
      break;
    default:  // small, and fast: most runs
      rows = 1 + in.u16() % 48;
      cols = 2 * (1 + in.u16() % 160);
  }
  const size_t src_misalign = 4 * (in.u8() % 16);  // int32 data stays 4-byte aligned
  const size_t dst_misalign = in.u8() % 64;
  const uint8_t value_mode = in.u8() % 4;
  uint64_t seed = in.u64();

  const MatrixShape shape{rows, cols};
  const size_t count = static_cast<size_t>(rows * cols);
  Block src_block(src_misalign, count * 4);
  auto *src = reinterpret_cast<int32_t *>(src_block.data());
  for (size_t i = 0; i < count; ++i) {
    int32_t v;
    switch (value_mode) {
      case 0:  // any int32
        v = static_cast<int32_t>(fuzz::mix(seed));
        break;
      case 1:  // the input's bytes, cycled (falls back to the seed when there are none)
        if (in.remaining() >= 4) {
          const size_t words = in.remaining() / 4;
          std::memcpy(&v, in.rest() + 4 * (i % words), 4);
        } else {
          v = static_cast<int32_t>(fuzz::mix(seed));
        }
        break;
      case 2:  // the int4 range
        v = static_cast<int32_t>(fuzz::mix(seed) % 16) - 8;
        break;
      default: {  // the edges of both ranges
        static constexpr int32_t kEdges[] = {-8, 7, 8, -9, 15, 16, -16, 0, -1, INT32_MIN, INT32_MAX, 0x7FFFFFF8};
        v = kEdges[fuzz::mix(seed) % (sizeof(kEdges) / sizeof(kEdges[0]))];
      }
    }
    src[i] = v;
  }

  const int4pack::kernels::IsaSupport *isas = nullptr;
  const int isa_count = int4pack::kernels::compiled_isas(&isas);
  if (isa_count < 1) fuzz::finding("compiled_isas reports %d tables", isa_count);

  for (PackedLayout layout : {PackedLayout::kNd, PackedLayout::kNz}) {
    size_t bytes = 0;
    if (!int4pack::packed_bytes_checked(shape, layout, &bytes) || bytes != int4pack::packed_bytes(shape, layout)) {
      fuzz::finding("packed_bytes_checked(%lld x %lld, %s) refuses or disagrees", static_cast<long long>(rows),
                    static_cast<long long>(cols), layout_name(layout));
    }
    std::vector<uint8_t> expected(bytes);
    int4pack::reference::pack({shape, layout, src, expected.data()});

    // The reference unpacks its own packing to the masked values.
    std::vector<int32_t> values(count);
    int4pack::reference::unpack({shape, layout, expected.data(), values.data()});
    for (size_t i = 0; i < count; ++i) {
      if (values[i] != masked(src[i])) {
        fuzz::finding("reference %s round trip: element %zu of %lld x %lld is %d, expected %d (from %d)",
                      layout_name(layout), i, static_cast<long long>(rows), static_cast<long long>(cols), values[i],
                      masked(src[i]), src[i]);
      }
    }

    Block dst(dst_misalign, bytes);
    Block out(src_misalign, count * 4);
    auto *out_values = reinterpret_cast<int32_t *>(out.data());
    auto check = [&](const char *isa, int threads) {
      if (!dst.guard_intact() || std::memcmp(dst.data(), expected.data(), bytes) != 0) {
        size_t first = 0;
        while (first < bytes && dst.data()[first] == expected[first]) ++first;
        fuzz::finding("pack %s isa=%s threads=%d %lld x %lld (dst misalign %zu, src misalign %zu): %s; first "
                      "differing byte %zu of %zu: 0x%02x, reference 0x%02x",
                      layout_name(layout), isa, threads, static_cast<long long>(rows), static_cast<long long>(cols),
                      dst_misalign, src_misalign, dst.guard_intact() ? "bytes differ" : "wrote before dst", first,
                      bytes, first < bytes ? dst.data()[first] : 0, first < bytes ? expected[first] : 0);
      }
      if (!out.guard_intact()) fuzz::finding("unpack %s isa=%s threads=%d wrote before dst", layout_name(layout), isa, threads);
      for (size_t i = 0; i < count; ++i) {
        if (out_values[i] != masked(src[i])) {
          fuzz::finding("unpack %s isa=%s threads=%d %lld x %lld: element %zu is %d, expected %d (packed from %d)",
                        layout_name(layout), isa, threads, static_cast<long long>(rows), static_cast<long long>(cols), i,
                        out_values[i], masked(src[i]), src[i]);
        }
      }
    };

    for (int i = 0; i < isa_count; ++i) {
      const auto *table = isas[i].table;
      if (table == nullptr) fuzz::finding("compiled_isas entry %d has no table", i);
      if (!isas[i].supported) {
        if (int4pack::kernels::find_supported(table->isa) != nullptr) {
          fuzz::finding("find_supported(%s) returns a table compiled_isas marks unsupported", table->isa);
        }
        continue;
      }
      if (int4pack::kernels::find_supported(table->isa) != table) {
        fuzz::finding("find_supported(%s) is not compiled_isas' table", table->isa);
      }
      // The kernels themselves with streaming stores, whole and in two row ranges as two threads would.
      AlignedBlock aligned(bytes);
      const int64_t row_blocks = int4pack::nz_row_blocks(rows);
      for (int64_t split : {int64_t{0}, row_blocks / 2}) {
        aligned.reset();
        if (layout == PackedLayout::kNd) {
          const int64_t cut = split == 0 ? 0 : (rows / 2) * (cols / 2);
          table->pack_nd(src, aligned.data(), cut, true);
          table->pack_nd(src + 2 * cut, aligned.data() + cut, static_cast<int64_t>(bytes) - cut, true);
        } else {
          table->pack_nz(src, aligned.data(), shape, 0, split, true);
          table->pack_nz(src + split * 16 * cols, aligned.data(), shape, split, row_blocks, true);
        }
        if (!aligned.guard_intact() || std::memcmp(aligned.data(), expected.data(), bytes) != 0) {
          fuzz::finding("streaming kernel %s isa=%s %lld x %lld split %lld: %s", layout_name(layout), table->isa,
                        static_cast<long long>(rows), static_cast<long long>(cols), static_cast<long long>(split),
                        aligned.guard_intact() ? "bytes differ" : "wrote past the end");
        }
      }
      for (int threads : {1, 2, 3}) {
        dst.reset();
        out.reset();
        int4pack::pack_with({shape, layout, src, dst.data()}, *table, threads);
        // Unpack the reference's bytes (not ours), so that a pack bug and an unpack bug do not cancel.
        int4pack::unpack_with({shape, layout, expected.data(), out_values}, *table, threads);
        check(table->isa, threads);
      }
    }
    // And the entry points the operator uses: the active table and thread count.
    dst.reset();
    out.reset();
    int4pack::pack({shape, layout, src, dst.data()});
    int4pack::unpack({shape, layout, expected.data(), out_values});
    check("active", int4pack::thread_count());
  }
  return 0;
}
