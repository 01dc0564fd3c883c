// fuzz_differential: one engine path per input, on small shapes, against the reference, byte for byte.
// The input picks the instruction set (among those this CPU runs), the thread count (1 to 4), how small a
// part the thread split may make (so that small matrices are split as large ones are), the layout, the
// values, buffer misalignments, and one of the paths:
//   pack        engine::pack_with into an exactly sized, misaligned output
//   unpack      engine::unpack_with of the reference's bytes (so a pack and an unpack bug cannot cancel)
//   streaming   the ISA's kernels with streaming stores into a 64-byte aligned output, whole and in two
//               row ranges, with a guard past the end
//   checked     engine::pack_rows_if_in_range_with, rows in place or copied: packs exactly when every
//               value is in [-8, 7]
//   api         int4pack::pack of a strided, typed, 2-D or 3-D view (check on or off, zero point 0 or 8)
//               against the reference of its logical values; a refused value must be the first one
// Large shapes are the unit tests' (tests/core); here each input takes well under a millisecond.
//
// Input: path, isa, threads, part size, layout, rows, cols, misalignments, value mode, seed, then values.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/layout.h"
#include "engine/pack.h"
#include "fuzz_common.h"
#include "int4pack/engine.h"
#include "kernels/isa.h"
#include "kernels/reference.h"

namespace {

using int4pack::MatrixShape;
using int4pack::PackedLayout;
namespace engine = int4pack::engine;

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
// paths run only on aligned outputs.
struct AlignedBlock {
  explicit AlignedBlock(size_t bytes) : bytes_(bytes) {
    base_ = static_cast<uint8_t *>(std::aligned_alloc(64, (bytes + 64 + 63) / 64 * 64));
    if (base_ == nullptr) std::abort();
    std::memset(base_, kSentinel, bytes_ + 64);
  }
  ~AlignedBlock() { std::free(base_); }
  AlignedBlock(const AlignedBlock &) = delete;
  AlignedBlock &operator=(const AlignedBlock &) = delete;
  uint8_t *data() const { return base_; }
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

int32_t draw_value(fuzz::Input &in, uint8_t mode, uint64_t &seed) {
  switch (mode) {
    case 0:  // any int32
      return static_cast<int32_t>(fuzz::mix(seed));
    case 1:  // the int4 range, now and then one value just outside
      return fuzz::mix(seed) % 97 == 0 ? 8 : static_cast<int32_t>(fuzz::mix(seed) % 16) - 8;
    case 2: {  // the edges of both ranges
      static constexpr int32_t kEdges[] = {-8, 7, 8, -9, 15, 16, -16, 0, -1, INT32_MIN, INT32_MAX, 0x7FFFFFF8};
      return kEdges[fuzz::mix(seed) % (sizeof(kEdges) / sizeof(kEdges[0]))];
    }
    default:  // the input's own bytes, then the seed
      return in.remaining() >= 4 ? static_cast<int32_t>(in.u32()) : static_cast<int32_t>(fuzz::mix(seed) % 16) - 8;
  }
}

void expect_bytes(const char *what, const uint8_t *got, const std::vector<uint8_t> &want, bool guard_intact,
                  const char *isa, int threads, MatrixShape shape, PackedLayout layout) {
  if (guard_intact && std::memcmp(got, want.data(), want.size()) == 0) return;
  size_t first = 0;
  while (first < want.size() && got[first] == want[first]) ++first;
  fuzz::finding("%s %s isa=%s threads=%d %lld x %lld: %s; first differing byte %zu of %zu", what, layout_name(layout),
                isa, threads, static_cast<long long>(shape.rows), static_cast<long long>(shape.cols),
                guard_intact ? "bytes differ" : "wrote outside its buffer", first, want.size());
}

// The api path: a typed, strided view of g matrices whose logical values are `values` (g x rows x cols).
void fuzz_api(fuzz::Input &in, const std::vector<int32_t> &values, int64_t groups, MatrixShape shape,
              PackedLayout layout) {
  static constexpr int4pack::ElementType kTypes[] = {int4pack::ElementType::kInt32, int4pack::ElementType::kInt16,
                                                     int4pack::ElementType::kInt8, int4pack::ElementType::kUint8};
  const uint8_t how = in.u8();
  const int4pack::ElementType type = kTypes[how % 4];
  const bool transposed = (how & 4) != 0;  // stored as (g, cols, rows)
  const int64_t pad = (how >> 3) % 3;      // extra elements after each stored row
  int4pack::PackOptions options;
  options.check = (how & 32) != 0;
  options.zero_point = (how & 64) != 0 ? 8 : 0;
  const size_t esize = type == int4pack::ElementType::kInt32 ? 4 : type == int4pack::ElementType::kInt16 ? 2 : 1;
  const int64_t stored_rows = transposed ? shape.cols : shape.rows;
  const int64_t stored_cols = (transposed ? shape.rows : shape.cols) + pad;
  const int64_t matrix_elems = stored_rows * stored_cols;
  std::vector<uint8_t> storage(static_cast<size_t>(groups * matrix_elems) * esize + 1);
  uint8_t *base = storage.data() + (how >> 7);  // misaligned now and then
  std::vector<int32_t> logical(values.size());  // the values as the view holds them, minus the zero point
  std::vector<int64_t> first_bad;               // the first element out of range, row-major over (g, i, j) or (i, j)
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t i = 0; i < shape.rows; ++i) {
      for (int64_t j = 0; j < shape.cols; ++j) {
        const size_t at = static_cast<size_t>((g * shape.rows + i) * shape.cols + j);
        const int64_t stored = g * matrix_elems + (transposed ? j * stored_cols + i : i * stored_cols + j);
        // The value as the element type holds it (narrowed like a cast).
        const int32_t v = values[at];
        int64_t held = 0;
        switch (type) {
          case int4pack::ElementType::kInt16:
            held = static_cast<int16_t>(v);
            break;
          case int4pack::ElementType::kInt8:
            held = static_cast<int8_t>(v);
            break;
          case int4pack::ElementType::kUint8:
            held = static_cast<uint8_t>(v);
            break;
          default:
            held = v;
        }
        std::memcpy(base + stored * static_cast<int64_t>(esize), &v, esize);  // little-endian: the low bytes
        logical[at] = static_cast<int32_t>(static_cast<uint32_t>(held) - static_cast<uint32_t>(options.zero_point));
        if ((held - options.zero_point < -8 || held - options.zero_point > 7) && first_bad.empty()) {
          first_bad = groups > 1 ? std::vector<int64_t>{g, i, j} : std::vector<int64_t>{i, j};
        }
      }
    }
  }
  int4pack::Array view;
  view.data = base;
  view.type = type;
  view.shape =
      groups > 1 ? std::vector<int64_t>{groups, shape.rows, shape.cols} : std::vector<int64_t>{shape.rows, shape.cols};
  const int64_t row_stride = transposed ? 1 : stored_cols;
  const int64_t col_stride = transposed ? stored_cols : 1;
  view.strides = groups > 1 ? std::vector<int64_t>{matrix_elems, row_stride, col_stride}
                            : std::vector<int64_t>{row_stride, col_stride};
  const size_t matrix_bytes = int4pack::packed_bytes(shape, layout);
  std::vector<uint8_t> want(matrix_bytes * static_cast<size_t>(groups));
  for (int64_t g = 0; g < groups; ++g) {
    int4pack::reference::pack(logical.data() + g * shape.rows * shape.cols, shape, layout,
                              want.data() + g * matrix_bytes);
  }
  Block out(0, want.size());
  const int4pack::Layout api_layout = layout == PackedLayout::kNz ? int4pack::Layout::kNz : int4pack::Layout::kNd;
  const int4pack::Result r = int4pack::pack(view, api_layout, out.data(), want.size(), options);
  if (options.check && !first_bad.empty()) {
    if (r.kind != int4pack::ErrorKind::kRange || r.index != first_bad) {
      fuzz::finding("api pack: the first value out of range was not refused as kRange at its index (kind %d: %s)",
                    static_cast<int>(r.kind), r.message.c_str());
    }
    return;
  }
  if (!r.ok()) fuzz::finding("api pack refused a valid view: %s", r.message.c_str());
  expect_bytes("api pack", out.data(), want, true, "active", int4pack::num_threads(), shape, layout);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Input in(data, size);
  const uint8_t path = in.u8() % 5;
  const int4pack::kernels::Isa *isas = nullptr;
  const int isa_count = int4pack::kernels::compiled_isas(&isas);
  const int4pack::kernels::Isa &isa = isas[in.u8() % isa_count];
  if (!isa.supported) return 0;
  const int threads = 1 + in.u8() % 4;
  const int64_t part_bytes = 1 + in.u16() % 8192;  // lets matrices of a few KiB split into several parts
  const PackedLayout layout = in.u8() % 2 == 0 ? PackedLayout::kNd : PackedLayout::kNz;
  const int64_t rows = 1 + in.u8() % 48;
  const int64_t cols = 2 * (1 + in.u8() % 160);
  const MatrixShape shape{rows, cols};
  const size_t src_misalign = 4 * (in.u8() % 16);  // int32 data stays 4-byte aligned
  const size_t dst_misalign = in.u8() % 64;
  const uint8_t value_mode = in.u8() % 4;
  uint64_t seed = in.u64();
  const engine::Run run{&isa, threads, part_bytes};

  size_t bytes = 0;
  if (!int4pack::packed_bytes_checked(shape, layout, &bytes) || bytes != int4pack::packed_bytes(shape, layout)) {
    fuzz::finding("packed_bytes_checked(%lld x %lld, %s) refuses or disagrees", static_cast<long long>(rows),
                  static_cast<long long>(cols), layout_name(layout));
  }
  const size_t count = static_cast<size_t>(rows * cols);
  const int64_t groups = path == 4 ? 1 + in.u8() % 3 : 1;
  std::vector<int32_t> values(count * static_cast<size_t>(groups));
  for (int32_t &v : values) v = draw_value(in, value_mode, seed);
  if (path == 4) {
    fuzz_api(in, values, groups, shape, layout);
    return 0;
  }

  Block src_block(src_misalign, count * 4);
  auto *src = reinterpret_cast<int32_t *>(src_block.data());
  std::memcpy(src, values.data(), count * 4);
  std::vector<uint8_t> expected(bytes);
  int4pack::reference::pack(src, shape, layout, expected.data());

  switch (path) {
    case 0: {
      Block dst(dst_misalign, bytes);
      engine::pack_with({shape, layout, src, dst.data()}, run);
      expect_bytes("pack", dst.data(), expected, dst.guard_intact(), isa.name, threads, shape, layout);
      break;
    }
    case 1: {
      Block out(src_misalign, count * 4);
      auto *got = reinterpret_cast<int32_t *>(out.data());
      engine::unpack_with({shape, layout, expected.data(), got}, run);
      if (!out.guard_intact()) fuzz::finding("unpack %s isa=%s wrote before its output", layout_name(layout), isa.name);
      for (size_t i = 0; i < count; ++i) {
        if (got[i] != masked(src[i])) {
          fuzz::finding("unpack %s isa=%s threads=%d %lld x %lld: element %zu is %d, expected %d (packed from %d)",
                        layout_name(layout), isa.name, threads, static_cast<long long>(rows),
                        static_cast<long long>(cols), i, got[i], masked(src[i]), src[i]);
        }
      }
      break;
    }
    case 2: {
      // The kernels themselves with streaming stores, whole or in two row ranges as two threads would.
      AlignedBlock aligned(bytes);
      const int64_t row_blocks = int4pack::nz_row_blocks(rows);
      const bool split = (seed & 1) != 0;
      if (layout == PackedLayout::kNd) {
        const int64_t cut = split ? (rows / 2) * (cols / 2) : 0;
        isa.pack->pack_nd(src, aligned.data(), cut, true);
        isa.pack->pack_nd(src + 2 * cut, aligned.data() + cut, static_cast<int64_t>(bytes) - cut, true);
      } else {
        const int64_t cut = split ? row_blocks / 2 : 0;
        isa.pack->pack_nz(src, aligned.data(), shape, 0, cut, true);
        isa.pack->pack_nz(src + cut * 16 * cols, aligned.data(), shape, cut, row_blocks, true);
      }
      expect_bytes("streaming kernel", aligned.data(), expected, aligned.guard_intact(), isa.name, 1, shape, layout);
      break;
    }
    default: {
      bool in_range = true;
      for (size_t i = 0; i < count; ++i) in_range = in_range && src[i] >= -8 && src[i] <= 7;
      const bool copied = (seed & 2) != 0;
      const int4pack::RowSource rows_of = [&](int64_t first, int64_t n, int32_t *buffer) -> const int32_t * {
        if (first < 0 || n < 1 || first + n > rows)
          fuzz::finding("row source asked for rows [%lld, +%lld)", static_cast<long long>(first),
                        static_cast<long long>(n));
        if (!copied) return src + first * cols;
        std::memcpy(buffer, src + first * cols, static_cast<size_t>(n * cols) * 4);
        return buffer;
      };
      Block dst(dst_misalign, bytes);
      const engine::StreamedPack outcome =
          engine::pack_rows_if_in_range_with(shape, layout, dst.data(), -8, rows_of, run);
      if (outcome != (in_range ? engine::StreamedPack::kPacked : engine::StreamedPack::kOutOfRange)) {
        fuzz::finding("checked pack %s isa=%s threads=%d: outcome %d for values %s the int4 range", layout_name(layout),
                      isa.name, threads, static_cast<int>(outcome), in_range ? "all in" : "not all in");
      }
      if (in_range)
        expect_bytes("checked pack", dst.data(), expected, dst.guard_intact(), isa.name, threads, shape, layout);
      break;
    }
  }
  return 0;
}
