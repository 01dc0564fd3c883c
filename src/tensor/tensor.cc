#include "tensor/tensor.h"

#include <mutex>
#include <new>
#include <string>
#include <unordered_set>

#include "aclnn/aclnn_base.h"

namespace int4pack::tensor {

using runtime::fail;

namespace {

struct LiveTensors {
  std::mutex mutex;
  std::unordered_set<const aclTensor *> set;
};

LiveTensors &live() {
  static LiveTensors *l = new LiveTensors;
  return *l;
}

// Fills t from the C arguments; the caller has checked pointers against counts.
void describe(aclTensor *t, const int64_t *viewDims, uint64_t viewDimsNum, int32_t dataType, const int64_t *stride,
              int64_t offset, int32_t format, const int64_t *storageDims, uint64_t storageDimsNum, void *data) {
  t->view_dims.assign(viewDims, viewDims + viewDimsNum);
  t->strides =
      stride != nullptr ? std::vector<int64_t>(stride, stride + viewDimsNum) : contiguous_strides(t->view_dims);
  t->offset = offset;
  t->dtype = dataType;
  t->format = format;
  t->storage_dims.assign(storageDims, storageDims + storageDimsNum);
  t->data = data;
}

// The dims arguments' problem, recorded with the api's name (the same status from aclCreateTensor, which
// returns NULL, and aclInitTensor, which returns the status), or ACLNN_SUCCESS.
aclnnStatus check_dims(const char *api, const int64_t *viewDims, uint64_t viewDimsNum, const int64_t *storageDims,
                       uint64_t storageDimsNum) {
  if (viewDims == nullptr && viewDimsNum > 0) {
    return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": viewDims is NULL while viewDimsNum > 0");
  }
  if (storageDims == nullptr && storageDimsNum > 0) {
    return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": storageDims is NULL while storageDimsNum > 0");
  }
  if (viewDimsNum > kMaxDims || storageDimsNum > kMaxDims) {
    return fail(ACLNN_ERR_PARAM_INVALID, std::string(api) + ": more than 64 dims (viewDimsNum " +
                                             std::to_string(viewDimsNum) + ", storageDimsNum " +
                                             std::to_string(storageDimsNum) + ")");
  }
  return ACLNN_SUCCESS;
}

aclnnStatus hand_out(const char *api, const aclTensor *t, std::vector<int64_t> aclTensor::*field, int64_t **array,
                     uint64_t *count) {
  if (t == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": tensor is NULL");
  if (array == nullptr || count == nullptr) {
    return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": an output pointer is NULL");
  }
  if (!is_live(t)) return fail(ACLNN_ERR_PARAM_INVALID, std::string(api) + ": tensor is not a live aclTensor");
  const std::vector<int64_t> &values = t->*field;
  int64_t *copy = new (std::nothrow) int64_t[values.size() == 0 ? 1 : values.size()];
  if (copy == nullptr) return fail(ACLNN_ERR_INNER, std::string(api) + ": out of memory");
  for (size_t i = 0; i < values.size(); ++i) copy[i] = values[i];
  *array = copy;
  *count = values.size();
  return ACLNN_SUCCESS;
}

template <typename T>
aclnnStatus get_field(const char *api, const aclTensor *t, T *out, T aclTensor::*field) {
  if (t == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": tensor is NULL");
  if (out == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": the output pointer is NULL");
  if (!is_live(t)) return fail(ACLNN_ERR_PARAM_INVALID, std::string(api) + ": tensor is not a live aclTensor");
  *out = t->*field;
  return ACLNN_SUCCESS;
}

}  // namespace

bool is_live(const aclTensor *t) {
  LiveTensors &l = live();
  std::lock_guard<std::mutex> lock(l.mutex);
  return l.set.count(t) != 0;
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t> &dims) {
  std::vector<int64_t> strides(dims.size());
  uint64_t running = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = static_cast<int64_t>(running);
    running *= static_cast<uint64_t>(dims[i]);
  }
  return strides;
}

std::string dtype_name(int32_t dtype) {
  switch (dtype) {
#define INT4PACK_DTYPE(enumerator, name, bytes) \
  case enumerator:                              \
    return name;
#include "runtime/acl_enums.inc"
#undef INT4PACK_DTYPE
  }
  return "UNKNOWN(" + std::to_string(dtype) + ")";
}

std::string format_name(int32_t format) {
  switch (format) {
#define INT4PACK_FORMAT(enumerator, name, origin) \
  case enumerator:                                \
    return name;
#include "runtime/acl_enums.inc"
#undef INT4PACK_FORMAT
  }
  return "UNKNOWN(" + std::to_string(format) + ")";
}

bool is_origin_format(int32_t format) {
  switch (format) {
#define INT4PACK_FORMAT(enumerator, name, origin) \
  case enumerator:                                \
    return origin;
#include "runtime/acl_enums.inc"
#undef INT4PACK_FORMAT
  }
  return false;
}

}  // namespace int4pack::tensor

using namespace int4pack::tensor;

extern "C" {

aclTensor *aclCreateTensor(const int64_t *viewDims, uint64_t viewDimsNum, aclDataType dataType, const int64_t *stride,
                           int64_t offset, aclFormat format, const int64_t *storageDims, uint64_t storageDimsNum,
                           void *tensorData) {
  if (check_dims("aclCreateTensor", viewDims, viewDimsNum, storageDims, storageDimsNum) != ACLNN_SUCCESS)
    return nullptr;
  aclTensor *t = nullptr;
  try {
    t = new aclTensor;
    describe(t, viewDims, viewDimsNum, enum_bits(dataType), stride, offset, enum_bits(format), storageDims,
             storageDimsNum, tensorData);
    LiveTensors &l = live();
    std::lock_guard<std::mutex> lock(l.mutex);
    l.set.insert(t);
  } catch (const std::bad_alloc &) {
    delete t;
    fail(ACLNN_ERR_INNER, "aclCreateTensor: out of memory");
    return nullptr;
  }
  return t;
}

aclnnStatus aclInitTensor(aclTensor *tensor, const int64_t *viewDims, uint64_t viewDimsNum, aclDataType dataType,
                          const int64_t *stride, int64_t offset, aclFormat format, const int64_t *storageDims,
                          uint64_t storageDimsNum, void *tensorData) {
  if (tensor == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, "aclInitTensor: tensor is NULL");
  if (aclnnStatus status = check_dims("aclInitTensor", viewDims, viewDimsNum, storageDims, storageDimsNum);
      status != ACLNN_SUCCESS) {
    return status;
  }
  if (!is_live(tensor)) return fail(ACLNN_ERR_PARAM_INVALID, "aclInitTensor: tensor is not a live aclTensor");
  try {
    describe(tensor, viewDims, viewDimsNum, enum_bits(dataType), stride, offset, enum_bits(format), storageDims,
             storageDimsNum, tensorData);
  } catch (const std::bad_alloc &) {
    return fail(ACLNN_ERR_INNER, "aclInitTensor: out of memory");
  }
  return ACLNN_SUCCESS;
}

aclnnStatus aclDestroyTensor(const aclTensor *tensor) {
  if (tensor == nullptr) return ACLNN_SUCCESS;
  {
    LiveTensors &l = live();
    std::lock_guard<std::mutex> lock(l.mutex);
    if (l.set.erase(tensor) == 0) {
      return fail(ACLNN_ERR_PARAM_INVALID, "aclDestroyTensor: tensor is not a live aclTensor (destroyed twice?)");
    }
  }
  delete tensor;
  return ACLNN_SUCCESS;
}

aclnnStatus aclGetViewShape(const aclTensor *tensor, int64_t **viewDims, uint64_t *viewDimsNum) {
  return hand_out("aclGetViewShape", tensor, &aclTensor::view_dims, viewDims, viewDimsNum);
}

aclnnStatus aclGetStorageShape(const aclTensor *tensor, int64_t **storageDims, uint64_t *storageDimsNum) {
  return hand_out("aclGetStorageShape", tensor, &aclTensor::storage_dims, storageDims, storageDimsNum);
}

aclnnStatus aclGetViewStrides(const aclTensor *tensor, int64_t **stridesValue, uint64_t *stridesNum) {
  return hand_out("aclGetViewStrides", tensor, &aclTensor::strides, stridesValue, stridesNum);
}

aclnnStatus aclGetViewOffset(const aclTensor *tensor, int64_t *offset) {
  return get_field("aclGetViewOffset", tensor, offset, &aclTensor::offset);
}

aclnnStatus aclGetFormat(const aclTensor *tensor, aclFormat *format) {
  int32_t bits = 0;
  const aclnnStatus status = get_field("aclGetFormat", tensor, format != nullptr ? &bits : nullptr, &aclTensor::format);
  if (status == ACLNN_SUCCESS) std::memcpy(format, &bits, sizeof bits);  // whatever the caller stored
  return status;
}

aclnnStatus aclGetDataType(const aclTensor *tensor, aclDataType *dataType) {
  int32_t bits = 0;
  const aclnnStatus status =
      get_field("aclGetDataType", tensor, dataType != nullptr ? &bits : nullptr, &aclTensor::dtype);
  if (status == ACLNN_SUCCESS) std::memcpy(dataType, &bits, sizeof bits);
  return status;
}

}  // extern "C"
