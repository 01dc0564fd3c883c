// Portable kernels: whole bytes at a time. ND packing is one loop over value pairs; NZ goes through the
// shared block walk.
#include "kernels/nz_walk.h"
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {
namespace {

void pack_nd_scalar(const int32_t *src, uint8_t *dst, int64_t bytes, bool /*streaming*/) {
  pack_pairs(src, dst, bytes);
}

void pack_nz_scalar(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                    bool /*streaming*/) {
  walk_pack_nz(
      src, dst, shape, rb_begin, rb_end, [](const int32_t *in, uint8_t *out) { pack_pairs(in, out, kBlockRowBytes); },
      pack_tail);
}

bool fits_int4_scalar(const int32_t *src, int64_t n, int32_t low) { return outside_int4_bits(src, n, low) == 0; }

void unpack_nd_scalar(const uint8_t *src, int32_t *dst, int64_t bytes) { unpack_pairs(src, dst, bytes); }

void unpack_nz_scalar(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end) {
  walk_unpack_nz(
      src, dst, shape, rb_begin, rb_end, [](const uint8_t *in, int32_t *out) { unpack_pairs(in, out, kBlockRowBytes); },
      unpack_pairs);
}

}  // namespace

const PackKernels pack_scalar{pack_nd_scalar, unpack_nd_scalar, pack_nz_scalar, unpack_nz_scalar, fits_int4_scalar};

}  // namespace int4pack::kernels
