#include "checkpoint/int4_tensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>
#include <nlohmann/json.hpp>

#include "checkpoint/scratch.h"
#include "core/pack.h"

namespace int4pack::checkpoint {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxValueProblems = 5;  // per tensor; the rest are counted

bool ends_with(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Calls f(index, value) for each of n carriers of `dtype` (little-endian) at p, as int32, while f
// returns true.
template <typename F>
void for_each_carrier(const uint8_t *p, const std::string &dtype, int64_t n, F f) {
  if (dtype == "I32") {
    for (int64_t i = 0; i < n; ++i) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      if (!f(i, v)) return;
    }
  } else if (dtype == "I16") {
    for (int64_t i = 0; i < n; ++i) {
      int16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      if (!f(i, v)) return;
    }
  } else if (dtype == "I8") {
    for (int64_t i = 0; i < n; ++i) {
      if (!f(i, static_cast<int8_t>(p[i]))) return;
    }
  } else if (dtype == "U8") {
    for (int64_t i = 0; i < n; ++i) {
      if (!f(i, p[i])) return;
    }
  }
}

// Every element of a carrier tensor (see for_each_carrier).
template <typename F>
void for_each_value(const SafetensorsFile &file, const TensorEntry &t, F f) {
  for_each_carrier(file.data(t), t.dtype, t.elements(), f);
}

// A carrier value moved to the signed range: minus 8 for offset8. The subtraction wraps (mod 2^32), so a
// value below the int4 range stays outside the shifted range [-8, 7] instead of overflowing.
int32_t to_signed_range(int32_t v, InputEncoding input) {
  return static_cast<int32_t>(static_cast<uint32_t>(v) - (input == InputEncoding::kOffset8 ? 8u : 0u));
}

bool values_in_range(const SafetensorsFile &file, const TensorEntry &t, int32_t lo) {
  if (!is_carrier_dtype(t.dtype)) return false;
  file.prefetch(t);
  return carriers_fit_int4(file.data(t), t.elements(), static_cast<int>(dtype_size(t.dtype)), t.dtype != "U8", lo);
}

int32_t low_limit(InputEncoding e) { return e == InputEncoding::kSigned ? -8 : 0; }
int32_t high_limit(InputEncoding e) { return low_limit(e) + 15; }  // both encodings span 16 values

// The packed matrix's shape: the tensor's, transposed on request.
MatrixShape packed_matrix(const TensorEntry &t, const PackOptions &o) {
  return o.transpose ? MatrixShape{t.shape[1], t.shape[0]} : MatrixShape{t.shape[0], t.shape[1]};
}

// Carrier values as the int32 matrix the engine packs (cast, moved to the signed range, transposed on
// request), in `out` (rows x cols values).
void carrier_matrix(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o, int32_t *out) {
  const MatrixShape m = packed_matrix(t, o);
  const int64_t stored_cols = t.shape[1];
  for_each_value(file, t, [&](int64_t i, int32_t v) {
    const int64_t r = i / stored_cols;
    const int64_t c = i % stored_cols;
    out[o.transpose ? c * m.cols + r : i] = to_signed_range(v, o.input);
    return true;
  });
}

// The per-thread int32 copy of a tensor's carriers the slower paths pack from (see carrier_matrix).
int32_t *carrier_copy(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o) {
  thread_local ScratchBuffer carriers;
  const MatrixShape m = packed_matrix(t, o);
  auto *copy = reinterpret_cast<int32_t *>(carriers.get(static_cast<size_t>(m.rows * m.cols) * sizeof(int32_t)));
  file.prefetch(t);
  carrier_matrix(file, t, o, copy);
  return copy;
}

// Packs `t` into `out` (packed_bytes(...) bytes) only while every value is in range: false when one is
// not. Rows are read once with pread, through each thread's small buffer (see pack_rows_if_in_range),
// I32 signed straight into it, other carriers and offset8 converted on the way; a transposed matrix, whose
// rows are columns of the file, is packed from a whole int32 copy.
bool pack_checked(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o, uint8_t *out) {
  const MatrixShape m = packed_matrix(t, o);
  RowSource rows;
  if (o.transpose) {
    const int32_t *copy = carrier_copy(file, t, o);
    rows = [copy, m](int64_t first_row, int64_t, int32_t *) { return copy + first_row * m.cols; };
  } else {
    const size_t width = dtype_size(t.dtype);
    const bool as_is = t.dtype == "I32" && o.input == InputEncoding::kSigned;
    rows = [&, width, as_is](int64_t first_row, int64_t count, int32_t *buffer) -> const int32_t * {
      const uint64_t row_bytes = static_cast<uint64_t>(m.cols) * width;
      const uint64_t offset = static_cast<uint64_t>(first_row) * row_bytes;
      const size_t bytes = static_cast<size_t>(count) * row_bytes;
      if (as_is) return file.read(t, offset, buffer, bytes) ? buffer : nullptr;
      thread_local std::vector<uint8_t> raw;
      if (raw.size() < bytes) raw.resize(bytes);
      if (!file.read(t, offset, raw.data(), bytes)) return nullptr;
      for_each_carrier(raw.data(), t.dtype, count * m.cols, [&](int64_t i, int32_t v) {
        buffer[i] = to_signed_range(v, o.input);
        return true;
      });
      return buffer;
    };
  }
  switch (pack_rows_if_in_range(m, o.layout, out, low_limit(InputEncoding::kSigned), rows)) {
    case StreamedPack::kPacked: return true;
    case StreamedPack::kOutOfRange: return false;
    case StreamedPack::kSourceFailed: throw file.read_error(t);
    case StreamedPack::kNoMemory: throw std::bad_alloc();
  }
  return false;
}

// Packs `t` into `out` without checking its values (the caller has). I32 carriers packed as they are go
// straight from the mapped file; the others through an int32 copy.
void pack_unchecked(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o, uint8_t *out) {
  const bool direct = t.dtype == "I32" && !o.transpose && o.input == InputEncoding::kSigned &&
                      reinterpret_cast<uintptr_t>(file.data(t)) % alignof(int32_t) == 0;
  if (direct) file.prefetch(t);
  const int32_t *values = direct ? reinterpret_cast<const int32_t *>(file.data(t)) : carrier_copy(file, t, o);
  pack({packed_matrix(t, o), o.layout, values, out});
}

std::vector<int64_t> storage_shape(MatrixShape m, const PackOptions &o) {
  if (o.layout == PackedLayout::kNd) return {m.rows, o.int32_words ? m.cols / 8 : m.cols / 2};
  const auto nz = nz_storage_shape(m, o.int32_words ? 8 : 1);
  // As stored: INT4 elements are counted in bytes (U8), two per byte.
  return {nz[0], nz[1], nz[2], o.int32_words ? nz[3] : nz[3] / 2};
}

// The packed tensor's values as the int32 matrix the engine unpacks to, in `values`.
void unpacked_matrix(const SafetensorsFile &file, const TensorEntry &packed, const PackedRecord &r, int32_t *values) {
  const MatrixShape m{r.view_shape[0], r.view_shape[1]};
  file.prefetch(packed);
  unpack({m, r.options().layout, file.data(packed), values});
}

}  // namespace

PackOptions PackedRecord::options() const {
  PackOptions o;
  o.layout = format == "nz" ? PackedLayout::kNz : PackedLayout::kNd;
  o.int32_words = dtype == "int32";
  o.transpose = transposed;
  o.input = input == "offset8" ? InputEncoding::kOffset8 : InputEncoding::kSigned;
  return o;
}

std::string encode_record(const PackedRecord &r) {
  Json j = {{"format", r.format},
            {"dtype", r.dtype},
            {"view_shape", r.view_shape},
            {"original_dtype", r.original_dtype},
            {"original_shape", r.original_shape},
            {"transposed", r.transposed},
            {"input", r.input},
            {"nibble_order", r.nibble_order}};
  return j.dump();
}

PackedRecord decode_record(const std::string &where, const std::string &text) {
  PackedRecord r;
  try {
    const Json j = Json::parse(text);
    r.format = j.at("format").get<std::string>();
    r.dtype = j.at("dtype").get<std::string>();
    r.view_shape = j.at("view_shape").get<std::vector<int64_t>>();
    r.original_dtype = j.at("original_dtype").get<std::string>();
    r.original_shape = j.at("original_shape").get<std::vector<int64_t>>();
    r.transposed = j.at("transposed").get<bool>();
    r.input = j.at("input").get<std::string>();
    r.nibble_order = j.at("nibble_order").get<std::string>();
  } catch (const Json::exception &e) {
    throw FormatError(where + ": int4pack record is not valid: " + json_refusal(e));
  }
  const bool shapes_ok = r.view_shape.size() == 2 && r.original_shape.size() == 2 && r.view_shape[0] > 0 &&
                         r.view_shape[1] > 0 && r.view_shape[1] % 2 == 0 &&
                         r.original_shape == (r.transposed ? std::vector<int64_t>{r.view_shape[1], r.view_shape[0]}
                                                           : r.view_shape);
  if ((r.format != "nd" && r.format != "nz") || (r.dtype != "int4" && r.dtype != "int32") || !shapes_ok ||
      (r.dtype == "int32" && r.view_shape[1] % 8 != 0) || !is_carrier_dtype(r.original_dtype) ||
      (r.input != "signed" && r.input != "offset8") || r.nibble_order != "low_first") {
    throw FormatError(where + ": int4pack record is not one this version can read: " + text);
  }
  return r;
}

bool is_carrier_dtype(const std::string &dtype) {
  return dtype == "I32" || dtype == "I16" || dtype == "I8" || dtype == "U8";
}

bool could_be_int4_weight(const TensorEntry &t) {
  return ends_with(t.name, "weight") && is_carrier_dtype(t.dtype) && t.shape.size() == 2 && t.elements() != 0;
}

bool looks_like_int4_weight(const SafetensorsFile &file, const TensorEntry &t, InputEncoding input) {
  return could_be_int4_weight(t) && values_in_range(file, t, low_limit(input));
}

uint64_t packed_tensor_bytes(const TensorEntry &t, const PackOptions &o) {
  return packed_bytes(packed_matrix(t, o), o.layout);
}

const uint8_t *pack_if_in_range(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o) {
  thread_local ScratchBuffer packed;  // reused for every tensor: see scratch.h
  uint8_t *p = packed.get(packed_tensor_bytes(t, o));
  return pack_checked(file, t, o, p) ? p : nullptr;
}

std::vector<std::string> check_tensor(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o,
                                      bool values_known_in_range) {
  std::vector<std::string> problems;
  const std::string what = file.path() + ": tensor '" + t.name + "'";
  if (!is_carrier_dtype(t.dtype)) {
    problems.push_back(what + ": dtype " + t.dtype + " is not an integer carrier (I32, I16, I8, U8)");
    return problems;
  }
  if (t.shape.size() != 2) {
    problems.push_back(what + ": shape " + shape_text(t.shape) + " is not 2-D");
    return problems;
  }
  const MatrixShape m = packed_matrix(t, o);
  const int64_t align = o.int32_words ? 8 : 2;
  if (m.rows == 0 || m.cols == 0) problems.push_back(what + ": shape " + shape_text(t.shape) + " is empty");
  if (m.cols % align != 0) {
    problems.push_back(what + ": the packed matrix " + shape_text({m.rows, m.cols}) + (o.transpose ? " (transposed)" : "") +
                       " needs a last dim that is a multiple of " + std::to_string(align) + " for " +
                       (o.int32_words ? "int32" : "int4") + " output, but it is " + std::to_string(m.cols));
  }
  const int32_t lo = low_limit(o.input);
  const int32_t hi = high_limit(o.input);
  if (values_known_in_range || values_in_range(file, t, lo)) return problems;
  size_t bad = 0;  // the slow scan, only to name the offending elements
  for_each_value(file, t, [&](int64_t i, int32_t v) {
    if (v < lo || v > hi) {
      if (++bad <= kMaxValueProblems) {
        problems.push_back(what + ": element [" + std::to_string(i / t.shape[1]) + ", " +
                           std::to_string(i % t.shape[1]) + "] = " + std::to_string(v) + " is outside [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "]" +
                           (o.input == InputEncoding::kOffset8 ? " (--input offset8)" : " (--input signed)"));
      }
    }
    return true;
  });
  if (bad > kMaxValueProblems) {
    problems.push_back(what + ": and " + std::to_string(bad - kMaxValueProblems) + " more elements out of range");
  }
  return problems;
}

std::vector<uint8_t> packed_bytes_of(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o) {
  std::vector<uint8_t> out(packed_tensor_bytes(t, o));
  pack_unchecked(file, t, o, out.data());
  return out;
}

OutputTensor packed_output(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o,
                           PackedRecord *record) {
  const MatrixShape m = packed_matrix(t, o);
  record->format = o.layout == PackedLayout::kNz ? "nz" : "nd";
  record->dtype = o.int32_words ? "int32" : "int4";
  record->view_shape = {m.rows, m.cols};
  record->original_dtype = t.dtype;
  record->original_shape = t.shape;
  record->transposed = o.transpose;
  record->input = o.input == InputEncoding::kOffset8 ? "offset8" : "signed";
  OutputTensor out;
  out.name = t.name;
  out.dtype = o.int32_words ? "I32" : "U8";
  out.shape = storage_shape(m, o);
  out.bytes = packed_bytes(m, o.layout);
  out.source_bytes = t.bytes();
  out.write = [&file, &t, o, bytes = out.bytes](Sink &sink) {
    thread_local ScratchBuffer packed;  // reused for every tensor: see scratch.h
    uint8_t *p = packed.get(bytes);
    pack_unchecked(file, t, o, p);
    file.release(t);
    sink.write(p, bytes);
  };
  return out;
}

uint64_t packed_header_room(const SafetensorsFile &file, const std::vector<bool> &may_pack, const PackOptions &o,
                            const std::map<std::string, std::string> &metadata) {
  std::map<std::string, std::string> meta = metadata;
  const std::vector<TensorEntry> &tensors = file.tensors();
  std::vector<OutputTensor> packed(tensors.size());
  uint64_t largest_offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t bytes = tensors[i].bytes();
    if (i < may_pack.size() && may_pack[i]) {
      PackedRecord record;
      packed[i] = packed_output(file, tensors[i], o, &record);
      meta[kMetadataPrefix + tensors[i].name] = encode_record(record);
      bytes = std::max(bytes, packed[i].bytes);
    }
    largest_offset += bytes;
  }
  std::vector<HeaderEntry> longest;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry &t = tensors[i];
    HeaderEntry entry{t.name, t.dtype, t.shape, largest_offset, largest_offset};
    if (!packed[i].name.empty()) {
      const HeaderEntry other{t.name, packed[i].dtype, packed[i].shape, largest_offset, largest_offset};
      if (header_text({}, {other}).size() > header_text({}, {entry}).size()) entry = other;
    }
    longest.push_back(entry);
  }
  return header_text(meta, longest).size();
}

OutputTensor unpacked_output(const SafetensorsFile &file, const TensorEntry &packed, const PackedRecord &r) {
  const std::string where = file.path() + ": tensor '" + packed.name + "'";
  const PackOptions o = r.options();
  const MatrixShape m{r.view_shape[0], r.view_shape[1]};
  size_t expected = 0;
  if (!packed_bytes_checked(m, o.layout, &expected) || expected != packed.bytes() ||
      packed.dtype != (o.int32_words ? "I32" : "U8") || packed.shape != storage_shape(m, o)) {
    throw FormatError(where + ": its " + packed.dtype + " " + shape_text(packed.shape) +
                      " storage does not match its int4pack record " + encode_record(r));
  }
  OutputTensor out;
  out.name = packed.name;
  out.dtype = r.original_dtype;
  out.shape = r.original_shape;
  out.bytes = static_cast<uint64_t>(m.rows * m.cols) * dtype_size(r.original_dtype);
  out.source_bytes = packed.bytes();
  out.write = [&file, &packed, r, m, o](Sink &sink) {
    // Per-thread buffers reused for every tensor (see scratch.h). An I32 original, neither shifted nor
    // transposed, is the unpacked matrix itself.
    thread_local ScratchBuffer matrix, stored;
    const size_t count = static_cast<size_t>(m.rows * m.cols);
    auto *values = reinterpret_cast<int32_t *>(matrix.get(count * sizeof(int32_t)));
    unpacked_matrix(file, packed, r, values);
    file.release(packed);
    if (r.original_dtype == "I32" && !o.transpose && o.input == InputEncoding::kSigned) {
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
