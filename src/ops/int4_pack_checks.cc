#include "ops/int4_pack_checks.h"

#include <string>
#include <utility>
#include <vector>

#include "core/pack.h"
#include "tensor/tensor.h"

namespace int4pack::ops {
namespace {

std::string dtype_name(int32_t t) {
  switch (t) {
    case ACL_DT_UNDEFINED:
      return "DT_UNDEFINED";
    case ACL_FLOAT:
      return "FLOAT";
    case ACL_FLOAT16:
      return "FLOAT16";
    case ACL_INT8:
      return "INT8";
    case ACL_INT32:
      return "INT32";
    case ACL_UINT8:
      return "UINT8";
    case ACL_INT16:
      return "INT16";
    case ACL_UINT16:
      return "UINT16";
    case ACL_UINT32:
      return "UINT32";
    case ACL_INT64:
      return "INT64";
    case ACL_UINT64:
      return "UINT64";
    case ACL_DOUBLE:
      return "DOUBLE";
    case ACL_BOOL:
      return "BOOL";
    case ACL_STRING:
      return "STRING";
    case ACL_COMPLEX64:
      return "COMPLEX64";
    case ACL_COMPLEX128:
      return "COMPLEX128";
    case ACL_BF16:
      return "BF16";
    case ACL_INT4:
      return "INT4";
    case ACL_UINT1:
      return "UINT1";
    case ACL_COMPLEX32:
      return "COMPLEX32";
    case ACL_HIFLOAT8:
      return "HIFLOAT8";
    case ACL_FLOAT8_E5M2:
      return "FLOAT8_E5M2";
    case ACL_FLOAT8_E4M3FN:
      return "FLOAT8_E4M3FN";
    case ACL_FLOAT8_E8M0:
      return "FLOAT8_E8M0";
    case ACL_FLOAT6_E3M2:
      return "FLOAT6_E3M2";
    case ACL_FLOAT6_E2M3:
      return "FLOAT6_E2M3";
    case ACL_FLOAT4_E2M1:
      return "FLOAT4_E2M1";
    case ACL_FLOAT4_E1M2:
      return "FLOAT4_E1M2";
  }
  return "UNKNOWN(" + std::to_string(t) + ")";
}

std::string format_name(int32_t f) {
  switch (f) {
    case ACL_FORMAT_UNDEFINED:
      return "UNDEFINED";
    case ACL_FORMAT_NCHW:
      return "NCHW";
    case ACL_FORMAT_NHWC:
      return "NHWC";
    case ACL_FORMAT_ND:
      return "ND";
    case ACL_FORMAT_NC1HWC0:
      return "NC1HWC0";
    case ACL_FORMAT_FRACTAL_Z:
      return "FRACTAL_Z";
    case ACL_FORMAT_NC1HWC0_C04:
      return "NC1HWC0_C04";
    case ACL_FORMAT_HWCN:
      return "HWCN";
    case ACL_FORMAT_NDHWC:
      return "NDHWC";
    case ACL_FORMAT_FRACTAL_NZ:
      return "FRACTAL_NZ";
    case ACL_FORMAT_NCDHW:
      return "NCDHW";
    case ACL_FORMAT_NDC1HWC0:
      return "NDC1HWC0";
    case ACL_FRACTAL_Z_3D:
      return "FRACTAL_Z_3D";
    case ACL_FORMAT_NC:
      return "NC";
    case ACL_FORMAT_NCL:
      return "NCL";
    case ACL_FORMAT_FRACTAL_NZ_C0_16:
      return "FRACTAL_NZ_C0_16";
    case ACL_FORMAT_FRACTAL_NZ_C0_32:
      return "FRACTAL_NZ_C0_32";
    case ACL_FORMAT_FRACTAL_NZ_C0_2:
      return "FRACTAL_NZ_C0_2";
    case ACL_FORMAT_FRACTAL_NZ_C0_4:
      return "FRACTAL_NZ_C0_4";
    case ACL_FORMAT_FRACTAL_NZ_C0_8:
      return "FRACTAL_NZ_C0_8";
  }
  return "UNKNOWN(" + std::to_string(f) + ")";
}

template <typename Dims>
std::string shape_text(const Dims &dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

// Origin formats describe plain row-major memory; every other format is a private (blocked) layout that
// has no view strides to check, as in CANN.
bool is_origin_format(int32_t f) {
  switch (f) {
    case ACL_FORMAT_ND:
    case ACL_FORMAT_NCHW:
    case ACL_FORMAT_NHWC:
    case ACL_FORMAT_HWCN:
    case ACL_FORMAT_NDHWC:
    case ACL_FORMAT_NCDHW:
    case ACL_FORMAT_NC:
    case ACL_FORMAT_NCL:
    case ACL_FORMAT_UNDEFINED:
      return true;
    default:
      return false;
  }
}

// Row-major check that ignores size-1 dims; wrapping arithmetic matches contiguous_strides().
bool is_contiguous(const aclTensor &t) {
  if (!is_origin_format(t.format)) return true;
  uint64_t expected = 1;
  for (size_t i = t.view_dims.size(); i-- > 0;) {
    if (t.view_dims[i] != 1 && static_cast<uint64_t>(t.strides[i]) != expected) return false;
    expected *= static_cast<uint64_t>(t.view_dims[i]);
  }
  return true;
}

// Number of elements of dims, or -1 when a dim is negative or the product leaves int64.
int64_t element_count(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

}  // namespace

aclnnStatus check_int4_pair(const PairNames &names, const aclTensor *carrier, const aclTensor *packed, Int4Pair *pair) {
  const auto fail = [&names](aclnnStatus status, const std::string &what) {
    runtime::set_recent_error(std::string(names.api) + ": " + what);
    return status;
  };
  const std::string cname = names.carrier;
  const std::string pname = names.packed;

  // Checks 1-5 look at each tensor in the operator's argument order.
  struct Argument {
    const aclTensor *tensor;
    const std::string *name_ptr;
    bool is_carrier;
    const std::string &name() const { return *name_ptr; }
  };
  Argument args[2] = {{carrier, &cname, true}, {packed, &pname, false}};
  if (names.packed_first) std::swap(args[0], args[1]);

  // 1. Null arguments (and, beyond CANN, descriptors that are not live).
  for (const Argument &a : args) {
    if (a.tensor == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, a.name() + " is NULL");
  }
  for (const Argument &a : args) {
    if (!tensor::is_live(a.tensor)) return fail(ACLNN_ERR_PARAM_INVALID, a.name() + " is not a live aclTensor");
  }

  // 2. Contiguity.
  for (const Argument &a : args) {
    const aclTensor &t = *a.tensor;
    if (!is_contiguous(t)) {
      return fail(ACLNN_ERR_PARAM_INVALID, a.name() + " only support contiguous tensors, but its view " +
                                               shape_text(t.view_dims) + " has strides " + shape_text(t.strides) +
                                               " (contiguous: " + shape_text(tensor::contiguous_strides(t.view_dims)) +
                                               ")");
    }
  }

  // 3. Data types.
  for (const Argument &a : args) {
    const int32_t dtype = a.tensor->dtype;
    if (a.is_carrier && dtype != ACL_INT32) {
      return fail(ACLNN_ERR_PARAM_INVALID,
                  a.name() + " dtype must be INT32 (supported: [INT32]), but got " + dtype_name(dtype));
    }
    if (!a.is_carrier && dtype != ACL_INT4 && dtype != ACL_INT32) {
      return fail(ACLNN_ERR_PARAM_INVALID,
                  a.name() + " dtype must be one of [INT4, INT32], but got " + dtype_name(dtype));
    }
  }

  // 4. Formats.
  for (const Argument &a : args) {
    const int32_t format = a.tensor->format;
    if (a.is_carrier && format != ACL_FORMAT_ND) {
      return fail(ACLNN_ERR_PARAM_INVALID, a.name() + " format must be ND, but got " + format_name(format));
    }
    if (!a.is_carrier && format != ACL_FORMAT_ND && format != ACL_FORMAT_FRACTAL_NZ) {
      return fail(ACLNN_ERR_PARAM_INVALID,
                  a.name() + " format must be one of [ND, FRACTAL_NZ], but got " + format_name(format));
    }
  }

  // 5. Ranks.
  for (const Argument &a : args) {
    const auto &dims = a.tensor->view_dims;
    if (dims.size() != 2) {
      return fail(ACLNN_ERR_PARAM_INVALID, a.name() + " view must have 2 dims (supported range [2, 2]), but got " +
                                               std::to_string(dims.size()) + " dims " + shape_text(dims));
    }
  }
  const aclTensor &c = *carrier;
  const aclTensor &p = *packed;

  // 6. Last-dim rule and the packed view shape.
  const int64_t dim0 = c.view_dims[0];
  const int64_t dim1 = c.view_dims[1];
  const bool int4_out = p.dtype == ACL_INT4;
  const int values_per_element = int4_out ? 1 : 8;
  if (dim1 % (int4_out ? 2 : 8) != 0) {
    return fail(ACLNN_ERR_PARAM_INVALID, cname + " dim1 must be " +
                                             (int4_out ? "even (a multiple of 2)" : "a multiple of 8") + " for " +
                                             dtype_name(p.dtype) + " " + pname + ", but " + cname + " shape is " +
                                             shape_text(c.view_dims) + " (dim1 = " + std::to_string(dim1) + ")");
  }
  const std::vector<int64_t> expected_view{dim0, dim1 / values_per_element};
  if (p.view_dims != expected_view) {
    return fail(ACLNN_ERR_PARAM_INVALID,
                pname + " view shape must be " + (int4_out ? "(dim0, dim1) = " : "(dim0, dim1/8) = ") +
                    shape_text(expected_view) + " for " + dtype_name(p.dtype) + " output of " + cname + " " +
                    shape_text(c.view_dims) + ", but got " + shape_text(p.view_dims));
  }

  // 7. FRACTAL_NZ storage shape (skipped for negative dims, which check 8 reports).
  const MatrixShape shape{dim0, dim1};
  const bool nz = p.format == ACL_FORMAT_FRACTAL_NZ;
  if (nz && dim0 >= 0 && dim1 >= 0) {
    const auto expected = nz_storage_shape(shape, values_per_element);
    const std::vector<int64_t> expected_storage(expected.begin(), expected.end());
    if (p.storage_dims != expected_storage) {
      return fail(ACLNN_ERR_PARAM_INVALID,
                  pname + " FRACTAL_NZ storage shape must be the 4-D " + shape_text(expected_storage) +
                      " (ceil(dim1/64), ceil(dim0/16), 16, " + std::to_string(expected[3]) + "), but got " +
                      std::to_string(p.storage_dims.size()) + "-D " + shape_text(p.storage_dims));
    }
  }

  // 8. Empty (and, beyond CANN's list, negative) shapes.
  if (dim0 == 0 || dim1 == 0) {
    return fail(ACLNN_ERR_PARAM_INVALID, cname + " must not be empty, but its shape is " + shape_text(c.view_dims));
  }
  if (dim0 < 0 || dim1 < 0) {
    return fail(ACLNN_ERR_PARAM_INVALID, cname + " dims must be positive, but its shape is " + shape_text(c.view_dims));
  }

  // Beyond CANN's list: what keeps the run inside the memory the descriptors declare.
  size_t packed_bytes = 0;
  int64_t carrier_elements = 0;
  if (__builtin_mul_overflow(dim0, dim1, &carrier_elements) || carrier_elements > INT64_MAX / 4 ||
      !packed_bytes_checked(shape, nz ? PackedLayout::kNz : PackedLayout::kNd, &packed_bytes)) {
    return fail(ACLNN_ERR_PARAM_INVALID, cname + " shape " + shape_text(c.view_dims) + " is too large");
  }
  for (const auto *t : {&c, &p}) {
    const std::string &name = t == &c ? cname : pname;
    if (t->offset < 0) {
      return fail(ACLNN_ERR_PARAM_INVALID, name + " offset must not be negative, but got " + std::to_string(t->offset));
    }
    if (t->format == ACL_FORMAT_FRACTAL_NZ) {
      if (t->offset != 0) {
        return fail(ACLNN_ERR_PARAM_INVALID,
                    name + " offset must be 0 for FRACTAL_NZ, but got " + std::to_string(t->offset));
      }
      continue;
    }
    if (t->dtype == ACL_INT4 && t->offset % 2 != 0) {
      return fail(ACLNN_ERR_PARAM_INVALID,
                  name + " offset must be even for INT4 (whole bytes), but got " + std::to_string(t->offset));
    }
    const int64_t storage = element_count(t->storage_dims);
    const int64_t view = element_count(t->view_dims);
    if (storage < 0 || storage > INT64_MAX / 4 || t->offset > storage || storage - t->offset < view) {
      return fail(ACLNN_ERR_PARAM_INVALID, name + " storage shape " + shape_text(t->storage_dims) +
                                               " does not hold its view " + shape_text(t->view_dims) + " at offset " +
                                               std::to_string(t->offset));
    }
  }
  if (c.data == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, cname + " data address is NULL");
  if (p.data == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, pname + " data address is NULL");

  // The arguments are fine; the engine must be able to run them (INT4PACK_ISA / INT4PACK_NUM_THREADS).
  if (const std::string why = engine_error(); !why.empty()) {
    return fail(ACLNN_ERR_INNER_FIND_KERNEL_ERROR, "cannot run: " + why);
  }

  pair->shape = shape;
  pair->layout = nz ? PackedLayout::kNz : PackedLayout::kNd;
  pair->carrier_data = static_cast<int32_t *>(c.data) + c.offset;
  pair->packed_data = static_cast<uint8_t *>(p.data) + (int4_out ? p.offset / 2 : p.offset * 4);
  return ACLNN_SUCCESS;
}

}  // namespace int4pack::ops
