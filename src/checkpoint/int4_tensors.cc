#include "checkpoint/int4_tensors.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "checkpoint/scratch.h"

namespace int4pack::checkpoint {

PackedRecord record_of(const QuantizedLayerSource &layer, const PackOptions &options) {
  PackedRecord record;
  record.options = options;
  record.view_shape = {layer.matrix().rows, layer.matrix().cols};
  layer.describe(&record);
  return record;
}

const uint8_t *pack_layer(const QuantizedLayerSource &layer, const PackOptions &options) {
  const MatrixShape m = layer.matrix();
  const PackedStorage storage = packed_storage(m, options);
  thread_local ScratchBuffer packed;  // reused for every tensor: see scratch.h
  uint8_t *p = packed.get(storage.bytes);
  const Result r = pack_rows(m.rows, m.cols, options.layout, layer.rows(), p, storage.bytes);
  switch (r.kind) {
    case ErrorKind::kNone:
      return p;
    case ErrorKind::kRange:
      return nullptr;
    case ErrorKind::kSource:
      throw layer.read_error();
    case ErrorKind::kMemory:
      throw std::bad_alloc();
    default:
      throw FormatError(layer.name() + ": cannot pack: " + r.message);
  }
}

const uint8_t *pack_if_in_range(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &options) {
  return pack_layer(CarrierLayer(file, t, options), options);
}

uint64_t packed_header_room(const SafetensorsFile &file, const std::vector<bool> &may_pack, const PackOptions &o,
                            const std::map<std::string, std::string> &metadata) {
  std::map<std::string, std::string> meta = metadata;
  const std::vector<TensorEntry> &tensors = file.tensors();
  std::vector<HeaderEntry> packed(tensors.size());
  std::vector<bool> packable(tensors.size(), false);
  uint64_t largest_offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t bytes = tensors[i].bytes();
    if (i < may_pack.size() && may_pack[i]) {
      const CarrierLayer layer(file, tensors[i], o);
      const PackedStorage s = packed_storage(layer.matrix(), o);
      meta[kMetadataPrefix + tensors[i].name] = encode_record(record_of(layer, o));
      packed[i] = {tensors[i].name, s.dtype, s.shape, 0, 0};
      packable[i] = true;
      bytes = std::max(bytes, s.bytes);
    }
    largest_offset += bytes;
  }
  std::vector<HeaderEntry> longest;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry &t = tensors[i];
    HeaderEntry entry{t.name, t.dtype, t.shape, largest_offset, largest_offset};
    if (packable[i]) {
      const HeaderEntry other{t.name, packed[i].dtype, packed[i].shape, largest_offset, largest_offset};
      if (header_text({}, {other}).size() > header_text({}, {entry}).size()) entry = other;
    }
    longest.push_back(entry);
  }
  return header_text(meta, longest).size();
}

uint64_t bounded_header_room(const std::map<std::string, std::string> &metadata, std::vector<HeaderEntry> entries) {
  constexpr uint64_t kLargestOffset = 10'000'000'000'000'000'000u;  // 20 digits, as many as any uint64
  for (HeaderEntry &e : entries) e.begin = e.end = kLargestOffset;
  return header_text(metadata, entries).size();
}

OutputTensor unpacked_output(const SafetensorsFile &file, const TensorEntry &packed, const PackedRecord &r) {
  const std::string where = file.path() + ": tensor '" + packed.name + "'";
  if (r.quantized()) {
    throw FormatError(where + " was converted from a " + std::string(source_format_name(r.layer.source)) +
                      " layer; unpack gives back int4 carriers, not a quantizer's own tensors");
  }
  const PackOptions &o = r.options;
  const MatrixShape m{r.view_shape[0], r.view_shape[1]};
  const PackedStorage storage = packed_storage(m, o);
  if (storage.bytes != packed.bytes() || packed.dtype != storage.dtype || packed.shape != storage.shape) {
    throw FormatError(where + ": its " + dtype_name(packed.dtype) + " " + shape_text(packed.shape) +
                      " storage does not match its int4pack record " + encode_record(r));
  }
  OutputTensor out;
  out.name = packed.name;
  out.dtype = r.original_dtype;
  out.shape = r.original_shape;
  out.bytes = static_cast<uint64_t>(m.rows * m.cols) * dtype_size(r.original_dtype);
  out.source_bytes = packed.bytes();
  out.write = [&file, &packed, r, m](Sink &sink) {
    const PackOptions &o = r.options;
    // Per-thread buffers reused for every tensor (see scratch.h). An I32 original, neither shifted nor
    // transposed, is the unpacked matrix itself.
    thread_local ScratchBuffer matrix, stored;
    const size_t count = static_cast<size_t>(m.rows * m.cols);
    auto *values = reinterpret_cast<int32_t *>(matrix.get(count * sizeof(int32_t)));
    file.prefetch(packed);
    const Result unpacked = unpack(file.data(packed), packed.bytes(), {m.rows, m.cols}, o.layout, values, count);
    if (!unpacked) throw FormatError(file.path() + ": tensor '" + packed.name + "': " + unpacked.message);
    file.release(packed);
    if (r.original_dtype == Dtype::kI32 && !o.transpose && o.input == InputEncoding::kSigned) {
      sink.write(values, count * sizeof(int32_t));
      return;
    }
    const int32_t shift = o.input == InputEncoding::kOffset8 ? 8 : 0;
    const size_t width = dtype_size(r.original_dtype);
    uint8_t *bytes = stored.get(count * width);
    const int64_t stored_cols = r.original_shape[1];
    for (int64_t i = 0; i < m.rows * m.cols; ++i) {
      // Element i of the stored (original) layout.
      const int64_t src = o.transpose ? (i % stored_cols) * m.cols + i / stored_cols : i;
      const int32_t v = values[static_cast<size_t>(src)] + shift;
      std::memcpy(bytes + i * width, &v, width);  // little-endian: the low bytes of v
    }
    sink.write(bytes, count * width);
  };
  return out;
}

OutputTensor passthrough_output(const SafetensorsFile &file, const TensorEntry &t) {
  OutputTensor out;
  out.name = t.name;
  out.dtype = t.dtype;
  out.shape = t.shape;
  out.bytes = t.bytes();
  out.source_bytes = t.bytes();
  out.write = [&file, &t](Sink &sink) { sink.copy(file, t); };
  return out;
}

}  // namespace int4pack::checkpoint
