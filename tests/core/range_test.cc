// carriers_fit_int4: the converter's range check, for every carrier width and signedness, at the edges
// of both encodings, on one thread and several.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/pack.h"
#include "engine/settings.h"

namespace int4pack {
namespace {

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T> &values) {
  std::vector<uint8_t> b(values.size() * sizeof(T));
  std::memcpy(b.data(), values.data(), b.size());
  return b;
}

template <typename T>
void expect_range(int32_t low, T inside_low, T inside_high, T below, T above) {
  for (int threads : {1, 3}) {
    ASSERT_TRUE(engine::set_thread_count(threads));
    // Large enough to be split over threads (1 MiB and more of input); the odd value sits at the end.
    std::vector<T> v(static_cast<size_t>((1 << 20) / sizeof(T) + 7), inside_low);
    v[v.size() / 2] = inside_high;
    const bool is_signed = std::is_signed<T>::value;
    EXPECT_TRUE(engine::carriers_fit_int4(bytes_of(v).data(), static_cast<int64_t>(v.size()), sizeof(T), is_signed, low,
                                          engine::active_run()));
    v.back() = below;
    EXPECT_FALSE(engine::carriers_fit_int4(bytes_of(v).data(), static_cast<int64_t>(v.size()), sizeof(T), is_signed,
                                           low, engine::active_run()));
    v.back() = above;
    EXPECT_FALSE(engine::carriers_fit_int4(bytes_of(v).data(), static_cast<int64_t>(v.size()), sizeof(T), is_signed,
                                           low, engine::active_run()));
    // Misaligned start: the check reads through memcpy, any address works.
    std::vector<uint8_t> shifted(1 + v.size() * sizeof(T));
    v.back() = inside_high;
    std::memcpy(shifted.data() + 1, v.data(), v.size() * sizeof(T));
    EXPECT_TRUE(engine::carriers_fit_int4(shifted.data() + 1, static_cast<int64_t>(v.size()), sizeof(T), is_signed, low,
                                          engine::active_run()));
  }
  engine::set_thread_count(0);
}

TEST(CarriersFitInt4, SignedEncoding) {
  expect_range<int32_t>(-8, -8, 7, -9, 8);
  expect_range<int32_t>(-8, 0, 7, INT32_MIN, INT32_MAX);
  expect_range<int16_t>(-8, -8, 7, -9, 8);
  expect_range<int8_t>(-8, -8, 7, -128, 127);
  expect_range<uint8_t>(-8, 0, 7, 8, 255);  // an unsigned carrier can only fail above
}

TEST(CarriersFitInt4, Offset8Encoding) {
  expect_range<int32_t>(0, 0, 15, -1, 16);
  expect_range<uint8_t>(0, 0, 15, 16, 255);
  expect_range<int8_t>(0, 0, 15, -1, 16);
  expect_range<int16_t>(0, 0, 15, -32768, 16);
}

TEST(CarriersFitInt4, EmptyFits) {
  EXPECT_TRUE(engine::carriers_fit_int4(nullptr, 0, 4, true, -8, engine::active_run()));
}

}  // namespace
}  // namespace int4pack
