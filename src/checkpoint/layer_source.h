// A quantized linear layer as a checkpoint format stores it, decoded into what the operator consumes.
//
// Every input format plugs in here: it finds its layers in a checkpoint and, for each, yields the (k, n)
// matrix of signed int4 values (k = input features, n = output features) row by row through the engine's
// RowSource, its quantization parameters, and the source tensors the layer replaces. The converter packs
// the rows (one read of each source tensor, checked on the way) and writes what the format yields: int4
// carriers of one value per element (carrier_layer.h) and the quantizers' own layouts (quant_layer.h).
#ifndef INT4PACK_CHECKPOINT_LAYER_SOURCE_H_
#define INT4PACK_CHECKPOINT_LAYER_SOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/packed_record.h"
#include "checkpoint/safetensors.h"
#include "core/layout.h"
#include "int4pack/engine.h"

namespace int4pack::checkpoint {

// How a layer's int4 values map back to real weights, in the operator's terms: the weight of matrix row r
// (input column perm[r], or r) and output column j is (M[r][j] + offset[g][j]) * scale[g][j], g = r /
// group_size. Carriers hold none (their scales, if any, are ordinary tensors).
struct QuantParams {
  int64_t group_size = 0;      // rows of k per group; 0: one group over all of k (per-channel), or none
  int64_t groups = 0;          // G; 0: none
  std::vector<float> scales;   // (G, n), row-major
  std::vector<float> offsets;  // (G, n): CANN's antiquantOffset, minus the signed zero point; empty: symmetric
  std::vector<int32_t> perm;   // (k): act-order's row order (the caller gathers x[:, perm]); empty: none
};

class QuantizedLayerSource {
 public:
  virtual ~QuantizedLayerSource() = default;

  // The packed weight's name in the output.
  virtual const std::string &name() const = 0;
  // The int4 matrix: rows() x cols() = k x n.
  virtual MatrixShape matrix() const = 0;
  // Its rows as signed int4 values, for int4pack::pack_rows: a value outside [-8, 7] makes the pack
  // fail with kRange. The source returns null when it cannot read (the engine calls it from its threads,
  // where nothing may be thrown); read_error() then says why.
  virtual RowSource rows() const = 0;
  virtual IoError read_error() const = 0;
  virtual QuantParams params() const { return {}; }
  // The source tensors the layer replaces in the output (they are not written).
  virtual std::vector<const TensorEntry *> consumed() const = 0;
  // The part of the record that says what the layer was made from (original dtype and shape, ...).
  virtual void describe(PackedRecord *record) const = 0;
};

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_LAYER_SOURCE_H_
