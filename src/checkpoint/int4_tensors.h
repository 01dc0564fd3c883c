// What the converter writes: a layer's packed weight and its record, the room its file's header needs,
// the unpacked carrier back from a packed tensor, and tensors passed through unchanged.
#ifndef INT4PACK_CHECKPOINT_INT4_TENSORS_H_
#define INT4PACK_CHECKPOINT_INT4_TENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/carrier_layer.h"
#include "checkpoint/layer_source.h"
#include "checkpoint/packed_record.h"
#include "checkpoint/safetensors_writer.h"

namespace int4pack::checkpoint {

// The record of `layer` packed with `options`.
PackedRecord record_of(const QuantizedLayerSource &layer, const PackOptions &options);

// The packed bytes of `layer` (packed_storage(layer.matrix(), options).bytes of them) when every value
// lies in the int4 range, else null. The values are read once: checked and packed chunk by chunk, in
// cache. The bytes are a per-thread buffer, valid until the next call on this thread. IoError when the
// layer's source cannot be read.
const uint8_t *pack_layer(const QuantizedLayerSource &layer, const PackOptions &options);
// pack_layer of the carrier `t` (which must pass check_tensor's header checks).
const uint8_t *pack_if_in_range(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &options);

// Room enough for the header of a packed copy of `file` (see SafetensorsWriter), whichever of the
// tensors with may_pack[i] end up packed: every tensor in its longer form, every offset as large as the
// largest possible one, every candidate's record added to `metadata`. A header's length is the sum of
// its parts, so the real one fits.
uint64_t packed_header_room(const SafetensorsFile &file, const std::vector<bool> &may_pack, const PackOptions &options,
                            const std::map<std::string, std::string> &metadata);

// Room enough for a header holding `entries` (their offsets taken as large as any file's) and `metadata`.
uint64_t bounded_header_room(const std::map<std::string, std::string> &metadata, std::vector<HeaderEntry> entries);

// The original tensor back from its packed form and record.
OutputTensor unpacked_output(const SafetensorsFile &file, const TensorEntry &packed, const PackedRecord &record);

// A tensor copied byte for byte.
OutputTensor passthrough_output(const SafetensorsFile &file, const TensorEntry &t);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_INT4_TENSORS_H_
