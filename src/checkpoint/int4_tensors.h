// Packing the int4 weights of a checkpoint: which tensors, what is wrong with them, how each is packed
// and unpacked, and the record that makes a packed file self-describing.
#ifndef INT4PACK_CHECKPOINT_INT4_TENSORS_H_
#define INT4PACK_CHECKPOINT_INT4_TENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "core/layout.h"

namespace int4pack::checkpoint {

enum class InputEncoding { kSigned, kOffset8 };  // [-8, 7], or unsigned [0, 15] with zero point 8

struct PackOptions {
  PackedLayout layout = PackedLayout::kNd;
  bool int32_words = false;  // label the output INT32 (8 values per word) instead of INT4 (U8 bytes)
  bool transpose = false;    // pack the transposed matrix: (k, n) from a stored (n, k)
  InputEncoding input = InputEncoding::kSigned;
};

// What a packed file records per packed tensor, under metadata key "int4pack:<name>", as JSON.
struct PackedRecord {
  std::string format;                   // "nd" | "nz" (FRACTAL_NZ, 16x64 int4 blocks)
  std::string dtype;                    // "int4" (stored U8) | "int32" (stored I32, 8 values per word)
  std::vector<int64_t> view_shape;      // the packed int4 matrix, in values: (rows, cols)
  std::string original_dtype;           // carrier dtype: I32, I16, I8 or U8
  std::vector<int64_t> original_shape;  // as stored in the original checkpoint
  bool transposed = false;              // view_shape is original_shape transposed
  std::string input = "signed";         // "signed" | "offset8"
  std::string nibble_order = "low_first";  // value 2j in bits 0-3 of byte j, 2j+1 in bits 4-7

  PackOptions options() const;
};

inline constexpr const char *kMetadataPrefix = "int4pack:";
std::string encode_record(const PackedRecord &r);
PackedRecord decode_record(const std::string &where, const std::string &json);  // validates; FormatError

bool is_carrier_dtype(const std::string &dtype);  // I32, I16, I8, U8

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

// The packed replacement of `t`: U8 or I32 with its storage shape, writing packed bytes. Fills *record.
OutputTensor packed_output(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &options,
                           PackedRecord *record);
// The packed bytes of `t` when every value lies in the int4 range of options.input, else null. The
// values are read once: checked and packed chunk by chunk, in cache. The bytes (packed_output's `bytes`
// of them) are a per-thread buffer, valid until the next call on this thread. The tensor must pass
// check_tensor's header checks (dtype, rank, alignment).
const uint8_t *pack_if_in_range(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &options);
// How many bytes packing `t` gives (after check_tensor's header checks passed).
uint64_t packed_tensor_bytes(const TensorEntry &t, const PackOptions &options);
// The packed bytes of `t`, in memory, from values the caller has checked (the fuzz target compares
// pack_if_in_range against it).
std::vector<uint8_t> packed_bytes_of(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &options);

// Room enough for the header of a packed copy of `file` (see SafetensorsWriter), whichever of the
// tensors with may_pack[i] end up packed: every tensor in its longer form, every offset as large as the
// largest possible one, every candidate's record added to `metadata`. A header's length is the sum of
// its parts, so the real one fits.
uint64_t packed_header_room(const SafetensorsFile &file, const std::vector<bool> &may_pack, const PackOptions &options,
                            const std::map<std::string, std::string> &metadata);
// The original tensor back from its packed form and record.
OutputTensor unpacked_output(const SafetensorsFile &file, const TensorEntry &packed, const PackedRecord &record);

// A tensor copied byte for byte.
OutputTensor passthrough_output(const SafetensorsFile &file, const TensorEntry &t);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_INT4_TENSORS_H_
