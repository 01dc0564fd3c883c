// NEON kernels for aarch64 hosts (Advanced SIMD is part of every AArch64 CPU).
#include <arm_neon.h>

#include "kernels/neon_steps.h"
#include "kernels/nz_walk.h"
#include "kernels/pack_kernels.h"

namespace int4pack::kernels {
namespace {

// 32 int32 values -> 16 packed bytes. vld2 splits even and odd values; SLI puts the odd value's nibble
// above the even one's; the narrowing moves keep the low byte of each lane.
inline uint8x16_t pack32(const int32_t *src) {
  int32x4_t pairs[4];
  for (int i = 0; i < 4; ++i) {
    const int32x4x2_t v = vld2q_s32(src + 8 * i);
    pairs[i] = vsliq_n_s32(v.val[0], v.val[1], 4);
  }
  const int16x8_t first = vmovn_high_s32(vmovn_s32(pairs[0]), pairs[1]);
  const int16x8_t second = vmovn_high_s32(vmovn_s32(pairs[2]), pairs[3]);
  return vreinterpretq_u8_s8(vmovn_high_s16(vmovn_s16(first), second));
}

// 16 packed bytes -> 32 int32 values, sign-extended.
inline void unpack16(const uint8_t *src, int32_t *dst) {
  const uint8x16_t x = vld1q_u8(src);
  const uint8x16_t lo = vandq_u8(x, vdupq_n_u8(0x0F));
  const uint8x16_t hi = vshrq_n_u8(x, 4);
  const uint8x16_t eight = vdupq_n_u8(8);
  const int8x16_t halves[2] = {
      vsubq_s8(vreinterpretq_s8_u8(veorq_u8(vzip1q_u8(lo, hi), eight)), vreinterpretq_s8_u8(eight)),
      vsubq_s8(vreinterpretq_s8_u8(veorq_u8(vzip2q_u8(lo, hi), eight)), vreinterpretq_s8_u8(eight))};
  for (int h = 0; h < 2; ++h) {
    const int16x8_t low = vmovl_s8(vget_low_s8(halves[h]));
    const int16x8_t high = vmovl_high_s8(halves[h]);
    vst1q_s32(dst + 16 * h + 0, vmovl_s16(vget_low_s16(low)));
    vst1q_s32(dst + 16 * h + 4, vmovl_high_s16(low));
    vst1q_s32(dst + 16 * h + 8, vmovl_s16(vget_low_s16(high)));
    vst1q_s32(dst + 16 * h + 12, vmovl_high_s16(high));
  }
}

void pack_nd_neon(const int32_t *src, uint8_t *dst, int64_t bytes, bool /*streaming*/) {
  int64_t j = 0;
  for (; j + 16 <= bytes; j += 16) vst1q_u8(dst + j, pack32(src + 2 * j));
  pack_pairs(src + 2 * j, dst + j, bytes - j);
}

void pack_nz_neon(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end,
                  bool /*streaming*/) {
  walk_pack_nz(
      src, dst, shape, rb_begin, rb_end,
      [](const int32_t *in, uint8_t *out) {
        vst1q_u8(out, pack32(in));
        vst1q_u8(out + 16, pack32(in + 32));
      },
      pack_tail);
}

bool fits_int4_neon(const int32_t *src, int64_t n, int32_t low) {
  const uint32x4_t base = vdupq_n_u32(static_cast<uint32_t>(low));
  uint32x4_t acc[4] = {vdupq_n_u32(0), vdupq_n_u32(0), vdupq_n_u32(0), vdupq_n_u32(0)};
  const auto *u = reinterpret_cast<const uint32_t *>(src);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 4; ++k) acc[k] = vorrq_u32(acc[k], vsubq_u32(vld1q_u32(u + i + 4 * k), base));
  }
  const uint32x4_t all = vorrq_u32(vorrq_u32(acc[0], acc[1]), vorrq_u32(acc[2], acc[3]));
  return vmaxvq_u32(all) < 16 && outside_int4_bits(src + i, n - i, low) == 0;
}

void unpack_nd_neon(const uint8_t *src, int32_t *dst, int64_t bytes) { unpack_nd_by_16(src, dst, bytes, unpack16); }

void unpack_nz_neon(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end) {
  unpack_nz_by_16(src, dst, shape, rb_begin, rb_end, unpack16);
}

}  // namespace

namespace neon {

void pack_nd(const int32_t *src, uint8_t *dst, int64_t bytes, bool streaming) {
  pack_nd_neon(src, dst, bytes, streaming);
}
void unpack_nd(const uint8_t *src, int32_t *dst, int64_t bytes) { unpack_nd_neon(src, dst, bytes); }
void pack_nz(const int32_t *src, uint8_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end, bool streaming) {
  pack_nz_neon(src, dst, shape, rb_begin, rb_end, streaming);
}
void unpack_nz(const uint8_t *src, int32_t *dst, MatrixShape shape, int64_t rb_begin, int64_t rb_end) {
  unpack_nz_neon(src, dst, shape, rb_begin, rb_end);
}
bool fits_int4(const int32_t *src, int64_t n, int32_t low) { return fits_int4_neon(src, n, low); }

}  // namespace neon

const PackKernels pack_neon = neon::pack_table();

}  // namespace int4pack::kernels
