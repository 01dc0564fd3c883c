// fuzz_consumers: hostile descriptors through the consumer operators, aclnnWeightQuantBatchMatmulV2 and
// aclnnCast.
//
// Each input builds a valid call from its bytes (shapes, dtypes, layouts, transpositions, antiquant modes,
// optional operands for the matmul; ranks, dims, dtypes and strides for the cast), then mutates up to three
// descriptor fields (dims, strides, offsets, dtypes, formats, storage shapes, NULL tensors and data). Buffers
// are exactly as large as each storage shape declares, so ASan sees any access past them.
//
// Acceptable: phase 1 fails with a documented status (161001, 161002, 561003) and a message; or it
// succeeds, and after phase 2 the output holds the right result, read back from the descriptors by their
// documented meaning (independently of the library): the cast bit for bit as tests/reference/cast_reference
// converts each element, the matmul within tests/reference's golden bound, and nothing outside the
// output's view changed. An unmutated valid call that phase 1 refuses is a finding.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "aclnnop/aclnn_cast.h"
#include "aclnnop/aclnn_weight_quant_batch_matmul_v2.h"
#include "cast_reference.h"
#include "core/floats.h"
#include "core/layout.h"
#include "fuzz_acl.h"
#include "fuzz_common.h"
#include "kernels/reference.h"
#include "matmul_reference.h"

namespace {

namespace ref = int4pack::reference;

constexpr uint64_t kMaxBuffer = uint64_t{1} << 20;
aclrtStream g_stream = nullptr;

struct Desc {
  bool present = true;
  std::vector<int64_t> view, strides, storage;
  int64_t offset = 0;
  int32_t dtype = ACL_FLOAT16;
  int32_t format = ACL_FORMAT_ND;
  bool null_data = false;
};

std::vector<int64_t> row_major(const std::vector<int64_t> &dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

int64_t elements(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

// Bytes per element as the fuzzer allocates them (sub-byte INT4 as half a byte; unknown dtypes the widest).
double width(int32_t dtype) {
  if (dtype == ACL_INT4) return 0.5;
  const size_t w = aclDataTypeSize(static_cast<aclDataType>(dtype));
  return w == 0 ? 16.0 : static_cast<double>(w);
}

struct Buffer {
  uint8_t *data = nullptr;
  size_t bytes = 0;
  std::vector<uint8_t> copy;
  Buffer() = default;
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  ~Buffer() { std::free(data); }
};

// Exactly the declared storage, filled with `bytes` (cycled) or left NULL when there is none to give.
void allocate(const Desc &d, const std::vector<uint8_t> &fill, Buffer *b) {
  if (!d.present || d.null_data) return;
  const int64_t n = elements(d.storage);
  if (n < 0 || static_cast<double>(n) * width(d.dtype) > static_cast<double>(kMaxBuffer)) return;
  b->bytes = static_cast<size_t>(std::ceil(static_cast<double>(n) * width(d.dtype)));
  b->data = static_cast<uint8_t *>(std::malloc(b->bytes == 0 ? 1 : b->bytes));
  if (b->data == nullptr) std::abort();
  for (size_t i = 0; i < b->bytes; ++i) b->data[i] = fill.empty() ? 0xA5 : fill[i % fill.size()];
  b->copy.assign(b->data, b->data + b->bytes);
}

struct Built {
  aclTensor *tensor = nullptr;
  ~Built() {
    if (tensor != nullptr) aclDestroyTensor(tensor);
  }
};

void build(const Desc &d, void *data, Built *out) {
  if (!d.present) return;
  out->tensor = aclCreateTensor(d.view.data(), d.view.size(), static_cast<aclDataType>(d.dtype),
                                d.strides.size() == d.view.size() ? d.strides.data() : nullptr, d.offset,
                                static_cast<aclFormat>(d.format), d.storage.data(), d.storage.size(), data);
  if (out->tensor == nullptr && d.view.size() <= 64 && d.storage.size() <= 64) fuzz::finding("aclCreateTensor refused");
}

void mutate(fuzz::Input &in, Desc *d) {
  const uint8_t what = in.u8();
  const size_t i = in.u8();
  switch (what % 11) {
    case 0:
      if (!d->view.empty()) d->view[i % d->view.size()] = in.interesting_i64();
      break;
    case 1:
      if (d->strides.size() != d->view.size()) d->strides = row_major(d->view);
      if (!d->strides.empty()) d->strides[i % d->strides.size()] = in.interesting_i64();
      break;
    case 2:
      d->offset = in.interesting_i64();
      break;
    case 3:
      d->dtype = static_cast<int32_t>(in.u8() % 48) - 2;
      break;
    case 4:
      d->format = in.u8() % 2 ? ACL_FORMAT_NCHW : static_cast<int32_t>(in.u8() % 60) - 1;
      break;
    case 5:
      if (!d->storage.empty()) d->storage[i % d->storage.size()] = in.interesting_i64();
      break;
    case 6:
      d->view.resize(i % 5, 1 + in.u8() % 4);
      break;
    case 7:
      d->present = false;
      break;
    case 8:
      d->null_data = true;
      break;
    case 9:  // swap the last two strides: a transposed view of the same storage
      if (d->strides.size() != d->view.size()) d->strides = row_major(d->view);
      if (d->view.size() >= 2) std::swap(d->strides[d->strides.size() - 1], d->strides[d->strides.size() - 2]);
      break;
    default:
      d->storage = d->view;
      break;
  }
}

void check_refusal(const char *op, aclnnStatus status, bool must_accept) {
  if (status != ACLNN_ERR_PARAM_NULLPTR && status != ACLNN_ERR_PARAM_INVALID &&
      status != ACLNN_ERR_INNER_FIND_KERNEL_ERROR) {
    fuzz::finding("%s phase 1 returned undocumented status %d", op, status);
  }
  const char *msg = aclGetRecentErrMsg();
  if (msg == nullptr || *msg == '\0') fuzz::finding("%s phase 1 failed (%d) without a message", op, status);
  if (must_accept && status != ACLNN_ERR_INNER_FIND_KERNEL_ERROR) fuzz::finding("%s refused a valid call: %s", op, msg);
}

void run_phase2(const char *op, aclnnStatus (*phase2)(void *, uint64_t, aclOpExecutor *, aclrtStream),
                aclOpExecutor *executor, uint64_t workspace) {
  void *ws = nullptr;
  if (workspace > 0 && aclrtMalloc(&ws, workspace, ACL_MEM_MALLOC_NORMAL_ONLY) != ACL_SUCCESS)
    fuzz::finding("workspace");
  const aclnnStatus run = phase2(ws, workspace, executor, g_stream);
  if (run != ACLNN_SUCCESS) fuzz::finding("%s phase 2 returned %d: %s", op, run, aclGetRecentErrMsg());
  if (aclrtSynchronizeStream(g_stream) != ACL_SUCCESS)
    fuzz::finding("%s: synchronize failed: %s", op, aclGetRecentErrMsg());
  if (ws != nullptr) aclrtFree(ws);
}

// Element index (in elements from the data pointer) of a view position, or -1 outside the buffer.
int64_t position(const Desc &d, const std::vector<int64_t> &index, const Buffer &b) {
  __int128 at = d.offset;
  for (size_t i = 0; i < index.size(); ++i) at += static_cast<__int128>(index[i]) * d.strides[i];
  const double w = width(d.dtype);
  if (at < 0 || static_cast<double>(at + 1) * w > static_cast<double>(b.bytes)) return -1;
  return static_cast<int64_t>(at);
}

bool next(std::vector<int64_t> &index, const std::vector<int64_t> &shape) {
  for (size_t d = index.size(); d-- > 0;) {
    if (++index[d] < shape[d]) return true;
    index[d] = 0;
  }
  return false;
}

// ---- aclnnCast

const int32_t kCastTypes[] = {ACL_FLOAT16, ACL_FLOAT, ACL_DOUBLE, ACL_INT8,      ACL_UINT8,
                              ACL_INT16,   ACL_INT32, ACL_INT64,  ACL_UINT16,    ACL_UINT32,
                              ACL_UINT64,  ACL_BOOL,  ACL_BF16,   ACL_COMPLEX64, ACL_COMPLEX128};

bool cast_type(int32_t t) {
  for (int32_t c : kCastTypes) {
    if (c == t) return true;
  }
  return false;
}

void fuzz_cast(fuzz::Input &in) {
  Desc self, out;
  const size_t rank = in.u8() % 5;
  for (size_t i = 0; i < rank; ++i) self.view.push_back(in.u8() % 6);
  self.dtype = kCastTypes[in.u8() % 15];
  out.dtype = kCastTypes[in.u8() % 15];
  const int32_t dtype_arg = out.dtype;
  self.strides = row_major(self.view);
  self.storage = self.view;
  const uint8_t layout = in.u8();
  if ((layout & 1) && rank >= 2) {  // self a transposed view over its storage
    std::swap(self.view[rank - 1], self.view[rank - 2]);
    std::swap(self.strides[rank - 1], self.strides[rank - 2]);
  }
  if (layout & 2) {  // self at an offset in a larger storage
    self.offset = 1 + in.u8() % 5;
    self.storage = {std::max<int64_t>(elements(self.view), 1) + self.offset};
  }
  out.view = self.view;
  out.strides = row_major(out.view);
  out.storage = out.view;
  const int mutations = in.u8() % 4;
  for (int m = 0; m < mutations; ++m) mutate(in, in.u8() % 2 ? &self : &out);
  std::vector<uint8_t> fill;
  while (in.remaining() > 0 && fill.size() < 256) fill.push_back(in.u8());
  Buffer sb, ob;
  allocate(self, fill, &sb);
  allocate(out, {}, &ob);
  Built st, ot;
  build(self, sb.data, &st);
  build(out, ob.data, &ot);
  uint64_t workspace = 99;
  aclOpExecutor *executor = nullptr;
  aclGetRecentErrMsg();
  const aclnnStatus status =
      aclnnCastGetWorkspaceSize(st.tensor, static_cast<aclDataType>(dtype_arg), ot.tensor, &workspace, &executor);
  const bool real = st.tensor != nullptr && ot.tensor != nullptr && (sb.data != nullptr || elements(self.view) == 0);
  if (status != ACLNN_SUCCESS) {
    check_refusal("aclnnCast", status, mutations == 0 && real);
    return;
  }
  // Accepted: the documented rules must hold.
  if (!cast_type(self.dtype) || out.dtype != dtype_arg || self.view != out.view || self.view.size() > 8) {
    fuzz::finding("aclnnCast accepted dtypes %d -> %d (out %d) or shapes that differ", self.dtype, dtype_arg,
                  out.dtype);
  }
  run_phase2("aclnnCast", aclnnCast, executor, workspace);
  if (elements(self.view) == 0) return;
  if (self.strides.size() != self.view.size()) self.strides = row_major(self.view);
  if (out.strides.size() != out.view.size()) out.strides = row_major(out.view);
  std::vector<uint8_t> expected = ob.copy;
  std::vector<bool> written(ob.bytes, false);
  bool overlapping = false;
  std::vector<int64_t> index(self.view.size(), 0);
  const size_t in_w = ref::cast_element_bytes(static_cast<aclDataType>(self.dtype));
  const size_t out_w = ref::cast_element_bytes(static_cast<aclDataType>(out.dtype));
  do {
    const int64_t from = position(self, index, sb);
    const int64_t to = position(out, index, ob);
    if (from < 0 || to < 0) fuzz::finding("aclnnCast accepted a view reaching outside its storage");
    const size_t at = static_cast<size_t>(to) * out_w;
    if (written[at]) overlapping = true;
    written[at] = true;
    ref::cast_element(sb.copy.data() + static_cast<size_t>(from) * in_w, static_cast<aclDataType>(self.dtype),
                      expected.data() + at, static_cast<aclDataType>(out.dtype));
  } while (next(index, self.view));
  if (std::memcmp(sb.data, sb.copy.data(), sb.bytes) != 0) fuzz::finding("aclnnCast modified self");
  if (!overlapping && std::memcmp(ob.data, expected.data(), ob.bytes) != 0) {
    size_t first = 0;
    while (ob.data[first] == expected[first]) ++first;
    fuzz::finding("aclnnCast %d -> %d: out byte %zu is 0x%02x, the reference gives 0x%02x", self.dtype, out.dtype,
                  first, ob.data[first], expected[first]);
  }
}

// ---- aclnnWeightQuantBatchMatmulV2

struct Matmul {
  Desc x, weight, scale, offset, quant_scale, quant_offset, bias, y;
  int group = 0;
};

uint16_t bits_of(float v, bool bf16) { return bf16 ? int4pack::float_to_bfloat16(v) : int4pack::float_to_half(v); }

void put_floats(std::vector<uint8_t> &b, const std::vector<float> &v, int32_t dtype) {
  for (float f : v) {
    if (dtype == ACL_FLOAT) {
      const uint32_t u = int4pack::float_bits(f);
      for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(u >> (8 * i)));
    } else if (dtype == ACL_UINT64 || dtype == ACL_INT64) {
      const uint64_t u = int4pack::float_bits(f) | (uint64_t{1} << 46);
      for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(u >> (8 * i)));
    } else if (dtype == ACL_INT32) {
      const int32_t u = static_cast<int32_t>(f);
      for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(static_cast<uint32_t>(u) >> (8 * i)));
    } else {
      const uint16_t h = bits_of(f, dtype == ACL_BF16);
      b.push_back(static_cast<uint8_t>(h));
      b.push_back(static_cast<uint8_t>(h >> 8));
    }
  }
}

// The float value of element `at` (elements from the data pointer) of a float16 / bfloat16 / float / int32
// operand, or of a packed-scale word.
float read_float(const Buffer &b, int32_t dtype, int64_t at) {
  const uint8_t *p = b.data + static_cast<size_t>(at) * static_cast<size_t>(width(dtype));
  switch (dtype) {
    case ACL_FLOAT16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return int4pack::half_to_float(h);
    }
    case ACL_BF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return int4pack::bfloat16_to_float(h);
    }
    case ACL_FLOAT: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case ACL_INT32: {
      int32_t i;
      std::memcpy(&i, p, 4);
      return static_cast<float>(i);
    }
    default: {
      uint64_t w;
      std::memcpy(&w, p, 8);
      return int4pack::bits_float(static_cast<uint32_t>(w) & 0xFFFFE000u);
    }
  }
}

// A valid call's descriptors and bytes, drawn from the input, with the golden operands behind them.
void valid_matmul(fuzz::Input &in, Matmul *c, std::vector<std::vector<uint8_t>> *bytes) {
  const uint8_t f = in.u8();
  const bool bf16 = f & 1;
  const int wtype = (f >> 1) % 3;  // 0 INT4, 1 INT32, 2 INT8
  const bool nz = f & 8;
  const bool wt = (f & 16) != 0;
  const bool xt = (f & 32) != 0 && !nz;
  const int mode = (f >> 6) % 3;  // 0 per-channel, 1 per-group, 2 per-tensor
  const uint8_t g = in.u8();
  const bool has_offset = g & 1, has_bias = g & 2, int8_out = (g & 4) && !(nz && wtype != 2);
  int64_t m = 1 + in.u8() % 20;
  int64_t k = 32 * (1 + in.u8() % 6) + (in.u8() % 2) * (wt ? 8 : 1);
  int64_t n = 8 * (1 + in.u8() % 12);
  int group = mode == 1 ? 32 * (1 + in.u8() % 3) : 0;
  if (nz && wtype != 2) {  // INT4 FRACTAL_NZ rules: per-channel transposed; per-group 64/128, aligned
    if (mode == 1) {
      group = 64;
      k = 128;
      n = 64 * (1 + in.u8() % 2);
    }
  }
  if (group >= k) group = 0;
  const bool per_group = group > 0;
  const bool weight_transposed = nz && wtype != 2 ? !per_group : wt;
  if (weight_transposed && wtype != 2) k -= k % 8;  // a transposed packed weight packs along k
  const int64_t rows = per_group ? (k + group - 1) / group : 1;
  const int64_t cols = mode == 2 && !(nz && wtype != 2) ? 1 : n;
  const int32_t xtype = bf16 ? ACL_BF16 : ACL_FLOAT16;
  uint64_t seed = in.u64();
  const auto unit = [&seed] { return static_cast<float>(fuzz::mix(seed) % 2001) / 1000.0f - 1.0f; };
  bytes->assign(8, {});
  // x (m, k), or stored (k, m) transposed.
  std::vector<float> xv;
  for (int64_t i = 0; i < m * k; ++i) xv.push_back(unit());
  c->x.view = {m, k};
  c->x.dtype = xtype;
  if (xt) {
    std::vector<float> t(xv.size());
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < k; ++j) t[static_cast<size_t>(j * m + i)] = xv[static_cast<size_t>(i * k + j)];
    }
    xv = t;
    c->x.strides = {1, m};
    c->x.storage = {k, m};
  } else {
    c->x.strides = row_major(c->x.view);
    c->x.storage = c->x.view;
  }
  put_floats((*bytes)[0], xv, xtype);
  // The weight: values in range, stored as the layout says.
  const bool int8 = wtype == 2;
  std::vector<int32_t> w;
  for (int64_t i = 0; i < k * n; ++i)
    w.push_back(static_cast<int32_t>(fuzz::mix(seed) % (int8 ? 256 : 16)) - (int8 ? 128 : 8));
  const int64_t sr = weight_transposed ? n : k, sc = weight_transposed ? k : n;
  std::vector<int32_t> stored(w.size());
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      stored[static_cast<size_t>(weight_transposed ? j * k + i : i * n + j)] = w[static_cast<size_t>(i * n + j)];
    }
  }
  Desc &wd = c->weight;
  wd.format = nz ? ACL_FORMAT_FRACTAL_NZ : ACL_FORMAT_ND;
  if (int8) {
    wd.dtype = ACL_INT8;
    if (nz) {
      const int64_t rb = (sr + 15) / 16, cb = (sc + 31) / 32;
      (*bytes)[1].assign(static_cast<size_t>(rb * cb * 512), 0);
      for (int64_t i = 0; i < sr; ++i) {
        for (int64_t j = 0; j < sc; ++j) {
          (*bytes)[1][static_cast<size_t>(((j / 32) * rb + i / 16) * 512 + (i % 16) * 32 + j % 32)] =
              static_cast<uint8_t>(stored[static_cast<size_t>(i * sc + j)]);
        }
      }
      wd.storage = {cb, rb, 16, 32};
    } else {
      for (int32_t v : stored) (*bytes)[1].push_back(static_cast<uint8_t>(v));
      wd.storage = {sr, sc};
    }
    wd.view = {k, n};
    wd.strides = weight_transposed ? std::vector<int64_t>{1, k} : std::vector<int64_t>{n, 1};
  } else {
    const auto layout = nz ? int4pack::PackedLayout::kNz : int4pack::PackedLayout::kNd;
    (*bytes)[1].assign(int4pack::packed_bytes({sr, sc}, layout), 0);
    ref::pack(stored.data(), {sr, sc}, layout, (*bytes)[1].data());
    const int v = wtype == 1 ? 8 : 1;
    wd.dtype = v == 8 ? ACL_INT32 : ACL_INT4;
    if (nz) {
      const auto s = int4pack::nz_storage_shape({sr, sc}, v);
      wd.storage.assign(s.begin(), s.end());
    } else {
      wd.storage = {sr, sc / v};
    }
    wd.view = weight_transposed ? std::vector<int64_t>{k / v, n} : std::vector<int64_t>{k, n / v};
    wd.strides = weight_transposed ? std::vector<int64_t>{1, k / v} : std::vector<int64_t>{n / v, 1};
  }
  // Scale and offset (rows, cols); bias; quant parameters; y.
  std::vector<float> sv, ov;
  for (int64_t i = 0; i < rows * cols; ++i) {
    sv.push_back(int4pack::round_to_half(0.001f + static_cast<float>(fuzz::mix(seed) % 100) / 5000.0f));
    ov.push_back(static_cast<float>(static_cast<int>(fuzz::mix(seed) % 9) - 4));
  }
  c->scale.view = {rows, cols};
  c->scale.dtype = xtype;
  c->scale.strides = row_major(c->scale.view);
  c->scale.storage = c->scale.view;
  put_floats((*bytes)[2], sv, xtype);
  c->offset = c->scale;
  c->offset.present = has_offset;
  put_floats((*bytes)[3], ov, xtype);
  c->group = group;
  c->bias.present = has_bias;
  c->bias.view = {1, n};
  c->bias.dtype = bf16 ? ACL_FLOAT : ACL_FLOAT16;
  c->bias.strides = row_major(c->bias.view);
  c->bias.storage = c->bias.view;
  std::vector<float> bv;
  for (int64_t j = 0; j < n; ++j) bv.push_back(int4pack::round_to_half(unit() * 0.5f));
  put_floats((*bytes)[6], bv, c->bias.dtype);
  c->quant_scale.present = int8_out;
  c->quant_offset.present = int8_out;
  c->quant_scale.view = c->quant_offset.view = {1, n};
  c->quant_scale.dtype = ACL_UINT64;
  c->quant_offset.dtype = ACL_FLOAT;
  c->quant_scale.strides = c->quant_offset.strides = row_major({1, n});
  c->quant_scale.storage = c->quant_offset.storage = {1, n};
  std::vector<float> qs, qo;
  for (int64_t j = 0; j < n; ++j) {
    qs.push_back(1.0f + static_cast<float>(fuzz::mix(seed) % 4));
    qo.push_back(static_cast<float>(static_cast<int>(fuzz::mix(seed) % 5) - 2));
  }
  put_floats((*bytes)[4], qs, ACL_UINT64);
  put_floats((*bytes)[5], qo, ACL_FLOAT);
  c->y.view = {m, n};
  c->y.dtype = int8_out ? ACL_INT8 : xtype;
  c->y.strides = row_major(c->y.view);
  c->y.storage = c->y.view;
}

// The golden operands read back from (possibly mutated) accepted descriptors by their documented meaning;
// false, with the reason, when the descriptors describe no matmul the documented rules accept.
bool read_back(const Matmul &c, const std::vector<Buffer *> &b, ref::GoldenMatmul *g, std::string *why) {
  const Desc &x = c.x, &w = c.weight, &s = c.scale, &y = c.y;
  if (x.view.size() != 2 || w.view.size() != 2 || y.view.size() != 2) return *why = "ranks", false;
  g->bf16 = x.dtype == ACL_BF16;
  if (!g->bf16 && x.dtype != ACL_FLOAT16) return *why = "x dtype", false;
  const bool wt =
      w.strides.size() == 2 && w.strides[0] == 1 && w.strides[1] == w.view[0] && !(w.view[0] == 1 && w.view[1] == 1);
  const bool words = w.dtype == ACL_INT32;
  g->m = x.view[0];
  g->k = words && wt ? w.view[0] * 8 : w.view[0];
  g->n = words && !wt ? w.view[1] * 8 : w.view[1];
  if (x.view[1] != g->k || y.view != std::vector<int64_t>{g->m, g->n}) return *why = "shapes", false;
  const bool int4 = w.dtype == ACL_INT4 || words;
  if (!int4 && w.dtype != ACL_INT8) return *why = "weight dtype", false;
  const bool nz = w.format == ACL_FORMAT_FRACTAL_NZ;
  const int64_t sr = wt ? g->n : g->k, sc = wt ? g->k : g->n;
  std::vector<int64_t> xi{0, 0};
  for (int64_t i = 0; i < g->m; ++i) {
    for (int64_t j = 0; j < g->k; ++j) {
      const int64_t at = position(x, {i, j}, *b[0]);
      if (at < 0) return *why = "x outside its storage", false;
      g->x.push_back(read_float(*b[0], x.dtype, at));
    }
  }
  for (int64_t i = 0; i < g->k; ++i) {
    for (int64_t j = 0; j < g->n; ++j) {
      const int64_t r = wt ? j : i, col = wt ? i : j;  // in the stored matrix
      size_t byte;
      if (int4) {
        byte = nz ? static_cast<size_t>(((col / 64) * ((sr + 15) / 16) + r / 16) * 512 + (r % 16) * 32 + (col % 64) / 2)
                  : static_cast<size_t>((r * sc + col) / 2 + (words ? w.offset * 4 : w.offset / 2));
      } else {
        byte = nz ? static_cast<size_t>(((col / 32) * ((sr + 15) / 16) + r / 16) * 512 + (r % 16) * 32 + col % 32)
                  : static_cast<size_t>(r * sc + col + w.offset);
      }
      if (byte >= b[1]->bytes) return *why = "weight outside its storage", false;
      const uint8_t v = b[1]->copy[byte];
      g->w.push_back(int4 ? ((col % 2 == 0 ? v & 0xF : v >> 4) ^ 8) - 8 : static_cast<int8_t>(v));
    }
  }
  g->packed_scale = s.dtype == ACL_UINT64 || s.dtype == ACL_INT64;
  g->group_size = c.group;
  g->scale_rows = s.view.size() == 2 ? s.view[0] : 1;
  g->scale_cols = s.view.back();
  for (int64_t i = 0; i < g->scale_rows; ++i) {
    for (int64_t j = 0; j < g->scale_cols; ++j) {
      const std::vector<int64_t> at_index = s.view.size() == 2 ? std::vector<int64_t>{i, j} : std::vector<int64_t>{j};
      const int64_t at = position(s, at_index, *b[2]);
      if (at < 0) return *why = "scale outside its storage", false;
      g->scale.push_back(g->packed_scale ? int4pack::round_to_half(read_float(*b[2], s.dtype, at))
                                         : read_float(*b[2], s.dtype, at));
      if (c.offset.present) {
        const int64_t o = position(c.offset, at_index, *b[3]);
        if (o < 0) return *why = "offset outside its storage", false;
        g->offset.push_back(read_float(*b[3], c.offset.dtype, o));
      }
    }
  }
  if (c.bias.present && elements(c.bias.view) > 0) {
    for (int64_t j = 0; j < g->n; ++j) {
      const int64_t at =
          position(c.bias, c.bias.view.size() == 2 ? std::vector<int64_t>{0, j} : std::vector<int64_t>{j}, *b[6]);
      if (at < 0) return *why = "bias outside its storage", false;
      g->bias.push_back(read_float(*b[6], c.bias.dtype, at));
    }
  }
  if (c.quant_scale.present) {
    const int64_t count = c.quant_scale.view.back();
    for (int64_t j = 0; j < count; ++j) {
      const std::vector<int64_t> at_index =
          c.quant_scale.view.size() == 2 ? std::vector<int64_t>{0, j} : std::vector<int64_t>{j};
      const int64_t at = position(c.quant_scale, at_index, *b[4]);
      if (at < 0) return *why = "quantScale outside its storage", false;
      if (width(c.quant_scale.dtype) != 8) return *why = "quantScale not 64-bit", false;
      g->quant_scale.push_back(read_float(*b[4], ACL_UINT64, at));
      const int64_t o = c.quant_offset.present ? position(c.quant_offset, at_index, *b[5]) : -2;
      if (o == -1) return *why = "quantOffset outside its storage", false;
      if (o >= 0 && c.quant_offset.dtype != ACL_FLOAT) return *why = "quantOffset not FLOAT", false;
      g->quant_offset.push_back(o >= 0 ? read_float(*b[5], ACL_FLOAT, o) : 0.0f);
    }
  }
  return true;
}

void fuzz_matmul(fuzz::Input &in) {
  Matmul c;
  std::vector<std::vector<uint8_t>> bytes;
  valid_matmul(in, &c, &bytes);
  Desc *all[8] = {&c.x, &c.weight, &c.scale, &c.offset, &c.quant_scale, &c.quant_offset, &c.bias, &c.y};
  const int mutations = in.u8() % 4;
  for (int m = 0; m < mutations; ++m) mutate(in, all[in.u8() % 8]);
  if (mutations > 0 && in.u8() % 8 == 0) c.group = static_cast<int>(in.interesting_i64());
  std::vector<std::unique_ptr<Buffer>> buffers;
  std::vector<Buffer *> b;
  Built built[8];
  for (int i = 0; i < 8; ++i) {
    buffers.push_back(std::make_unique<Buffer>());
    allocate(*all[i], i == 7 ? std::vector<uint8_t>{} : bytes[static_cast<size_t>(i)], buffers.back().get());
    b.push_back(buffers.back().get());
    build(*all[i], b[i]->data, &built[i]);
  }
  uint64_t workspace = 99;
  aclOpExecutor *executor = nullptr;
  aclGetRecentErrMsg();
  const aclnnStatus status = aclnnWeightQuantBatchMatmulV2GetWorkspaceSize(
      built[0].tensor, built[1].tensor, built[2].tensor, built[3].tensor, built[4].tensor, built[5].tensor,
      built[6].tensor, c.group, built[7].tensor, &workspace, &executor);
  if (status != ACLNN_SUCCESS) {
    check_refusal("aclnnWeightQuantBatchMatmulV2", status, mutations == 0);
    return;
  }
  ref::GoldenMatmul g;
  std::string why;
  for (Desc *d : all) {
    if (d->present && d->strides.size() != d->view.size()) d->strides = row_major(d->view);
  }
  if (!read_back(c, b, &g, &why))
    fuzz::finding("aclnnWeightQuantBatchMatmulV2 accepted a call that reads: %s", why.c_str());
  run_phase2("aclnnWeightQuantBatchMatmulV2", aclnnWeightQuantBatchMatmulV2, executor, workspace);
  for (int i = 0; i < 7; ++i) {
    if (b[i]->data != nullptr && std::memcmp(b[i]->data, b[i]->copy.data(), b[i]->bytes) != 0) {
      fuzz::finding("aclnnWeightQuantBatchMatmulV2 modified input %d", i);
    }
  }
  // y's storage outside its view keeps its bytes; inside, the golden result.
  std::vector<uint8_t> y(static_cast<size_t>(g.m * g.n) * (g.quant_scale.empty() ? 2 : 1));
  std::vector<bool> in_view(b[7]->bytes, false);
  const size_t yw = g.quant_scale.empty() ? 2 : 1;
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      const int64_t at = position(c.y, {i, j}, *b[7]);
      if (at < 0) fuzz::finding("aclnnWeightQuantBatchMatmulV2 accepted a y reaching outside its storage");
      std::memcpy(y.data() + static_cast<size_t>(i * g.n + j) * yw, b[7]->data + static_cast<size_t>(at) * yw, yw);
      for (size_t e = 0; e < yw; ++e) in_view[static_cast<size_t>(at) * yw + e] = true;
    }
  }
  for (size_t i = 0; i < b[7]->bytes; ++i) {
    if (!in_view[i] && b[7]->data[i] != b[7]->copy[i])
      fuzz::finding("aclnnWeightQuantBatchMatmulV2 wrote outside y's view");
  }
  if (!ref::within_golden_bound(g, y.data(), &why)) {
    fuzz::finding("aclnnWeightQuantBatchMatmulV2 %lld x %lld x %lld (%d mutations): %s", static_cast<long long>(g.m),
                  static_cast<long long>(g.k), static_cast<long long>(g.n), mutations, why.c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  g_stream = fuzz::open_stream();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Input in(data, size);
  if (in.u8() % 2 == 0) {
    fuzz_cast(in);
  } else {
    fuzz_matmul(in);
  }
  return 0;
}
