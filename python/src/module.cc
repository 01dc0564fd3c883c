// int4pack._int4pack: the Python door. numpy arrays in and out over the engine's checked C++ API
// (int4pack/engine.h, int4pack/matmul.h) and the checkpoint library; the pure-Python layer
// (python/int4pack/__init__.py) adds torch tensors and the torch_npu names. Arrays are read in place
// (strides included); the GIL is released while the engine works; every failure is a Python exception
// (ValueError, TypeError, OSError), never a crash.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sys/mman.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "checkpoint/convert.h"
#include "checkpoint/inspect.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/verify.h"
#include "int4pack/engine.h"
#include "int4pack/matmul.h"
#include "kernels/reference.h"

namespace py = pybind11;

namespace int4pack::python {
namespace {

// A Result as the exception Python callers expect: TypeError for dtypes, ValueError for the rest.
void raise_if_failed(const Result &r) {
  if (r.ok()) return;
  if (r.kind == ErrorKind::kType) throw py::type_error(r.message);
  if (r.kind == ErrorKind::kMemory) throw std::bad_alloc();
  throw py::value_error(r.message);
}

Layout layout_of(const std::string &format) {
  if (format == "nd") return Layout::kNd;
  if (format == "nz") return Layout::kNz;
  throw py::value_error("format must be \"nd\" or \"nz\", not \"" + format + "\"");
}

ElementType integer_type(const py::dtype &d) {
  const char kind = d.kind();
  const size_t size = static_cast<size_t>(d.itemsize());
  if (kind == 'i' && size == 1) return ElementType::kInt8;
  if (kind == 'i' && size == 2) return ElementType::kInt16;
  if (kind == 'i' && size == 4) return ElementType::kInt32;
  if (kind == 'u' && size == 1) return ElementType::kUint8;
  if (kind == 'u' && size == 2) return ElementType::kUint16;
  if (kind == 'u' && size == 4) return ElementType::kUint32;
  throw py::type_error("weight must be an int8, int16, int32, uint8, uint16 or uint32 array, not " +
                       std::string(py::str(static_cast<const py::handle &>(d))));
}

// The engine's view of a numpy array: its data, shape and strides in elements (in place, no copy).
Array view_of(const py::array &a, ElementType type) {
  Array v;
  v.data = a.data();
  v.type = type;
  const auto item = static_cast<int64_t>(a.itemsize());
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    v.shape.push_back(a.shape(i));
    if (a.strides(i) % item != 0) throw py::value_error("array strides must be whole elements");
    v.strides.push_back(a.strides(i) / item);
  }
  return v;
}

// Large arrays live in mappings of huge pages, populated in one system call (numpy's malloc hands out
// fresh 4 KiB pages, and faulting 29 MB in a page at a time costs as much as packing a 4096 x 14336
// weight). Freed mappings are kept, up to kPoolBytes, for the next array of the same size: packing a
// model layer by layer, or in a loop, then touches no fresh page at all.
struct Mapping {
  void *data;
  size_t bytes;
};
constexpr size_t kLargeArray = size_t{4} << 20;
constexpr size_t kPoolBytes = size_t{256} << 20;
std::mutex pool_mutex;
std::vector<Mapping> pool;  // freed mappings, ready to reuse
size_t pool_bytes = 0;

Mapping take_mapping(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    for (size_t i = 0; i < pool.size(); ++i) {
      if (pool[i].bytes == bytes) {
        const Mapping m = pool[i];
        pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(i));
        pool_bytes -= bytes;
        return m;
      }
    }
  }
  void *p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
  ::madvise(p, bytes, MADV_HUGEPAGE);
#endif
  ::madvise(p, bytes, 23);  // MADV_POPULATE_WRITE (Linux 5.14+; elsewhere the pages fault in as usual)
  return {p, bytes};
}

void give_back(void *m) {
  auto *mapping = static_cast<Mapping *>(m);
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (pool_bytes + mapping->bytes <= kPoolBytes) {
      pool.push_back(*mapping);
      pool_bytes += mapping->bytes;
      delete mapping;
      return;
    }
  }
  ::munmap(mapping->data, mapping->bytes);
  delete mapping;
}

// A new C-contiguous array of `dtype` and `shape`.
py::array new_array(const py::dtype &dtype, const std::vector<int64_t> &shape) {
  size_t bytes = static_cast<size_t>(dtype.itemsize());
  for (int64_t d : shape) bytes *= static_cast<size_t>(d);
  if (bytes < kLargeArray) return py::array(dtype, shape);
  auto *owner = new Mapping(take_mapping(bytes));
  return py::array(dtype, shape, {}, owner->data, py::capsule(owner, &give_back));
}

py::array pack(const py::array &weight, const std::string &format, const std::string &dtype, bool check) {
  const Layout layout = layout_of(format);
  if (dtype != "int4" && dtype != "int32")
    throw py::value_error("dtype must be \"int4\" or \"int32\", not \"" + dtype + "\"");
  if (weight.ndim() != 2 && weight.ndim() != 3) {
    throw py::value_error("weight must be 2-D (k, n) or 3-D (g, k, n), but it has " + std::to_string(weight.ndim()) +
                          " dims");
  }
  const Array view = view_of(weight, integer_type(weight.dtype()));
  size_t bytes = 0;
  raise_if_failed(packed_size(view.shape, layout, &bytes));
  const bool words = dtype == "int32";
  const std::vector<int64_t> storage = storage_shape(view.shape, layout, words ? 8 : 2);
  if (storage.empty()) {
    throw py::value_error("dtype=\"int32\" needs n to be a multiple of 8, but n = " +
                          std::to_string(view.shape.back()));
  }
  py::array out = new_array(words ? py::dtype::of<int32_t>() : py::dtype::of<uint8_t>(), storage);
  void *dst = out.mutable_data();
  PackOptions options;
  options.check = check;
  Result r;
  {
    py::gil_scoped_release unlocked;
    r = int4pack::pack(view, layout, dst, bytes, options);
  }
  raise_if_failed(r);
  return out;
}

py::array unpack(const py::array &packed, const std::vector<int64_t> &shape, const std::string &format) {
  const Layout layout = layout_of(format);
  if (!(packed.flags() & py::array::c_style)) throw py::value_error("packed must be a contiguous array");
  size_t bytes = 0;
  raise_if_failed(packed_size(shape, layout, &bytes));
  const size_t have = static_cast<size_t>(packed.nbytes());
  if (have < bytes) {
    throw py::value_error("packed holds " + std::to_string(have) + " bytes, but a " + format +
                          " packing of that shape needs " + std::to_string(bytes));
  }
  py::array out = new_array(py::dtype::of<int32_t>(), shape);
  auto *dst = static_cast<int32_t *>(out.mutable_data());
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  Result r;
  {
    py::gil_scoped_release unlocked;
    r = int4pack::unpack(packed.data(), have, shape, layout, dst, count);
  }
  raise_if_failed(r);
  return out;
}

// The plain reference packer (src/kernels/reference.cc), for tests: int32 (k, n) values.
py::array_t<uint8_t> reference_pack(const py::array_t<int32_t, py::array::c_style | py::array::forcecast> &values,
                                    const std::string &format) {
  if (values.ndim() != 2) throw py::value_error("values must be 2-D");
  const Layout layout = layout_of(format);
  const MatrixShape m{values.shape(0), values.shape(1)};
  const PackedLayout pl = layout == Layout::kNz ? PackedLayout::kNz : PackedLayout::kNd;
  py::array_t<uint8_t> out(static_cast<py::ssize_t>(packed_bytes(m, pl)));
  reference::pack(values.data(), m, pl, out.mutable_data());
  return out;
}

Matrix matrix_of(const py::array &a, ElementType type) {
  Matrix m;
  m.data = a.data();
  m.type = type;
  const auto item = static_cast<int64_t>(a.itemsize());
  if (a.ndim() == 1) {
    m.rows = 1;
    m.cols = a.shape(0);
    m.row_stride = 0;
    m.col_stride = a.strides(0) / item;
  } else if (a.ndim() == 2) {
    m.rows = a.shape(0);
    m.cols = a.shape(1);
    m.row_stride = a.strides(0) / item;
    m.col_stride = a.strides(1) / item;
  } else {
    throw py::value_error("expected a 1-D or 2-D array, but it has " + std::to_string(a.ndim()) + " dims");
  }
  return m;
}

ElementType float_type(const std::string &name) {
  if (name == "float16") return ElementType::kFloat16;
  if (name == "bfloat16") return ElementType::kBFloat16;
  if (name == "float32") return ElementType::kFloat32;
  throw py::type_error("unsupported float type " + name);
}

// y = x @ ((w + offset) * scale) + bias through the engine: x, scale, offset, bias as raw 16-bit (or float32
// bias) arrays of the named float types; the weight as packed bytes (int4) or int8 values.
py::array matmul(const py::array &x, const std::string &x_type, const py::array &weight, const std::string &weight_type,
                 const std::string &format, bool transposed, int64_t k, int64_t n, const py::array &scale,
                 const py::object &offset, const py::object &bias, const std::string &bias_type, int64_t group_size) {
  MatmulArgs a;
  a.x = matrix_of(x, float_type(x_type));
  a.weight.data = weight.data();
  a.weight.bytes = static_cast<size_t>(weight.nbytes());
  a.weight.type = weight_type == "int8" ? ElementType::kInt8 : ElementType::kInt4;
  a.weight.layout = layout_of(format);
  a.weight.transposed = transposed;
  a.weight.k = k;
  a.weight.n = n;
  a.scale = matrix_of(scale, a.x.type);
  py::array offset_array, bias_array;
  if (!offset.is_none()) {
    offset_array = offset.cast<py::array>();
    a.offset = matrix_of(offset_array, a.x.type);
  }
  if (!bias.is_none()) {
    bias_array = bias.cast<py::array>();
    a.bias = matrix_of(bias_array, float_type(bias_type));
  }
  a.group_size = group_size;
  a.y_type = a.x.type;
  py::array_t<uint16_t> y({a.x.rows, n});
  a.y = y.mutable_data();
  Result r;
  {
    py::gil_scoped_release unlocked;
    r = weight_quant_matmul(a);
  }
  raise_if_failed(r);
  return std::move(y);
}

// Observer for convert_checkpoint: the Python progress callback (done bytes, total bytes), called between
// tensors with the GIL held; its exception stops the conversion (and leaves no output).
class Progress : public checkpoint::Observer {
 public:
  explicit Progress(py::object callback) : callback_(std::move(callback)) {}
  void begin(uint64_t, uint64_t bytes) override { total_ = bytes; }
  void advance(uint64_t bytes) override {
    done_ += bytes;
    if (callback_.is_none()) return;
    py::gil_scoped_acquire locked;
    callback_(done_, total_);
  }
  void check() override {
    py::gil_scoped_acquire locked;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }

 private:
  py::object callback_;
  uint64_t done_ = 0, total_ = 0;
};

py::dict convert_checkpoint(const std::string &src, const std::string &dst, const std::string &from,
                            const std::string &format, const std::string &dtype, const std::string &act_dtype,
                            const std::string &include, const std::string &exclude, bool force, bool sync,
                            const py::object &progress) {
  checkpoint::ConvertRequest request;
  request.input = src;
  request.output = dst;
  if (from != "auto") {
    request.from = checkpoint::parse_source_format(from);
    if (!request.from)
      throw py::value_error("from must be auto, carrier, compressed-tensors, gptq, awq or msmodelslim");
  }
  if (format == "auto") {
    request.auto_layout = true;
  } else {
    request.options.layout = layout_of(format);
  }
  if (dtype != "int4" && dtype != "int32") throw py::value_error("dtype must be \"int4\" or \"int32\"");
  request.options.int32_words = dtype == "int32";
  if (act_dtype == "float16") request.act_dtype = checkpoint::Dtype::kF16;
  if (act_dtype == "bfloat16") request.act_dtype = checkpoint::Dtype::kBF16;
  request.include = include;
  request.exclude = exclude;
  request.force = force;
  request.sync = sync;
  Progress observer(progress);
  checkpoint::ConvertReport report;
  {
    py::gil_scoped_release unlocked;
    report = checkpoint::convert_checkpoint(request, observer);
  }
  if (!report.problems.empty()) {
    std::string all;
    for (const std::string &p : report.problems) all += "\n  " + p;
    throw py::value_error(std::to_string(report.problems.size()) + " problem(s) found; nothing was written:" + all);
  }
  py::list packed;
  for (const checkpoint::PackedTensor &p : report.packed) {
    packed.append(py::dict(py::arg("name") = p.name, py::arg("packed_as") = checkpoint::packing_name(p.record),
                           py::arg("stored_dtype") = checkpoint::dtype_name(p.storage.dtype),
                           py::arg("stored_shape") = p.storage.shape, py::arg("bytes_in") = p.bytes_in,
                           py::arg("bytes_out") = p.storage.bytes));
  }
  return py::dict(py::arg("source_format") = checkpoint::source_format_name(report.format),
                  py::arg("packed_count") = report.packed.size(), py::arg("tensor_count") = report.tensor_count,
                  py::arg("output_tensor_bytes") = report.output_tensor_bytes, py::arg("packed") = packed);
}

// verify_checkpoint's matmul: the engine's weight_quant_matmul on the converted tensors.
std::string engine_matmul(const checkpoint::PackedRecord &r, const checkpoint::ConvertedTensors &t,
                          const std::vector<uint16_t> &x, int64_t rows, std::vector<uint16_t> *y) {
  const int64_t k = r.layer.weight_shape[0], n = r.layer.weight_shape[1];
  const ElementType act =
      r.layer.act_dtype == checkpoint::Dtype::kBF16 ? ElementType::kBFloat16 : ElementType::kFloat16;
  MatmulArgs a;
  a.x = {x.data(), act, rows, k, k, 1};
  a.weight = {t.weight, t.weight_bytes, ElementType::kInt4, r.options.layout, r.options.transpose, k, n};
  const int64_t groups = t.param_shape.size() == 1 ? 1 : t.param_shape[0];
  a.scale = {t.scale, act, groups, n, n, 1};
  if (t.offset != nullptr) a.offset = {t.offset, act, groups, n, n, 1};
  a.group_size = r.layer.group_size;
  y->resize(static_cast<size_t>(rows * n));
  a.y = y->data();
  a.y_type = act;
  const Result result = weight_quant_matmul(a);
  return result.ok() ? "" : result.message;
}

py::dict verify_checkpoint(const std::string &original, const std::string &converted, bool matmul) {
  checkpoint::Observer observer;
  const checkpoint::LayerMatmul run = engine_matmul;
  checkpoint::VerifyReport report;
  {
    py::gil_scoped_release unlocked;
    report = checkpoint::verify_checkpoint(original, converted, matmul ? &run : nullptr, observer);
  }
  py::list entries;
  for (const checkpoint::VerifyEntry &e : report.entries) {
    py::dict d(py::arg("name") = e.name, py::arg("status") = e.status, py::arg("detail") = e.detail);
    if (e.matmul_ratio >= 0) d["matmul_ratio"] = e.matmul_ratio;
    entries.append(d);
  }
  return py::dict(py::arg("ok") = report.failures == 0, py::arg("failures") = report.failures,
                  py::arg("packed_checked") = report.packed_checked, py::arg("tensors") = entries);
}

py::dict inspect_checkpoint(const std::string &path) {
  checkpoint::Inspection in;
  {
    py::gil_scoped_release unlocked;
    in = checkpoint::inspect_checkpoint(path);
  }
  py::list tensors, layers;
  for (const checkpoint::TensorSummary &t : in.tensors) {
    tensors.append(py::dict(py::arg("shard") = t.shard, py::arg("name") = t.name,
                            py::arg("dtype") = checkpoint::dtype_name(t.dtype), py::arg("shape") = t.shape,
                            py::arg("bytes") = t.bytes, py::arg("packed") = t.packed));
  }
  for (const checkpoint::LayerSummary &l : in.layers) {
    layers.append(py::dict(py::arg("layer") = l.layer,
                           py::arg("source_format") = checkpoint::source_format_name(l.source), py::arg("k") = l.k,
                           py::arg("n") = l.n, py::arg("group_size") = l.group_size, py::arg("symmetric") = l.symmetric,
                           py::arg("act_order") = l.act_order, py::arg("packed_as") = l.packed_as));
  }
  return py::dict(py::arg("format") = in.format, py::arg("shards") = in.shards, py::arg("bytes") = in.bytes,
                  py::arg("tensors") = tensors, py::arg("layers") = layers, py::arg("problems") = in.problems);
}

}  // namespace

// The checkpoint library's exceptions as Python's.
void translate(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const checkpoint::IoError &x) {
    PyErr_SetString(PyExc_OSError, x.what());
  } catch (const checkpoint::FormatError &x) {
    PyErr_SetString(PyExc_ValueError, x.what());
  } catch (const checkpoint::UsageError &x) {
    PyErr_SetString(PyExc_ValueError, x.what());
  }
}

}  // namespace int4pack::python

PYBIND11_MODULE(_int4pack, m) {
  namespace p = int4pack::python;
  m.doc() = "int4pack's compiled core: see the int4pack package for the documented API";
  py::register_exception_translator(&p::translate);
  m.def("pack", &p::pack, py::arg("weight"), py::arg("format"), py::arg("dtype"), py::arg("check"));
  m.def("unpack", &p::unpack, py::arg("packed"), py::arg("shape"), py::arg("format"));
  m.def("reference_pack", &p::reference_pack, py::arg("values"), py::arg("format"));
  m.def("matmul", &p::matmul);
  m.def("convert_checkpoint", &p::convert_checkpoint);
  m.def("verify_checkpoint", &p::verify_checkpoint);
  m.def("inspect_checkpoint", &p::inspect_checkpoint);
  m.def("isa", [] { return std::string(int4pack::isa()); });
  m.def("num_threads", [] { return int4pack::num_threads(); });
}
