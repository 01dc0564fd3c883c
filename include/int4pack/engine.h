/*
 * int4pack extension (not part of CANN): the packing engine as a C++ library (libint4pack.so).
 *
 * Packs int4 values (one per element of an integer array) into CANN's layouts, ND (two per byte,
 * row-major) and FRACTAL_NZ (blocks of 16 rows x 64 values), and back. The CANN operators, the int4pack
 * converter and the Python package are built on it. Every call is thread-safe, returns a Result that
 * says what went wrong, and never throws, aborts or prints.
 *
 * Shapes: a 2-D (k, n) matrix, or a 3-D (g, k, n) stack of g matrices ("groups", e.g. MoE experts). A
 * stack packs each matrix on its own: ND is the flat pack of the g matrices; in FRACTAL_NZ every group
 * has its own padded blocks, so group i starts at byte i * packed size of one (k, n) matrix.
 */
#ifndef INT4PACK_ENGINE_H_
#define INT4PACK_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#define INT4PACK_API __attribute__((visibility("default")))

namespace int4pack {

enum class Layout : int { kNd = 0, kNz = 1 };

// The element types of the arrays the engine reads and writes. kInt4 is packed, two values a byte; the
// complex types are pairs (real, imaginary) of float / double.
enum class ElementType : int {
  kBool,
  kInt8,
  kUint8,
  kInt16,
  kUint16,
  kInt32,
  kUint32,
  kInt64,
  kUint64,
  kFloat16,
  kBFloat16,
  kFloat32,
  kFloat64,
  kComplex64,
  kComplex128,
  kInt4,
};

// Bytes per element (1 for kInt4, which packs two), 0 for a value outside the enumeration.
INT4PACK_API size_t element_size(ElementType type);

// An array in memory, read through its strides: a transposed or sliced view is read by its logical values.
// The data need not be aligned.
struct Array {
  const void *data = nullptr;
  ElementType type = ElementType::kInt32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements, any sign; empty: row-major contiguous
};

struct PackOptions {
  // Refuse any value outside the int4 range (the result names the first one). Without the check every
  // value is masked with 0xF, as CANN's operator does: 8 packs as -8, -9 as 7.
  bool check = true;
  // A stored value v stands for the int4 value v - zero_point: 0 for signed [-8, 7], 8 for the unsigned
  // [0, 15] of GPTQ, ONNX and llama.cpp.
  int32_t zero_point = 0;
};

enum class ErrorKind : int {
  kNone = 0,
  kShape,     // rank, dims, alignment of n, a size that overflows, strides; `rule` names the rule
  kType,      // an element type the call does not take
  kRange,     // a value outside the int4 range; `index` and `value` name the first one
  kArgument,  // another argument out of its domain (a layout, a thread count)
  kBuffer,    // an output or input buffer too small, or NULL
  kSettings,  // INT4PACK_ISA or INT4PACK_NUM_THREADS cannot be honoured
  kSource,    // a RowSource could not deliver rows
  kMemory,    // out of memory
};

struct Result {
  ErrorKind kind = ErrorKind::kNone;
  std::string message;         // one sentence naming what is wrong and the values involved
  std::string rule;            // kShape: the rule, e.g. "n must be even"
  std::vector<int64_t> index;  // kRange: the element, one entry per dimension of the array
  int64_t value = 0;           // kRange: its value

  bool ok() const { return kind == ErrorKind::kNone; }
  explicit operator bool() const { return ok(); }
};

// Bytes of the packed encoding of `shape` ((k, n) or (g, k, n) int4 values), NZ padding included.
// kShape unless every dim is positive, n is even and the size fits int64.
INT4PACK_API Result packed_size(const std::vector<int64_t> &shape, Layout layout, size_t *bytes);

// The storage shape of that encoding counted in elements holding `values_per_element` int4 values each:
// 1 is CANN's INT4 shape, 2 counts bytes (a uint8 array), 8 counts INT32 words. ND: (k, n / v);
// FRACTAL_NZ: (ceil(n/64), ceil(k/16), 16, 64 / v); a stack gets a leading g. Empty for a shape that
// packed_size refuses or a v that does not divide n (or is not 1, 2 or 8).
INT4PACK_API std::vector<int64_t> storage_shape(const std::vector<int64_t> &shape, Layout layout,
                                                int values_per_element);

// Packs `weight` ((k, n) or (g, k, n) of kInt8, kUint8, kInt16, kUint16, kInt32 or kUint32; kType for
// another) into `out` (out_bytes >= packed_size; every byte of the encoding is written, NZ padding as 0).
// With options.check, a value outside the range is refused and `out` is left unspecified.
INT4PACK_API Result pack(const Array &weight, Layout layout, void *out, size_t out_bytes,
                         const PackOptions &options = {});

// Whether every value of `values` (those integer types, any rank, any strides) is an int4 value under
// options.zero_point: ok, or kRange naming the first one that is not (in row-major order).
INT4PACK_API Result check_values(const Array &values, const PackOptions &options = {});

// Unpacks `packed` (packed_bytes >= packed_size) of a `shape` matrix or stack into `out`, row-major int32
// values in [-8, 7] (out_count >= the element count). NZ padding is not read.
INT4PACK_API Result unpack(const void *packed, size_t packed_bytes, const std::vector<int64_t> &shape, Layout layout,
                           int32_t *out, size_t out_count);

// Rows [first_row, first_row + rows) of a row-major int32 matrix: a pointer to them where the caller holds
// them in memory already, else `buffer` (room for rows * cols values) filled with them, e.g. read from a
// file. Null when they cannot be had, which ends the pack with kSource. Called from several threads at
// once, for disjoint rows; every row is asked for exactly once.
using RowSource = std::function<const int32_t *(int64_t first_row, int64_t rows, int32_t *buffer)>;

// Packs a (rows, cols) matrix of signed int4 values whose rows come from `source`, checking every value on
// the way: a converter validates and packs with one read of its input. Each thread takes a few hundred
// KiB of rows at a time and packs them while they are in cache. On any error `out` is unspecified.
INT4PACK_API Result pack_rows(int64_t rows, int64_t cols, Layout layout, const RowSource &source, void *out,
                              size_t out_bytes);

// Converts every element of `from` (any real, complex or bool type but kInt4; at most 8 dims, any strides)
// to `to`, writing `out` with `out_strides` (in elements; empty: row-major) over the same shape:
//   float to float       round to nearest, ties to even; too large for the target: +-infinity; NaN stays NaN
//   float to integer     truncated toward zero and saturated to the target's range; NaN gives 0
//   integer to integer   the low bits (two's complement wrap-around, as a C cast)
//   integer to float     round to nearest, ties to even
//   to bool              nonzero (NaN too) is true; bool to a number is 0 or 1
//   complex to real      the real part; real to complex: imaginary part 0
// Contiguous float32 <-> float16 / bfloat16 spans use the vector conversions of the instruction set.
INT4PACK_API Result cast(const Array &from, ElementType to, void *out, const std::vector<int64_t> &out_strides = {});

// The engine's settings. engine_status() is ok, or kSettings when INT4PACK_ISA names an instruction set
// this build or CPU lacks or INT4PACK_NUM_THREADS is not a thread count; every pack and unpack then fails
// the same way instead of silently using another setting.
INT4PACK_API Result engine_status();
// The instruction set in use ("avx512", "avx2", "neon", "scalar"), or null when engine_status() fails.
INT4PACK_API const char *isa();
// Threads per call: INT4PACK_NUM_THREADS, else the CPUs this process may run on, unless set here.
INT4PACK_API int num_threads();
// n >= 1 sets it, 0 restores the default; kArgument for n < 0. Small inputs stay on the calling thread.
INT4PACK_API Result set_num_threads(int n);

}  // namespace int4pack

#endif  // INT4PACK_ENGINE_H_
