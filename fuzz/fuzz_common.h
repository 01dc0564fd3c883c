// Shared by the fuzz targets: reading typed values off the fuzzer's input, and reporting a finding.
#ifndef INT4PACK_FUZZ_FUZZ_COMMON_H_
#define INT4PACK_FUZZ_FUZZ_COMMON_H_

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace fuzz {

// A finding: print what is wrong and abort, which libFuzzer records as a crash (with the input).
[[noreturn]] inline void finding(const char *fmt, ...) {
  std::va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "\n==== FUZZ FINDING: ");
  std::vfprintf(stderr, fmt, args);
  std::fprintf(stderr, "\n");
  va_end(args);
  std::abort();
}

// Reads values off the front of the input; past its end every read is 0.
class Input {
 public:
  Input(const uint8_t *data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_ - pos_; }
  const uint8_t *rest() const { return data_ + pos_; }

  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }
  uint64_t u64() { return static_cast<uint64_t>(u32()) | (static_cast<uint64_t>(u32()) << 32); }

  // A size or offset an attacker would try: small values (0 and 1 often), negatives, powers of two
  // around the int32 and int64 limits, values whose products overflow int64, or any 64-bit value.
  int64_t interesting_i64() {
    static constexpr int64_t kSpecial[] = {0,
                                           1,
                                           -1,
                                           2,
                                           8,
                                           15,
                                           16,
                                           17,
                                           63,
                                           64,
                                           65,
                                           std::numeric_limits<int64_t>::max(),
                                           std::numeric_limits<int64_t>::min(),
                                           std::numeric_limits<int64_t>::max() / 2 + 1,
                                           std::numeric_limits<int64_t>::max() / 4,
                                           std::numeric_limits<int64_t>::max() / 8 + 1,
                                           int64_t{1} << 31,
                                           (int64_t{1} << 31) - 1,
                                           int64_t{1} << 32,
                                           (int64_t{1} << 32) + 2,
                                           int64_t{3037000500},  // its square overflows int64
                                           int64_t{1} << 62,
                                           int64_t{1} << 61,
                                           -(int64_t{1} << 62),
                                           -2,
                                           -8,
                                           -16};
    const uint8_t kind = u8();
    switch (kind % 8) {
      case 0:
      case 1:
      case 2:
        return kind / 8;  // 0..31
      case 3:
        return u16() % 1100;
      case 4:
        return -static_cast<int64_t>(u8());
      case 5:
      case 6:
        return kSpecial[u8() % (sizeof(kSpecial) / sizeof(kSpecial[0]))];
      default:
        return static_cast<int64_t>(u64());
    }
  }

 private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
};

// splitmix64: fills buffers with values derived from the input without needing that many input bytes.
inline uint64_t mix(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace fuzz

#endif  // INT4PACK_FUZZ_FUZZ_COMMON_H_
