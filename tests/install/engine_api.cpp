// The engine's C++ API (include/int4pack/engine.h) from an installed prefix, as the CLI and the Python
// package use it: the spec's worked example, a strided (transposed) int8 view, and the refusals that say
// what is wrong. Prints "engine API: OK" and exits 0 when every check holds.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "int4pack/engine.h"

namespace {

int failures = 0;

void check(bool ok, const char *what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  using namespace int4pack;
  check(engine_status().ok(), "engine_status");
  const std::vector<int32_t> w = {1, -2, 3, -4, 5, -6, 7, -8, 0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<uint8_t> nd(8);
  check(pack({w.data(), ElementType::kInt32, {2, 8}, {}}, Layout::kNd, nd.data(), nd.size()).ok(), "pack ND");
  check(nd == std::vector<uint8_t>{0xE1, 0xC3, 0xA5, 0x87, 0x10, 0x32, 0x54, 0x76}, "ND bytes of the spec example");

  // The same matrix stored transposed as int8 (8, 2), read through strides (1, 2).
  std::vector<int8_t> t(16);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 8; ++j)
      t[static_cast<size_t>(j * 2 + i)] = static_cast<int8_t>(w[static_cast<size_t>(i * 8 + j)]);
  }
  std::vector<uint8_t> nz(512, 0xA5);
  check(pack({t.data(), ElementType::kInt8, {2, 8}, {1, 2}}, Layout::kNz, nz.data(), nz.size()).ok(),
        "pack NZ strided");
  check(nz[0] == 0xE1 && nz[3] == 0x87 && nz[32] == 0x10 && nz[35] == 0x76 && nz[4] == 0 && nz[511] == 0,
        "NZ bytes of the spec example");
  check(storage_shape({2, 8}, Layout::kNz, 2) == std::vector<int64_t>{1, 1, 16, 32}, "NZ storage shape in bytes");

  std::vector<int32_t> bad = w;
  bad[11] = 9;
  const Result range = pack({bad.data(), ElementType::kInt32, {2, 8}, {}}, Layout::kNd, nd.data(), nd.size());
  check(range.kind == ErrorKind::kRange && range.index == std::vector<int64_t>{1, 3} && range.value == 9,
        "a value out of range names its index and value");
  const Result odd = pack({w.data(), ElementType::kInt32, {4, 3}, {}}, Layout::kNd, nd.data(), nd.size());
  check(odd.kind == ErrorKind::kShape && !odd.rule.empty(), "an odd n names the rule");
  std::vector<int32_t> back(16);
  check(unpack(nd.data(), nd.size(), {2, 8}, Layout::kNd, back.data(), back.size()).ok() && back == w, "unpack");
  if (failures == 0) std::printf("engine API: OK (isa %s, %d threads)\n", isa(), num_threads());
  return failures == 0 ? 0 : 1;
}
