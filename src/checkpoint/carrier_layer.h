// The first input format: int4 values stored one per element of an integer "carrier" tensor (I32, I16,
// I8, U8), signed [-8, 7] or offset by 8 ([0, 15]), as (k, n) or, with --transpose, as (n, k). Which
// tensors are carriers, what is wrong with one, and its layer source.
#ifndef INT4PACK_CHECKPOINT_CARRIER_LAYER_H_
#define INT4PACK_CHECKPOINT_CARRIER_LAYER_H_

#include <string>
#include <vector>

#include "checkpoint/layer_source.h"
#include "checkpoint/safetensors_reader.h"

namespace int4pack::checkpoint {

class CarrierLayer : public QuantizedLayerSource {
 public:
  // t must pass check_tensor's header checks (dtype, rank, alignment) for `options`.
  CarrierLayer(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &options);

  const std::string &name() const override { return tensor_.name; }
  MatrixShape matrix() const override;
  // Rows are read once with pread through the engine's per-thread buffers, I32 signed straight into
  // them, other carriers and offset8 converted on the way. A transposed matrix, whose rows are columns
  // of the file, comes from a whole int32 copy made by this call (valid until the next on this thread).
  RowSource rows() const override;
  IoError read_error() const override { return file_.read_error(tensor_); }
  std::vector<const TensorEntry *> consumed() const override { return {&tensor_}; }
  void describe(PackedRecord *record) const override;

 private:
  const SafetensorsFile &file_;
  const TensorEntry &tensor_;
  bool transpose_;
  InputEncoding input_;
};

// The default selection: a 2-D integer carrier whose name ends in "weight" and whose values all lie in the
// int4 range of `input`.
bool looks_like_int4_weight(const SafetensorsFile &file, const TensorEntry &t, InputEncoding input);
// Its first half, from the header alone: the name, dtype and rank fit (the values are not read).
bool could_be_int4_weight(const TensorEntry &t);

// Every reason `t` cannot be packed with `options` (dtype, rank, last-dim alignment, values out of
// range with their element index and value); empty when it can.
// values_known_in_range: the caller has just found every value in range (the default selection does),
// so the values are not read again.
std::vector<std::string> check_tensor(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &options,
                                      bool values_known_in_range = false);

// Calls f(index, value) for each of n carriers of `dtype` (little-endian) at p, as int32, while f
// returns true.
template <typename F>
void for_each_carrier(const uint8_t *p, Dtype dtype, int64_t n, F f);

}  // namespace int4pack::checkpoint

#include "checkpoint/carrier_layer_inl.h"

#endif  // INT4PACK_CHECKPOINT_CARRIER_LAYER_H_
