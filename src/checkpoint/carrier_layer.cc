#include "checkpoint/carrier_layer.h"

#include <vector>

#include "checkpoint/scratch.h"

namespace int4pack::checkpoint {
namespace {

constexpr size_t kMaxValueProblems = 5;  // per tensor; the rest are counted

bool ends_with(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A carrier value moved to the signed range: minus 8 for offset8. The subtraction wraps (mod 2^32), so a
// value below the int4 range stays outside the shifted range [-8, 7] instead of overflowing.
int32_t to_signed_range(int32_t v, InputEncoding input) {
  return static_cast<int32_t>(static_cast<uint32_t>(v) - (input == InputEncoding::kOffset8 ? 8u : 0u));
}

int32_t zero_point(InputEncoding e) { return e == InputEncoding::kOffset8 ? 8 : 0; }
int32_t low_limit(InputEncoding e) { return zero_point(e) - 8; }
int32_t high_limit(InputEncoding e) { return low_limit(e) + 15; }  // both encodings span 16 values

ElementType int_type(Dtype d) {
  switch (d) {
    case Dtype::kI16:
      return ElementType::kInt16;
    case Dtype::kI8:
      return ElementType::kInt8;
    case Dtype::kU8:
      return ElementType::kUint8;
    default:
      return ElementType::kInt32;
  }
}

bool values_in_range(const SafetensorsFile &file, const TensorEntry &t, InputEncoding input) {
  if (!is_carrier_dtype(t.dtype)) return false;
  file.prefetch(t);
  int4pack::PackOptions range;
  range.zero_point = zero_point(input);
  return check_values({file.data(t), int_type(t.dtype), {t.elements()}, {}}, range).ok();
}

// The packed matrix's shape: the tensor's, transposed on request.
MatrixShape packed_matrix(const TensorEntry &t, bool transpose) {
  return transpose ? MatrixShape{t.shape[1], t.shape[0]} : MatrixShape{t.shape[0], t.shape[1]};
}

}  // namespace

CarrierLayer::CarrierLayer(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &options)
    : file_(file), tensor_(t), transpose_(options.transpose), input_(options.input) {}

MatrixShape CarrierLayer::matrix() const { return packed_matrix(tensor_, transpose_); }

void CarrierLayer::describe(PackedRecord *record) const {
  record->original_dtype = tensor_.dtype;
  record->original_shape = tensor_.shape;
}

RowSource CarrierLayer::rows() const {
  const MatrixShape m = matrix();
  const TensorEntry &t = tensor_;
  const InputEncoding input = input_;
  if (transpose_) {
    thread_local ScratchBuffer carriers;
    auto *copy = reinterpret_cast<int32_t *>(carriers.get(static_cast<size_t>(m.rows * m.cols) * sizeof(int32_t)));
    file_.prefetch(t);
    const int64_t stored_cols = t.shape[1];
    for_each_carrier(file_.data(t), t.dtype, t.elements(), [&](int64_t i, int32_t v) {
      copy[(i % stored_cols) * m.cols + i / stored_cols] = to_signed_range(v, input);
      return true;
    });
    return [copy, m](int64_t first_row, int64_t, int32_t *) { return copy + first_row * m.cols; };
  }
  const SafetensorsFile &file = file_;
  const size_t width = dtype_size(t.dtype);
  const bool as_is = t.dtype == Dtype::kI32 && input == InputEncoding::kSigned;
  return [&file, &t, m, width, as_is, input](int64_t first_row, int64_t count, int32_t *buffer) -> const int32_t * {
    const uint64_t row_bytes = static_cast<uint64_t>(m.cols) * width;
    const uint64_t offset = static_cast<uint64_t>(first_row) * row_bytes;
    const size_t bytes = static_cast<size_t>(count) * row_bytes;
    if (as_is) return file.read(t, offset, buffer, bytes) ? buffer : nullptr;
    thread_local std::vector<uint8_t> raw;
    if (raw.size() < bytes) raw.resize(bytes);
    if (!file.read(t, offset, raw.data(), bytes)) return nullptr;
    for_each_carrier(raw.data(), t.dtype, count * m.cols, [&](int64_t i, int32_t v) {
      buffer[i] = to_signed_range(v, input);
      return true;
    });
    return buffer;
  };
}

bool could_be_int4_weight(const TensorEntry &t) {
  return ends_with(t.name, "weight") && is_carrier_dtype(t.dtype) && t.shape.size() == 2 && t.elements() != 0;
}

bool looks_like_int4_weight(const SafetensorsFile &file, const TensorEntry &t, InputEncoding input) {
  return could_be_int4_weight(t) && values_in_range(file, t, input);
}

std::vector<std::string> check_tensor(const SafetensorsFile &file, const TensorEntry &t, const PackOptions &o,
                                      bool values_known_in_range) {
  std::vector<std::string> problems;
  const std::string what = file.path() + ": tensor '" + t.name + "'";
  if (!is_carrier_dtype(t.dtype)) {
    problems.push_back(what + ": dtype " + dtype_name(t.dtype) + " is not an integer carrier (I32, I16, I8, U8)");
    return problems;
  }
  if (t.shape.size() != 2) {
    problems.push_back(what + ": shape " + shape_text(t.shape) + " is not 2-D");
    return problems;
  }
  const MatrixShape m = packed_matrix(t, o.transpose);
  const int64_t align = o.int32_words ? 8 : 2;
  if (m.rows == 0 || m.cols == 0) problems.push_back(what + ": shape " + shape_text(t.shape) + " is empty");
  if (m.cols % align != 0) {
    problems.push_back(what + ": the packed matrix " + shape_text({m.rows, m.cols}) +
                       (o.transpose ? " (transposed)" : "") + " needs a last dim that is a multiple of " +
                       std::to_string(align) + " for " + (o.int32_words ? "int32" : "int4") + " output, but it is " +
                       std::to_string(m.cols));
  }
  const int32_t lo = low_limit(o.input);
  const int32_t hi = high_limit(o.input);
  if (values_known_in_range || values_in_range(file, t, o.input)) return problems;
  size_t bad = 0;  // the slow scan, only to name the offending elements
  for_each_carrier(file.data(t), t.dtype, t.elements(), [&](int64_t i, int32_t v) {
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

}  // namespace int4pack::checkpoint
