#include "ops/common/int4_pair.h"

#include <string>
#include <utility>

#include "core/layout.h"
#include "ops/common/checks.h"

namespace int4pack::ops {

aclnnStatus check_int4_pair(const PairNames &names, const aclTensor *carrier, const aclTensor *packed, Int4Pair *pair) {
  const Checks c(names.api);
  const std::string cname = names.carrier;
  const std::string pname = names.packed;

  // Checks 1-5 look at each tensor in the operator's argument order.
  struct Argument {
    const aclTensor *tensor;
    const std::string *name;
    bool is_carrier;
  };
  Argument args[2] = {{carrier, &cname, true}, {packed, &pname, false}};
  if (names.packed_first) std::swap(args[0], args[1]);

  // 1. Null arguments (and, beyond CANN, descriptors that are not live).
  for (const Argument &a : args) INT4PACK_TRY(c.not_null(a.tensor, *a.name));
  for (const Argument &a : args) INT4PACK_TRY(c.live(a.tensor, *a.name));
  // 2. Contiguity.
  for (const Argument &a : args) INT4PACK_TRY(c.contiguous(*a.tensor, *a.name));
  // 3. Data types.
  for (const Argument &a : args) {
    INT4PACK_TRY(a.is_carrier ? c.dtype_in(*a.tensor, *a.name, {ACL_INT32})
                              : c.dtype_in(*a.tensor, *a.name, {ACL_INT4, ACL_INT32}));
  }
  // 4. Formats.
  for (const Argument &a : args) {
    INT4PACK_TRY(a.is_carrier ? c.format_in(*a.tensor, *a.name, {ACL_FORMAT_ND})
                              : c.format_in(*a.tensor, *a.name, {ACL_FORMAT_ND, ACL_FORMAT_FRACTAL_NZ}));
  }
  // 5. Ranks: a (k, n) matrix or, as newer CANN takes it, a (g, k, n) stack; the second argument has the
  // first one's rank.
  INT4PACK_TRY(c.rank_in(*args[0].tensor, *args[0].name, 2, 3));
  const size_t rank = args[0].tensor->view_dims.size();
  INT4PACK_TRY(c.rank_in(*args[1].tensor, *args[1].name, rank, rank));
  const aclTensor &w = *carrier;
  const aclTensor &p = *packed;

  // 6. Last-dim rule and the packed view shape.
  const int64_t groups = rank == 3 ? w.view_dims[0] : 1;
  const int64_t dim0 = w.view_dims[rank - 2];
  const int64_t dim1 = w.view_dims[rank - 1];
  const bool int4_out = p.dtype == ACL_INT4;
  const int values_per_element = int4_out ? 1 : 8;
  const std::string out_type = tensor::dtype_name(p.dtype);
  if (dim1 % (int4_out ? 2 : 8) != 0) {
    return c.fail(ACLNN_ERR_PARAM_INVALID, cname + " dim1 must be " +
                                               (int4_out ? "even (a multiple of 2)" : "a multiple of 8") + " for " +
                                               out_type + " " + pname + ", but " + cname + " shape is " +
                                               shape_text(w.view_dims) + " (dim1 = " + std::to_string(dim1) + ")");
  }
  std::vector<int64_t> expected_view{dim0, dim1 / values_per_element};
  if (rank == 3) expected_view.insert(expected_view.begin(), groups);
  if (p.view_dims != expected_view) {
    return c.fail(ACLNN_ERR_PARAM_INVALID, pname + " view shape must be " +
                                               (int4_out ? "(dim0, dim1) = " : "(dim0, dim1/8) = ") +
                                               shape_text(expected_view) + " for " + out_type + " output of " + cname +
                                               " " + shape_text(w.view_dims) + ", but got " + shape_text(p.view_dims));
  }

  // 7. FRACTAL_NZ storage shape (skipped for negative dims, which check 8 reports): a stack has each
  // matrix in its own padded blocks, (g, ceil(dim1/64), ceil(dim0/16), 16, 64).
  const MatrixShape shape{dim0, dim1};
  const bool nz = p.format == ACL_FORMAT_FRACTAL_NZ;
  if (nz && dim0 >= 0 && dim1 >= 0 && groups >= 0) {
    const auto expected = nz_storage_shape(shape, values_per_element);
    std::vector<int64_t> expected_storage(expected.begin(), expected.end());
    if (rank == 3) expected_storage.insert(expected_storage.begin(), groups);
    if (p.storage_dims != expected_storage) {
      return c.fail(ACLNN_ERR_PARAM_INVALID,
                    pname + " FRACTAL_NZ storage shape must be the " + std::to_string(expected_storage.size()) + "-D " +
                        shape_text(expected_storage) + (rank == 3 ? " (g, " : " (") +
                        "ceil(dim1/64), ceil(dim0/16), 16, " + std::to_string(expected[3]) + "), but got " +
                        std::to_string(p.storage_dims.size()) + "-D " + shape_text(p.storage_dims));
    }
  }

  // 8. Empty (and, beyond CANN's list, negative) shapes.
  if (dim0 == 0 || dim1 == 0 || groups == 0) {
    return c.fail(ACLNN_ERR_PARAM_INVALID, cname + " must not be empty, but its shape is " + shape_text(w.view_dims));
  }
  if (dim0 < 0 || dim1 < 0 || groups < 0) {
    return c.fail(ACLNN_ERR_PARAM_INVALID,
                  cname + " dims must be positive, but its shape is " + shape_text(w.view_dims));
  }

  // Beyond CANN's list: what keeps the run inside the memory the descriptors declare.
  const Layout layout = nz ? Layout::kNz : Layout::kNd;
  size_t bytes = 0;
  std::vector<int64_t> values_shape{dim0, dim1};
  if (rank == 3) values_shape.insert(values_shape.begin(), groups);
  if (!packed_size(values_shape, layout, &bytes)) {
    return c.fail(ACLNN_ERR_PARAM_INVALID, cname + " shape " + shape_text(w.view_dims) + " is too large");
  }
  INT4PACK_TRY(c.storage(w, cname));
  INT4PACK_TRY(c.storage(p, pname));
  INT4PACK_TRY(c.data(w, cname));
  INT4PACK_TRY(c.data(p, pname));
  // The arguments are fine; the engine must be able to run them (INT4PACK_ISA / INT4PACK_NUM_THREADS).
  INT4PACK_TRY(c.engine_ready());

  pair->shape = values_shape;
  pair->layout = layout;
  pair->carrier_data = static_cast<int32_t *>(w.data) + w.offset;
  pair->packed_data = static_cast<uint8_t *>(p.data) + (int4_out ? p.offset / 2 : p.offset * 4);
  pair->packed_bytes = bytes;
  return ACLNN_SUCCESS;
}

}  // namespace int4pack::ops
