// Verifying a converted checkpoint against its original: every packed tensor re-derived and compared byte for
// byte, every other tensor compared, and (on request) every layer converted from a quantizer's checkpoint
// multiplied and compared with the original's own dequantization. The CLI's `verify` and the Python
// package's verify_checkpoint; each door brings the matmul (the CLI runs aclnnWeightQuantBatchMatmulV2
// through the CANN API, Python the engine's call).
#ifndef INT4PACK_CHECKPOINT_VERIFY_H_
#define INT4PACK_CHECKPOINT_VERIFY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "checkpoint/output.h"
#include "checkpoint/packed_record.h"

namespace int4pack::checkpoint {

// A converted layer's tensors as the output file holds them.
struct ConvertedTensors {
  const uint8_t *weight = nullptr;  // P.weight's bytes
  size_t weight_bytes = 0;
  std::vector<int64_t> weight_storage;  // its stored shape (U8 bytes or I32 words)
  const uint8_t *scale = nullptr;       // in the record's act dtype
  const uint8_t *offset = nullptr;      // or null
  std::vector<int64_t> param_shape;     // (n,) or (G, n)
  const uint8_t *perm = nullptr;        // int32 (k,), or null
};

// Runs y = x W for a converted layer: x (rows, k) and y (rows, n) as act-dtype bits, row-major, x's
// columns already in the weight's order. Returns "" or why the call failed.
using LayerMatmul = std::function<std::string(const PackedRecord &record, const ConvertedTensors &tensors,
                                              const std::vector<uint16_t> &x, int64_t rows, std::vector<uint16_t> *y)>;

struct VerifyEntry {
  std::string name;
  std::string status;  // "ok", "packed ok", "matmul ok"; else a failure: MISSING, MISMATCH, EXTRA, MATMUL, ORIGINAL
  std::string detail;
  double matmul_ratio = -1;  // matmul entries: the worst |y - y_ref| / tolerance
  bool good() const { return status == "ok" || status == "packed ok" || status == "matmul ok"; }
};

struct VerifyReport {
  std::vector<VerifyEntry> entries;
  uint64_t packed_checked = 0;
  uint64_t failures = 0;
};

// The tolerance of verify's matmul check, per output y:
//   (3.2 u + 1.02 k 2^-24) * sum_c |x_c| (|Qs| + |Zs|) |S|  +  u |y_ref|  +  2^-24
// with u the act dtype's unit roundoff (2^-11 FLOAT16, 2^-8 BFLOAT16): the scale (and msModelSlim's offset)
// rounded to the act dtype and the antiquantized weight rounded once more (3 u), the float32 sum over k
// (k 2^-24), the final rounding of y (u), and half a FLOAT16 subnormal step. x is a seeded random
// (4, k) in [-1, 1], exact in the act dtype; y_ref = x W in double with the original's weights.
inline constexpr int64_t kMatmulRows = 4;

// Compares `packed` with `original` (files or directories). With `matmul`, each converted layer is also
// multiplied by it. `observer.check()` is called between tensors (throw to stop). Throws FormatError /
// IoError for unreadable checkpoints, UsageError for --matmul on a checkpoint without converted layers.
VerifyReport verify_checkpoint(const std::string &original, const std::string &packed, const LayerMatmul *matmul,
                               Observer &observer);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_VERIFY_H_
