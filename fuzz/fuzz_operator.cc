// fuzz_operator: hostile tensor descriptors for aclnnConvertWeightToINT4Pack and aclnnInt4PackToWeight.
//
// The input describes a (carrier, packed) pair (a matrix or a (g, k, n) stack of them): ranks 0-6, dims with 0,
// negatives and values whose products overflow int64, strides, offsets, dtypes and formats (any int), storage shapes,
// NULL pointers for dims, strides, data or the tensor itself. Either raw, or a valid pair with a few fields mutated (so
// that phase 1 accepts often enough for phase 2 to be exercised). Data buffers are allocated before phase 1, exactly as
// large as each descriptor's storage shape declares (ASan sees anything past them); a descriptor whose storage needs
// more than kMaxBuffer gets a NULL data pointer.
//
// Acceptable: phase 1 fails with a documented status (161001, 161002, 561003) and sets a message; or it
// succeeds, the descriptors obey the documented rules, and after phase 2 and aclrtSynchronizeStream the
// output region holds exactly reference::pack / reference::unpack of the input, nothing outside it changed
// and the input is unchanged. A valid pair that phase 1 refuses is a finding too.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "aclnn/acl_meta.h"
#include "aclnnop/aclnn_convert_weight_to_int4_pack.h"
#include "aclnnop/aclnn_int4_pack_to_weight.h"
#include "core/layout.h"
#include "fuzz_acl.h"
#include "fuzz_common.h"
#include "kernels/reference.h"

namespace {

using int4pack::MatrixShape;
using int4pack::PackedLayout;

constexpr uint64_t kMaxBuffer = uint64_t{1} << 20;
constexpr uint8_t kSentinel = 0xA5;
constexpr int32_t kInt32 = ACL_INT32;
constexpr int32_t kInt4 = ACL_INT4;
constexpr int32_t kNd = ACL_FORMAT_ND;
constexpr int32_t kNz = ACL_FORMAT_FRACTAL_NZ;

aclrtStream g_stream = nullptr;

// aclDataType and aclFormat reach the library as any int a C caller passes, also far outside the
// enumerators (the library keeps them as ints; fuzz/regressions/fuzz_operator/ubsan-enum-* once showed
// it loading them as enums).
int32_t any_int_enum(fuzz::Input &in) { return static_cast<int32_t>(in.u32()); }

struct Desc {
  bool null_tensor = false;
  std::vector<int64_t> view;
  bool null_view = false;  // NULL viewDims pointer (with the count of `view`)
  std::vector<int64_t> strides;
  bool null_strides = true;  // NULL stride pointer: contiguous
  int64_t offset = 0;
  int32_t dtype = kInt32;  // any int, as a C caller may pass
  int32_t format = kNd;
  std::vector<int64_t> storage;
  bool null_storage = false;
  bool null_data = false;
};

// Elements of dims, or -1 when a dim is negative or the product leaves int64.
int64_t elements(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

std::vector<int64_t> contiguous(const std::vector<int64_t> &dims) {
  std::vector<int64_t> s(dims.size());
  uint64_t running = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    s[i] = static_cast<int64_t>(running);
    running *= static_cast<uint64_t>(dims[i]);
  }
  return s;
}

int32_t any_dtype(fuzz::Input &in) {
  static constexpr int32_t kTypes[] = {kInt32,    kInt4,           ACL_INT8,   ACL_UINT8,
                                       ACL_FLOAT, ACL_INT64,       ACL_UINT32, ACL_DT_UNDEFINED,
                                       ACL_UINT1, ACL_FLOAT4_E2M1, ACL_STRING};
  const uint8_t k = in.u8();
  switch (k % 4) {
    case 0:
    case 1:
      return kTypes[(k / 4) % (sizeof(kTypes) / sizeof(kTypes[0]))];
    case 2:
      return static_cast<int32_t>(in.u8() % 128) - 64;  // every value the enum's range holds
    default:
      return any_int_enum(in);  // a C caller may pass any int
  }
}

int32_t any_format(fuzz::Input &in) {
  static constexpr int32_t kFormats[] = {
      kNd, kNz, ACL_FORMAT_NCHW, ACL_FORMAT_UNDEFINED, ACL_FORMAT_FRACTAL_NZ_C0_16, ACL_FORMAT_NC1HWC0, ACL_FORMAT_NCL};
  const uint8_t k = in.u8();
  switch (k % 4) {
    case 0:
    case 1:
      return kFormats[(k / 4) % (sizeof(kFormats) / sizeof(kFormats[0]))];
    case 2:
      return static_cast<int32_t>(in.u8() % 128) - 64;
    default:
      return any_int_enum(in);
  }
}

std::vector<int64_t> any_dims(fuzz::Input &in) {
  std::vector<int64_t> d(in.u8() % 7);
  for (auto &v : d) v = in.interesting_i64();
  return d;
}

Desc raw_desc(fuzz::Input &in) {
  Desc d;
  const uint8_t f = in.u8();
  d.null_tensor = (f & 0x7) == 0;
  d.null_view = (f & 0x18) == 0x18;
  d.null_strides = (f & 0x20) == 0;
  d.null_storage = (f & 0xC0) == 0xC0;
  d.null_data = in.u8() % 16 == 0;
  d.view = any_dims(in);
  d.strides.resize(d.view.size());
  for (auto &s : d.strides) s = in.interesting_i64();
  d.offset = in.interesting_i64();
  d.dtype = any_dtype(in);
  d.format = any_format(in);
  d.storage = in.u8() % 2 ? d.view : any_dims(in);
  return d;
}

// A pair the documented rules accept: carrier (dim0, dim1), or a (g, dim0, dim1) stack, INT32 ND; packed
// INT4/INT32, ND/NZ.
void valid_pair(fuzz::Input &in, Desc *carrier, Desc *packed) {
  const uint8_t f = in.u8();
  const bool int4_out = f & 1;
  const bool nz = f & 2;
  const int64_t dim0 = 1 + in.u8() % 40;
  const int64_t dim1 = (int4_out ? 2 : 8) * (1 + in.u8() % (int4_out ? 80 : 20));
  const uint8_t stack = in.u8();
  const int64_t groups = stack % 4 == 3 ? 1 + (stack / 4) % 3 : 0;  // 0: a plain matrix
  const int64_t values = std::max<int64_t>(groups, 1) * dim0 * dim1;
  carrier->view = {dim0, dim1};
  carrier->dtype = kInt32;
  carrier->format = kNd;
  carrier->offset = (f & 4) ? in.u8() % 9 : 0;
  carrier->storage = (f & 8) ? std::vector<int64_t>{carrier->offset + values}
                             : std::vector<int64_t>{values / dim1 + (carrier->offset + dim1 - 1) / dim1, dim1};
  packed->dtype = int4_out ? kInt4 : kInt32;
  packed->format = nz ? kNz : kNd;
  packed->view = {dim0, int4_out ? dim1 : dim1 / 8};
  if (nz) {
    const auto s = int4pack::nz_storage_shape(MatrixShape{dim0, dim1}, int4_out ? 1 : 8);
    packed->storage.assign(s.begin(), s.end());
    if (groups > 0) packed->storage.insert(packed->storage.begin(), groups);
  } else {
    packed->offset = (f & 32) ? 2 * (in.u8() % 9) : 0;
    const int64_t cols = packed->view[1];
    const int64_t elems = values / dim1 * cols;
    packed->storage = (f & 64) ? std::vector<int64_t>{packed->offset + elems}
                               : std::vector<int64_t>{elems / cols + (packed->offset + cols - 1) / cols, cols};
  }
  if (groups > 0) {
    carrier->view.insert(carrier->view.begin(), groups);
    packed->view.insert(packed->view.begin(), groups);
  }
  if (f & 16) {
    carrier->null_strides = false;
    carrier->strides = contiguous(carrier->view);
  }
  if (f & 128) {
    packed->null_strides = false;
    packed->strides = contiguous(packed->view);
  }
}

void mutate(fuzz::Input &in, Desc *d) {
  const uint8_t what = in.u8();
  const size_t i = in.u8();
  switch (what % 12) {
    case 0:
      if (!d->view.empty()) d->view[i % d->view.size()] = in.interesting_i64();
      break;
    case 1:
      d->null_strides = false;
      if (d->strides.size() != d->view.size()) d->strides = contiguous(d->view);
      if (!d->strides.empty()) d->strides[i % d->strides.size()] = in.interesting_i64();
      break;
    case 2:
      d->offset = in.interesting_i64();
      break;
    case 3:
      d->dtype = any_dtype(in);
      break;
    case 4:
      d->format = any_format(in);
      break;
    case 5:
      if (!d->storage.empty()) d->storage[i % d->storage.size()] = in.interesting_i64();
      break;
    case 6:
      d->view.resize(i % 7, in.interesting_i64());
      if (!d->null_strides) d->strides.resize(d->view.size(), 1);
      break;
    case 7:
      d->storage.resize(i % 7, in.interesting_i64());
      break;
    case 8:
      d->null_tensor = i % 4 == 0;
      d->null_data = i % 4 == 1;
      d->null_view = i % 4 == 2;
      d->null_storage = i % 4 == 3;
      break;
    case 9:  // the view one element larger than the storage holds
      if (!d->view.empty())
        d->view[i % d->view.size()] = static_cast<int64_t>(static_cast<uint64_t>(d->view[i % d->view.size()]) + 1);
      break;
    case 10:
      if (!d->storage.empty())
        d->storage[i % d->storage.size()] =
            static_cast<int64_t>(static_cast<uint64_t>(d->storage[i % d->storage.size()]) - 1);
      break;
    default:
      d->storage = d->view;
      break;
  }
}

// Bytes the storage shape declares for its dtype, or -1 when it declares no valid size.
int64_t storage_bytes(const Desc &d) {
  const int64_t n = elements(d.storage);
  if (n < 0) return -1;
  if (d.dtype == kInt4) return n / 2 + n % 2;
  const int64_t width = d.dtype == kInt32 ? 4 : 8;  // unknown dtypes: the widest, never under-allocate
  return n > INT64_MAX / width ? -1 : n * width;
}

// The documented rules of both operators (headers and README), written independently of the library.
bool documented_valid(const Desc &c, const Desc &p) {
  if (c.null_tensor || p.null_tensor || c.null_data || p.null_data) return false;
  for (const Desc *d : {&c, &p}) {
    if ((d->null_view && !d->view.empty()) || (d->null_storage && !d->storage.empty())) return false;
  }
  const size_t rank = c.view.size();
  if (c.dtype != kInt32 || c.format != kNd || (rank != 2 && rank != 3)) return false;
  if (p.dtype != kInt4 && p.dtype != kInt32) return false;
  if (p.format != kNd && p.format != kNz) return false;
  const bool int4_out = p.dtype == kInt4;
  const int64_t groups = rank == 3 ? c.view[0] : 1;
  const int64_t dim0 = c.view[rank - 2];
  const int64_t dim1 = c.view[rank - 1];
  if (groups <= 0 || dim0 <= 0 || dim1 <= 0 || dim1 % (int4_out ? 2 : 8) != 0) return false;
  std::vector<int64_t> packed_view{dim0, int4_out ? dim1 : dim1 / 8};
  if (rank == 3) packed_view.insert(packed_view.begin(), groups);
  if (p.view != packed_view) return false;
  int64_t product;
  if (__builtin_mul_overflow(dim0, dim1, &product) || __builtin_mul_overflow(product, groups, &product)) return false;
  // Contiguity of the origin-format (ND) tensors: strides of dims other than 1 are row-major.
  for (const Desc *d : {&c, &p}) {
    if (d->format != kNd || d->null_strides || d->strides.size() != d->view.size()) continue;
    const auto expect = contiguous(d->view);
    for (size_t i = 0; i < d->view.size(); ++i) {
      if (d->view[i] != 1 && d->strides[i] != expect[i]) return false;
    }
  }
  if (p.format == kNz) {
    const auto s = int4pack::nz_storage_shape(MatrixShape{dim0, dim1}, int4_out ? 1 : 8);
    std::vector<int64_t> storage(s.begin(), s.end());
    if (rank == 3) storage.insert(storage.begin(), groups);
    if (p.storage != storage || p.offset != 0) return false;
  }
  for (const Desc *d : {&c, &p}) {
    if (d->offset < 0) return false;
    if (d->format == kNz) continue;
    if (d->dtype == kInt4 && d->offset % 2 != 0) return false;
    const int64_t storage = elements(d->storage);
    const int64_t view = elements(d->view);
    if (storage < 0 || view < 0 || d->offset > storage || storage - d->offset < view) return false;
  }
  // A storage whose byte size int64 cannot hold describes no memory (we passed a dummy buffer for it).
  return storage_bytes(c) >= 0 && storage_bytes(p) >= 0;
}

struct Buffer {
  std::vector<uint8_t> copy;  // what it held before the call
  uint8_t *data = nullptr;
  size_t bytes = 0;
  ~Buffer() { std::free(data); }
};

// Allocates exactly the declared storage (or nothing, leaving the data pointer NULL).
void allocate(const Desc &d, Buffer *b, uint64_t &seed, bool random_fill) {
  if (d.null_data || d.null_tensor) return;
  int64_t bytes = storage_bytes(d);
  if (bytes > static_cast<int64_t>(kMaxBuffer)) return;  // too large to provide: NULL
  if (bytes < 0) bytes = 16;  // no valid size: a small real buffer; phase 1 must not trust the shape
  b->bytes = static_cast<size_t>(bytes);
  b->data = static_cast<uint8_t *>(std::malloc(b->bytes == 0 ? 1 : b->bytes));
  if (b->data == nullptr) std::abort();
  for (size_t i = 0; i < b->bytes; ++i) {
    b->data[i] = random_fill ? static_cast<uint8_t>(fuzz::mix(seed)) : kSentinel;
  }
  b->copy.assign(b->data, b->data + b->bytes);
}

aclTensor *create(const Desc &d, void *data) {
  if (d.null_tensor) return nullptr;
  const bool strides_given = !d.null_strides && d.strides.size() == d.view.size();
  aclTensor *t =
      aclCreateTensor(d.null_view ? nullptr : d.view.data(), d.view.size(), static_cast<aclDataType>(d.dtype),
                      strides_given ? d.strides.data() : nullptr, d.offset, static_cast<aclFormat>(d.format),
                      d.null_storage ? nullptr : d.storage.data(), d.storage.size(), data);
  const bool must_refuse = (d.null_view && !d.view.empty()) || (d.null_storage && !d.storage.empty()) ||
                           d.view.size() > 64 || d.storage.size() > 64;
  if (must_refuse != (t == nullptr)) {
    fuzz::finding("aclCreateTensor %s a descriptor it must %s", t ? "accepted" : "refused",
                  must_refuse ? "refuse" : "accept");
  }
  return t;
}

std::string text(const Desc &d) {
  std::string s = d.null_tensor ? "NULL tensor" : "";
  auto dims = [](const std::vector<int64_t> &v) {
    std::string r = "(";
    for (size_t i = 0; i < v.size(); ++i) r += (i ? "," : "") + std::to_string(v[i]);
    return r + ")";
  };
  s += " view" + dims(d.view) + (d.null_view ? "[NULL]" : "") + " strides" +
       (d.null_strides ? std::string("NULL") : dims(d.strides)) + " offset " + std::to_string(d.offset) + " dtype " +
       std::to_string(d.dtype) + " format " + std::to_string(d.format) + " storage" + dims(d.storage) +
       (d.null_storage ? "[NULL]" : "") + (d.null_data ? " data NULL" : "");
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  g_stream = fuzz::open_stream();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
  fuzz::Input in(input, size);
  const uint8_t mode = in.u8();
  const bool unpack = mode & 1;
  uint64_t seed = in.u64();
  Desc carrier;
  Desc packed;
  if (mode & 2) {
    carrier = raw_desc(in);
    packed = raw_desc(in);
  } else {
    valid_pair(in, &carrier, &packed);
    for (int n = (mode >> 2) % 4; n > 0; --n) mutate(in, in.u8() % 2 ? &packed : &carrier);
  }

  // Buffers before phase 1: the input filled with data, the output with a sentinel.
  Buffer carrier_buf;
  Buffer packed_buf;
  allocate(carrier, &carrier_buf, seed, !unpack);
  allocate(packed, &packed_buf, seed, unpack);
  aclTensor *ct = create(carrier, carrier_buf.data);
  aclTensor *pt = create(packed, packed_buf.data);

  uint64_t workspace = 12345;
  aclOpExecutor *executor = nullptr;
  aclGetRecentErrMsg();  // clear
  const aclnnStatus status = unpack ? aclnnInt4PackToWeightGetWorkspaceSize(pt, ct, &workspace, &executor)
                                    : aclnnConvertWeightToINT4PackGetWorkspaceSize(ct, pt, &workspace, &executor);
  const char *op = unpack ? "aclnnInt4PackToWeight" : "aclnnConvertWeightToINT4Pack";
  const bool real = ct != nullptr && pt != nullptr && carrier_buf.data != nullptr && packed_buf.data != nullptr;
  const bool valid = real && documented_valid(carrier, packed);

  if (status != ACLNN_SUCCESS) {
    if (status != ACLNN_ERR_PARAM_NULLPTR && status != ACLNN_ERR_PARAM_INVALID &&
        status != ACLNN_ERR_INNER_FIND_KERNEL_ERROR) {
      fuzz::finding("%s phase 1 returned undocumented status %d\ncarrier:%s\npacked:%s", op, status,
                    text(carrier).c_str(), text(packed).c_str());
    }
    const char *msg = aclGetRecentErrMsg();
    if (msg == nullptr || *msg == '\0') fuzz::finding("%s phase 1 failed (%d) without a message", op, status);
    if (valid && status != ACLNN_ERR_INNER_FIND_KERNEL_ERROR) {
      fuzz::finding("%s phase 1 refused a documented-valid pair (%d: %s)\ncarrier:%s\npacked:%s", op, status, msg,
                    text(carrier).c_str(), text(packed).c_str());
    }
  } else {
    if (!valid) {
      fuzz::finding("%s phase 1 accepted a pair the documented rules refuse\ncarrier:%s\npacked:%s", op,
                    text(carrier).c_str(), text(packed).c_str());
    }
    if (executor == nullptr || workspace != 0) {
      fuzz::finding("%s phase 1 succeeded with executor %p, workspace %llu", op, static_cast<void *>(executor),
                    static_cast<unsigned long long>(workspace));
    }
    const aclnnStatus run = unpack ? aclnnInt4PackToWeight(nullptr, 0, executor, g_stream)
                                   : aclnnConvertWeightToINT4Pack(nullptr, 0, executor, g_stream);
    if (run != ACLNN_SUCCESS) fuzz::finding("%s phase 2 returned %d: %s", op, run, aclGetRecentErrMsg());
    if (aclrtSynchronizeStream(g_stream) != ACL_SUCCESS) {
      fuzz::finding("aclrtSynchronizeStream failed: %s", aclGetRecentErrMsg());
    }

    // Where the operator must have read and written, from the descriptors alone: a stack is its matrices
    // one after another, each packed in its own blocks.
    const size_t rank = carrier.view.size();
    const int64_t groups = rank == 3 ? carrier.view[0] : 1;
    const MatrixShape shape{carrier.view[rank - 2], carrier.view[rank - 1]};
    const PackedLayout layout = packed.format == kNz ? PackedLayout::kNz : PackedLayout::kNd;
    const size_t packed_off = static_cast<size_t>(packed.dtype == kInt4 ? packed.offset / 2 : packed.offset * 4);
    const size_t carrier_off = static_cast<size_t>(carrier.offset) * 4;
    const size_t matrix_pbytes = int4pack::packed_bytes(shape, layout);
    const size_t matrix_cbytes = static_cast<size_t>(shape.rows * shape.cols) * 4;
    const size_t pbytes = matrix_pbytes * static_cast<size_t>(groups);
    const size_t cbytes = matrix_cbytes * static_cast<size_t>(groups);
    if (packed_off + pbytes > packed_buf.bytes || carrier_off + cbytes > carrier_buf.bytes) {
      fuzz::finding("%s: accepted descriptors whose storage does not hold the work\ncarrier:%s\npacked:%s", op,
                    text(carrier).c_str(), text(packed).c_str());
    }
    Buffer &in_buf = unpack ? packed_buf : carrier_buf;
    Buffer &out_buf = unpack ? carrier_buf : packed_buf;
    const size_t out_off = unpack ? carrier_off : packed_off;
    const size_t out_bytes = unpack ? cbytes : pbytes;
    if (std::memcmp(in_buf.data, in_buf.copy.data(), in_buf.bytes) != 0) fuzz::finding("%s modified its input", op);
    std::vector<uint8_t> expected(out_buf.copy);
    for (int64_t g = 0; g < groups; ++g) {
      const size_t pat = packed_off + static_cast<size_t>(g) * matrix_pbytes;
      const size_t cat = carrier_off + static_cast<size_t>(g) * matrix_cbytes;
      // Byte vectors are unaligned for int32: the reference gets an aligned copy of the values.
      std::vector<int32_t> values(static_cast<size_t>(shape.rows * shape.cols));
      if (unpack) {
        int4pack::reference::unpack(packed_buf.copy.data() + pat, shape, layout, values.data());
        std::memcpy(expected.data() + cat, values.data(), matrix_cbytes);
      } else {
        std::memcpy(values.data(), carrier_buf.copy.data() + cat, matrix_cbytes);
        int4pack::reference::pack(values.data(), shape, layout, expected.data() + pat);
      }
    }
    if (std::memcmp(out_buf.data, expected.data(), out_buf.bytes) != 0) {
      size_t first = 0;
      while (out_buf.data[first] == expected[first]) ++first;
      fuzz::finding(
          "%s %lld x %lld %s: output byte %zu of %zu is 0x%02x, expected 0x%02x (%s; region [%zu, %zu))\n"
          "carrier:%s\npacked:%s",
          op, static_cast<long long>(shape.rows), static_cast<long long>(shape.cols),
          layout == PackedLayout::kNz ? "NZ" : "ND", first, out_buf.bytes, out_buf.data[first], expected[first],
          first >= out_off && first < out_off + out_bytes ? "inside the output" : "OUTSIDE the output", out_off,
          out_off + out_bytes, text(carrier).c_str(), text(packed).c_str());
    }
  }
  if (aclDestroyTensor(ct) != ACLNN_SUCCESS || aclDestroyTensor(pt) != ACLNN_SUCCESS) {
    fuzz::finding("aclDestroyTensor refused a live tensor");
  }
  return 0;
}
