// The checked entry points of include/int4pack/engine.h: every argument is validated here, then the plans
// of engine/pack.h run. Nothing below this file sees an unchecked shape or buffer.
#include <cstring>
#include <new>
#include <string>

#include "engine/elements.h"
#include "engine/pack.h"
#include "engine/settings.h"
#include "int4pack/engine.h"

namespace int4pack {
namespace {

using engine::PackPlan;
using engine::Run;
using engine::StreamedPack;
using engine::UnpackPlan;

static_assert(static_cast<int>(Layout::kNd) == static_cast<int>(PackedLayout::kNd) &&
                  static_cast<int>(Layout::kNz) == static_cast<int>(PackedLayout::kNz),
              "the public and internal layouts are converted by value");

constexpr size_t kMaxRank = 8;  // for check_values; pack and unpack take 2 or 3

std::string dims_text(const std::vector<int64_t> &dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

std::string index_text(const std::vector<int64_t> &index) {
  std::string s = "[";
  for (size_t i = 0; i < index.size(); ++i) s += (i ? ", " : "") + std::to_string(index[i]);
  return s + "]";
}

Result fail(ErrorKind kind, std::string message, std::string rule = "") {
  Result r;
  r.kind = kind;
  r.message = std::move(message);
  r.rule = std::move(rule);
  return r;
}

Result shape_error(const std::vector<int64_t> &shape, const std::string &rule, const std::string &detail) {
  return fail(ErrorKind::kShape, "shape " + dims_text(shape) + ": " + rule + detail, rule);
}

// The integer types values to pack may come in; 0 for any other.
size_t pack_element_bytes(ElementType t) {
  switch (t) {
    case ElementType::kInt8:
    case ElementType::kUint8:
      return 1;
    case ElementType::kInt16:
    case ElementType::kUint16:
      return 2;
    case ElementType::kInt32:
    case ElementType::kUint32:
      return 4;
    default:
      return 0;
  }
}

bool is_signed(ElementType t) {
  return t == ElementType::kInt8 || t == ElementType::kInt16 || t == ElementType::kInt32;
}

// Element `offset` (in elements from `base`, either sign) of type t, widened to int64.
int64_t load(const uint8_t *base, ElementType t, int64_t offset) {
  const uint8_t *p = base + offset * static_cast<int64_t>(pack_element_bytes(t));
  switch (t) {
    case ElementType::kInt8:
      return static_cast<int8_t>(*p);
    case ElementType::kUint8:
      return *p;
    case ElementType::kInt16: {
      int16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case ElementType::kUint16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case ElementType::kInt32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case ElementType::kUint32: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    default:
      return 0;
  }
}

// The matrix or stack a shape describes: g matrices of k x n int4 values (g = 1 for a matrix).
struct Stack {
  int64_t groups = 1;
  MatrixShape matrix;
  size_t matrix_bytes = 0;  // packed bytes of one matrix
  size_t bytes = 0;         // of the whole stack
};

Result to_stack(const std::vector<int64_t> &shape, Layout layout, Stack *stack) {
  if (layout != Layout::kNd && layout != Layout::kNz) return fail(ErrorKind::kArgument, "unknown layout");
  if (shape.size() != 2 && shape.size() != 3) {
    return shape_error(shape, "the rank must be 2 (k, n) or 3 (g, k, n)",
                       ", but it is " + std::to_string(shape.size()));
  }
  for (int64_t d : shape) {
    if (d <= 0) return shape_error(shape, "every dim must be positive", "");
  }
  const size_t r = shape.size();
  stack->groups = r == 3 ? shape[0] : 1;
  stack->matrix = {shape[r - 2], shape[r - 1]};
  if (stack->matrix.cols % 2 != 0) {
    return shape_error(shape, "n (the last dim) must be even", ", but it is " + std::to_string(stack->matrix.cols));
  }
  int64_t elements = 0;
  if (!packed_bytes_checked(stack->matrix, static_cast<PackedLayout>(layout), &stack->matrix_bytes) ||
      __builtin_mul_overflow(stack->matrix_bytes, static_cast<size_t>(stack->groups), &stack->bytes) ||
      stack->bytes > static_cast<size_t>(INT64_MAX) ||
      __builtin_mul_overflow(stack->matrix.rows, stack->matrix.cols, &elements) ||
      __builtin_mul_overflow(elements, stack->groups, &elements) || elements > INT64_MAX / 4) {
    return shape_error(shape, "the size must fit in int64", "");
  }
  return {};
}

// Row-major strides when none are given; one per dim otherwise.
Result strides_of(const Array &a, std::vector<int64_t> *strides) {
  if (a.strides.empty()) {
    strides->assign(a.shape.size(), 1);
    for (size_t i = a.shape.size(); i-- > 1;) (*strides)[i - 1] = (*strides)[i] * a.shape[i];
    return {};
  }
  if (a.strides.size() != a.shape.size()) {
    return fail(ErrorKind::kShape,
                "strides " + dims_text(a.strides) + " do not give one stride per dim of shape " + dims_text(a.shape),
                "one stride per dim");
  }
  *strides = a.strides;
  return {};
}

Result check_array(const Array &a) {
  if (pack_element_bytes(a.type) == 0) {
    return fail(ErrorKind::kType, "int4 values come in int8, uint8, int16, uint16, int32 or uint32 arrays");
  }
  if (a.data == nullptr) return fail(ErrorKind::kBuffer, "the input data is NULL");
  return {};
}

Result check_output(const void *out, size_t out_bytes, size_t needed, const char *what) {
  if (out == nullptr) return fail(ErrorKind::kBuffer, std::string(what) + " is NULL");
  if (out_bytes < needed) {
    return fail(ErrorKind::kBuffer, std::string(what) + " holds " + std::to_string(out_bytes) + " bytes, but " +
                                        std::to_string(needed) + " are needed");
  }
  return {};
}

Result settings_result() {
  const std::string &why = engine::settings_error();
  return why.empty() ? Result{} : fail(ErrorKind::kSettings, why);
}

// The first element (row-major) of `a` whose value minus zero_point is not in [-8, 7], as kRange; ok when
// there is none.
Result first_out_of_range(const Array &a, const std::vector<int64_t> &strides, int32_t zero_point) {
  const auto *base = static_cast<const uint8_t *>(a.data);
  std::vector<int64_t> index(a.shape.size(), 0);
  int64_t count = 1;
  for (int64_t d : a.shape) count *= d;
  for (int64_t e = 0; e < count; ++e) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d) offset += index[d] * strides[d];
    const int64_t v = load(base, a.type, offset);
    if (v - zero_point < -8 || v - zero_point > 7) {
      Result r =
          fail(ErrorKind::kRange, "element " + index_text(index) + " = " + std::to_string(v) + " is outside [" +
                                      std::to_string(zero_point - 8) + ", " + std::to_string(zero_point + 7) + "]");
      r.index = index;
      r.value = v;
      return r;
    }
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < a.shape[d]) break;
      index[d] = 0;
    }
  }
  return {};
}

// Where matrix g of a (validated) 2-D or 3-D array starts.
const uint8_t *matrix_origin(const Array &a, const std::vector<int64_t> &strides, int64_t g) {
  const int64_t esize = static_cast<int64_t>(pack_element_bytes(a.type));
  return static_cast<const uint8_t *>(a.data) + (a.shape.size() == 3 ? g * strides[0] * esize : 0);
}

// Matrix g as the engine's plans take it, row-major aligned int32 signed values, or null when the array
// holds it any other way.
const int32_t *plain_matrix(const Array &a, const std::vector<int64_t> &strides, int64_t g, int32_t zero_point) {
  const size_t r = a.shape.size();
  const uint8_t *origin = matrix_origin(a, strides, g);
  const bool plain = a.type == ElementType::kInt32 && zero_point == 0 && strides[r - 1] == 1 &&
                     strides[r - 2] == a.shape[r - 1] && reinterpret_cast<uintptr_t>(origin) % alignof(int32_t) == 0;
  return plain ? reinterpret_cast<const int32_t *>(origin) : nullptr;
}

// The rows of matrix g as signed int4 values (minus zero_point, mod 2^32: a value outside the range stays
// outside), in place where the array already holds exactly that.
RowSource rows_of(const Array &a, const std::vector<int64_t> &strides, int64_t g, int32_t zero_point) {
  const size_t r = a.shape.size();
  const int64_t cols = a.shape[r - 1];
  if (const int32_t *values = plain_matrix(a, strides, g, zero_point)) {
    return [values, cols](int64_t first, int64_t, int32_t *) { return values + first * cols; };
  }
  const int64_t row_stride = strides[r - 2];
  const int64_t col_stride = strides[r - 1];
  const uint8_t *origin = matrix_origin(a, strides, g);
  const ElementType type = a.type;
  return [=](int64_t first, int64_t rows, int32_t *buffer) -> const int32_t * {
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t row = (first + i) * row_stride;
      int32_t *out = buffer + i * cols;
      for (int64_t j = 0; j < cols; ++j) {
        out[j] = static_cast<int32_t>(static_cast<uint32_t>(load(origin, type, row + j * col_stride)) -
                                      static_cast<uint32_t>(zero_point));
      }
    }
    return buffer;
  };
}

Result from_streamed(StreamedPack outcome) {
  switch (outcome) {
    case StreamedPack::kPacked:
      return {};
    case StreamedPack::kOutOfRange:
      return fail(ErrorKind::kRange, "a value is outside the int4 range");
    case StreamedPack::kSourceFailed:
      return fail(ErrorKind::kSource, "the row source could not deliver rows");
    case StreamedPack::kNoMemory:
      break;
  }
  return fail(ErrorKind::kMemory, "out of memory");
}

Result pack_checked(const Array &weight, Layout layout, void *out, size_t out_bytes, const PackOptions &options) {
  if (Result r = settings_result(); !r) return r;
  if (Result r = check_array(weight); !r) return r;
  Stack stack;
  if (Result r = to_stack(weight.shape, layout, &stack); !r) return r;
  std::vector<int64_t> strides;
  if (Result r = strides_of(weight, &strides); !r) return r;
  if (Result r = check_output(out, out_bytes, stack.bytes, "the output"); !r) return r;
  const Run run = engine::active_run();
  const auto pl = static_cast<PackedLayout>(layout);
  const int32_t low = -8;
  for (int64_t g = 0; g < stack.groups; ++g) {
    uint8_t *dst = static_cast<uint8_t *>(out) + static_cast<size_t>(g) * stack.matrix_bytes;
    const int32_t *plain = options.check ? nullptr : plain_matrix(weight, strides, g, options.zero_point);
    if (plain != nullptr) {  // what the operator hands over: the whole split at once, no row source
      engine::pack_with({stack.matrix, pl, plain, dst}, run);
      continue;
    }
    const RowSource rows = rows_of(weight, strides, g, options.zero_point);
    const StreamedPack outcome =
        engine::pack_rows_with(stack.matrix, pl, dst, rows, run, options.check ? &low : nullptr);
    if (outcome == StreamedPack::kOutOfRange) return first_out_of_range(weight, strides, options.zero_point);
    if (Result r = from_streamed(outcome); !r) return r;
  }
  return {};
}

}  // namespace

size_t element_size(ElementType type) { return engine::element_bytes(type); }

Result packed_size(const std::vector<int64_t> &shape, Layout layout, size_t *bytes) {
  Stack stack;
  if (Result r = to_stack(shape, layout, &stack); !r) return r;
  if (bytes != nullptr) *bytes = stack.bytes;
  return {};
}

std::vector<int64_t> storage_shape(const std::vector<int64_t> &shape, Layout layout, int values_per_element) {
  Stack stack;
  if (!to_stack(shape, layout, &stack) ||
      (values_per_element != 1 && values_per_element != 2 && values_per_element != 8) ||
      stack.matrix.cols % values_per_element != 0) {
    return {};
  }
  std::vector<int64_t> dims;
  if (shape.size() == 3) dims.push_back(stack.groups);
  if (layout == Layout::kNd) {
    dims.insert(dims.end(), {stack.matrix.rows, stack.matrix.cols / values_per_element});
  } else {
    const auto nz = nz_storage_shape(stack.matrix, values_per_element);
    dims.insert(dims.end(), nz.begin(), nz.end());
  }
  return dims;
}

Result pack(const Array &weight, Layout layout, void *out, size_t out_bytes, const PackOptions &options) {
  try {
    return pack_checked(weight, layout, out, out_bytes, options);
  } catch (const std::bad_alloc &) {
    return fail(ErrorKind::kMemory, "out of memory");
  }
}

Result check_values(const Array &values, const PackOptions &options) {
  try {
    if (Result r = check_array(values); !r) return r;
    if (values.shape.size() > kMaxRank) return shape_error(values.shape, "at most 8 dims", "");
    int64_t count = 1;
    for (int64_t d : values.shape) {
      if (d < 0 || __builtin_mul_overflow(count, d, &count)) return shape_error(values.shape, "a valid shape", "");
    }
    std::vector<int64_t> strides;
    if (Result r = strides_of(values, &strides); !r) return r;
    bool contiguous = true;
    for (size_t d = 0, expected = 1; d < strides.size(); ++d) {
      const size_t i = strides.size() - 1 - d;
      if (values.shape[i] != 1 && strides[i] != static_cast<int64_t>(expected)) contiguous = false;
      expected *= static_cast<size_t>(values.shape[i]);
    }
    if (contiguous && engine::settings_error().empty()) {
      const int32_t low = options.zero_point - 8;
      if (engine::carriers_fit_int4(values.data, count, static_cast<int>(pack_element_bytes(values.type)),
                                    is_signed(values.type), low, engine::active_run())) {
        return {};
      }
    }
    return first_out_of_range(values, strides, options.zero_point);
  } catch (const std::bad_alloc &) {
    return fail(ErrorKind::kMemory, "out of memory");
  }
}

Result unpack(const void *packed, size_t packed_bytes, const std::vector<int64_t> &shape, Layout layout, int32_t *out,
              size_t out_count) {
  if (Result r = settings_result(); !r) return r;
  Stack stack;
  if (Result r = to_stack(shape, layout, &stack); !r) return r;
  if (packed == nullptr) return fail(ErrorKind::kBuffer, "the packed data is NULL");
  if (packed_bytes < stack.bytes) {
    return fail(ErrorKind::kBuffer, "the packed data holds " + std::to_string(packed_bytes) + " bytes, but shape " +
                                        dims_text(shape) + " packs into " + std::to_string(stack.bytes));
  }
  const size_t matrix_values = static_cast<size_t>(stack.matrix.rows * stack.matrix.cols);
  if (Result r =
          check_output(out, out_count * sizeof(int32_t), matrix_values * stack.groups * sizeof(int32_t), "the output");
      !r) {
    return r;
  }
  const Run run = engine::active_run();
  for (int64_t g = 0; g < stack.groups; ++g) {
    engine::unpack_with({stack.matrix, static_cast<PackedLayout>(layout),
                         static_cast<const uint8_t *>(packed) + static_cast<size_t>(g) * stack.matrix_bytes,
                         out + static_cast<size_t>(g) * matrix_values},
                        run);
  }
  return {};
}

Result pack_rows(int64_t rows, int64_t cols, Layout layout, const RowSource &source, void *out, size_t out_bytes) {
  try {
    if (Result r = settings_result(); !r) return r;
    Stack stack;
    if (Result r = to_stack({rows, cols}, layout, &stack); !r) return r;
    if (!source) return fail(ErrorKind::kSource, "the row source is empty");
    if (Result r = check_output(out, out_bytes, stack.bytes, "the output"); !r) return r;
    const int32_t low = -8;
    return from_streamed(engine::pack_rows_with(stack.matrix, static_cast<PackedLayout>(layout),
                                                static_cast<uint8_t *>(out), source, engine::active_run(), &low));
  } catch (const std::bad_alloc &) {
    return fail(ErrorKind::kMemory, "out of memory");
  }
}

Result engine_status() { return settings_result(); }

const char *isa() {
  const kernels::Isa *active = engine::active_isa();
  return active != nullptr ? active->name : nullptr;
}

int num_threads() { return engine::thread_count(); }

Result set_num_threads(int n) {
  if (!engine::set_thread_count(n)) {
    return fail(ErrorKind::kArgument, "the thread count must be >= 0 (0: the default), but it is " + std::to_string(n));
  }
  return {};
}

}  // namespace int4pack
