#include "test_support.h"

// aclTensor descriptors (aclnn/acl_meta.h): creation, accessors, re-initialisation and destruction.

#include <cstdint>
#include <string>
#include <vector>

#include "aclnn/aclnn_base.h"

namespace int4pack::testing {
namespace {

// What the aclGet* accessors report about a tensor.
struct Described {
  std::vector<int64_t> view;
  std::vector<int64_t> strides;
  std::vector<int64_t> storage;
  int64_t offset = -12345;
  aclFormat format = ACL_FORMAT_UNDEFINED;
  aclDataType dtype = ACL_DT_UNDEFINED;
};

std::vector<int64_t> take(int64_t *array, uint64_t count) {
  std::vector<int64_t> v(array, array + count);
  delete[] array;
  return v;
}

Described describe(const aclTensor *t) {
  Described d;
  int64_t *array = nullptr;
  uint64_t count = 999;
  EXPECT_EQ(aclGetViewShape(t, &array, &count), ACLNN_SUCCESS);
  d.view = take(array, count);
  array = nullptr;
  count = 999;
  EXPECT_EQ(aclGetViewStrides(t, &array, &count), ACLNN_SUCCESS);
  d.strides = take(array, count);
  array = nullptr;
  count = 999;
  EXPECT_EQ(aclGetStorageShape(t, &array, &count), ACLNN_SUCCESS);
  d.storage = take(array, count);
  EXPECT_EQ(aclGetViewOffset(t, &d.offset), ACLNN_SUCCESS);
  EXPECT_EQ(aclGetFormat(t, &d.format), ACLNN_SUCCESS);
  EXPECT_EQ(aclGetDataType(t, &d.dtype), ACLNN_SUCCESS);
  return d;
}

using V = std::vector<int64_t>;

TEST(TensorTest, CreateRefusesNullViewDimsWithCount) {
  const V storage = {4, 8};
  aclGetRecentErrMsg();
  EXPECT_EQ(aclCreateTensor(nullptr, 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, storage.data(), 2, nullptr), nullptr);
  EXPECT_TRUE(Mentions(recent_error(), {"aclCreateTensor", "viewDims"}));
}

TEST(TensorTest, CreateRefusesNullStorageDimsWithCount) {
  const V view = {4, 8};
  aclGetRecentErrMsg();
  EXPECT_EQ(aclCreateTensor(view.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, nullptr, 2, nullptr), nullptr);
  EXPECT_TRUE(Mentions(recent_error(), {"aclCreateTensor", "storageDims"}));
}

TEST(TensorTest, CreateRefusesTooManyDims) {
  const V dims(65, 1);
  EXPECT_EQ(aclCreateTensor(dims.data(), 65, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, dims.data(), 2, nullptr), nullptr);
  EXPECT_TRUE(Mentions(recent_error(), {"aclCreateTensor", "64"}));
  EXPECT_EQ(aclCreateTensor(dims.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, dims.data(), 65, nullptr), nullptr);
  EXPECT_FALSE(recent_error().empty());
  // 64 is still accepted.
  aclTensor *t = aclCreateTensor(dims.data(), 64, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, dims.data(), 64, nullptr);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(describe(t).view, V(64, 1));
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
}

TEST(TensorTest, NullStrideMeansContiguous) {
  const V view = {2, 3, 4, 5};
  aclTensor *t = aclCreateTensor(view.data(), view.size(), ACL_FLOAT16, nullptr, 0, ACL_FORMAT_ND, view.data(),
                                 view.size(), nullptr);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(describe(t).strides, (V{60, 20, 5, 1}));
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);

  const V one = {7};
  t = aclCreateTensor(one.data(), 1, ACL_INT8, nullptr, 0, ACL_FORMAT_ND, one.data(), 1, nullptr);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(describe(t).strides, (V{1}));
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
}

TEST(TensorTest, AccessorsReturnWhatWasSet) {
  const V view = {3, 16};
  const V strides = {32, 2};  // not contiguous: every other element of a wider storage
  const V storage = {4, 32, 1};
  int backing[256] = {};
  aclTensor *t = aclCreateTensor(view.data(), view.size(), ACL_INT4, strides.data(), 7, ACL_FORMAT_FRACTAL_NZ,
                                 storage.data(), storage.size(), backing);
  ASSERT_NE(t, nullptr);
  const Described d = describe(t);
  EXPECT_EQ(d.view, view);
  EXPECT_EQ(d.strides, strides);
  EXPECT_EQ(d.storage, storage);
  EXPECT_EQ(d.offset, 7);
  EXPECT_EQ(d.format, ACL_FORMAT_FRACTAL_NZ);
  EXPECT_EQ(d.dtype, ACL_INT4);
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

TEST(TensorTest, ArraysAreCopiedAtCreation) {
  V view = {5, 6};
  V strides = {6, 1};
  V storage = {5, 6};
  aclTensor *t = aclCreateTensor(view.data(), view.size(), ACL_UINT32, strides.data(), 0, ACL_FORMAT_ND, storage.data(),
                                 storage.size(), nullptr);
  ASSERT_NE(t, nullptr);
  view = {0, 0};
  strides = {0, 0};
  storage = {0, 0};
  const Described d = describe(t);
  EXPECT_EQ(d.view, (V{5, 6}));
  EXPECT_EQ(d.strides, (V{6, 1}));
  EXPECT_EQ(d.storage, (V{5, 6}));
  // Handed-out arrays are copies too: two calls give two distinct arrays.
  int64_t *a = nullptr;
  int64_t *b = nullptr;
  uint64_t na = 0;
  uint64_t nb = 0;
  ASSERT_EQ(aclGetViewShape(t, &a, &na), ACLNN_SUCCESS);
  ASSERT_EQ(aclGetViewShape(t, &b, &nb), ACLNN_SUCCESS);
  EXPECT_NE(a, b);
  a[0] = 999;
  EXPECT_EQ(b[0], 5);
  delete[] a;
  delete[] b;
  EXPECT_EQ(describe(t).view, (V{5, 6}));
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
}

TEST(TensorTest, ManyFormatsAndTypes) {
  const V view = {2, 2};
  for (aclFormat f : {ACL_FORMAT_NCHW, ACL_FORMAT_NHWC, ACL_FORMAT_ND, ACL_FORMAT_NC1HWC0, ACL_FORMAT_FRACTAL_Z,
                      ACL_FRACTAL_Z_3D, ACL_FORMAT_FRACTAL_NZ_C0_32, ACL_FORMAT_UNDEFINED}) {
    for (aclDataType dt : {ACL_FLOAT, ACL_BF16, ACL_INT4, ACL_UINT1, ACL_FLOAT4_E2M1, ACL_DT_UNDEFINED}) {
      aclTensor *t = aclCreateTensor(view.data(), 2, dt, nullptr, 0, f, view.data(), 2, nullptr);
      ASSERT_NE(t, nullptr);
      aclFormat got_f = ACL_FORMAT_NCL;
      aclDataType got_dt = ACL_STRING;
      EXPECT_EQ(aclGetFormat(t, &got_f), ACLNN_SUCCESS);
      EXPECT_EQ(aclGetDataType(t, &got_dt), ACLNN_SUCCESS);
      EXPECT_EQ(got_f, f);
      EXPECT_EQ(got_dt, dt);
      EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
    }
  }
}

TEST(TensorTest, InitTensorRedescribes) {
  const V view = {4, 8};
  int data1[32] = {};
  int data2[64] = {};
  aclTensor *t = aclCreateTensor(view.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, view.data(), 2, data1);
  ASSERT_NE(t, nullptr);

  const V view2 = {2, 3, 8};
  const V strides2 = {48, 16, 2};
  const V storage2 = {64};
  ASSERT_EQ(
      aclInitTensor(t, view2.data(), 3, ACL_FLOAT16, strides2.data(), 3, ACL_FORMAT_NCL, storage2.data(), 1, data2),
      ACLNN_SUCCESS);
  Described d = describe(t);
  EXPECT_EQ(d.view, view2);
  EXPECT_EQ(d.strides, strides2);
  EXPECT_EQ(d.storage, storage2);
  EXPECT_EQ(d.offset, 3);
  EXPECT_EQ(d.format, ACL_FORMAT_NCL);
  EXPECT_EQ(d.dtype, ACL_FLOAT16);

  // Again with a NULL stride: contiguous strides for the new view, not the old ones.
  const V view3 = {6, 5};
  ASSERT_EQ(aclInitTensor(t, view3.data(), 2, ACL_INT8, nullptr, 0, ACL_FORMAT_ND, view3.data(), 2, data1),
            ACLNN_SUCCESS);
  d = describe(t);
  EXPECT_EQ(d.view, view3);
  EXPECT_EQ(d.strides, (V{5, 1}));
  EXPECT_EQ(d.storage, view3);
  EXPECT_EQ(d.offset, 0);
  EXPECT_EQ(d.format, ACL_FORMAT_ND);
  EXPECT_EQ(d.dtype, ACL_INT8);

  // Back to a scalar.
  ASSERT_EQ(aclInitTensor(t, nullptr, 0, ACL_FLOAT, nullptr, 0, ACL_FORMAT_ND, nullptr, 0, data1), ACLNN_SUCCESS);
  d = describe(t);
  EXPECT_TRUE(d.view.empty());
  EXPECT_TRUE(d.strides.empty());
  EXPECT_TRUE(d.storage.empty());
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
}

TEST(TensorTest, InitTensorRefusesBadArguments) {
  const V view = {4, 8};
  EXPECT_EQ(aclInitTensor(nullptr, view.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, view.data(), 2, nullptr),
            ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclInitTensor", "NULL"}));

  aclTensor *t = aclCreateTensor(view.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, view.data(), 2, nullptr);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(aclInitTensor(t, nullptr, 2, ACL_INT8, nullptr, 0, ACL_FORMAT_ND, view.data(), 2, nullptr),
            ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclInitTensor", "viewDims"}));
  EXPECT_EQ(aclInitTensor(t, view.data(), 2, ACL_INT8, nullptr, 0, ACL_FORMAT_ND, nullptr, 2, nullptr),
            ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclInitTensor", "storageDims"}));
  const V many(65, 1);
  EXPECT_EQ(aclInitTensor(t, many.data(), 65, ACL_INT8, nullptr, 0, ACL_FORMAT_ND, view.data(), 2, nullptr),
            ACLNN_ERR_PARAM_INVALID);
  EXPECT_FALSE(recent_error().empty());
  // A refused re-initialisation leaves the tensor as it was.
  const Described d = describe(t);
  EXPECT_EQ(d.view, view);
  EXPECT_EQ(d.dtype, ACL_INT32);

  ASSERT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
  // A destroyed tensor is no longer live.
  EXPECT_EQ(aclInitTensor(t, view.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, view.data(), 2, nullptr),
            ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"aclInitTensor"}));
}

TEST(TensorTest, DestroyNullIsSuccess) {
  aclGetRecentErrMsg();
  EXPECT_EQ(aclDestroyTensor(nullptr), ACLNN_SUCCESS);
  EXPECT_EQ(aclGetRecentErrMsg(), nullptr);
}

TEST(TensorTest, DestroyTwiceIsRefused) {
  const V view = {2};
  aclTensor *t = aclCreateTensor(view.data(), 1, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, view.data(), 1, nullptr);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"aclDestroyTensor"}));
  // Accessors refuse it too.
  aclDataType dt = ACL_FLOAT;
  EXPECT_EQ(aclGetDataType(t, &dt), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetDataType"}));
  int64_t *array = nullptr;
  uint64_t count = 0;
  EXPECT_EQ(aclGetViewShape(t, &array, &count), ACLNN_ERR_PARAM_INVALID);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetViewShape"}));
  EXPECT_EQ(array, nullptr);
}

TEST(TensorTest, DestroyNeverFreesData) {
  void *dev = nullptr;
  ASSERT_EQ(aclrtMalloc(&dev, 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  const V view = {16};
  aclTensor *t = aclCreateTensor(view.data(), 1, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, view.data(), 1, dev);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
  EXPECT_EQ(aclrtFree(dev), ACL_SUCCESS);  // still ours to free: the tensor did not free it
}

TEST(TensorTest, NullTensorAndNullOutPointers) {
  int64_t *array = nullptr;
  uint64_t count = 0;
  int64_t offset = 0;
  aclFormat format = ACL_FORMAT_ND;
  aclDataType dtype = ACL_FLOAT;

  EXPECT_EQ(aclGetViewShape(nullptr, &array, &count), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetViewShape", "NULL"}));
  EXPECT_EQ(aclGetStorageShape(nullptr, &array, &count), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetStorageShape", "NULL"}));
  EXPECT_EQ(aclGetViewStrides(nullptr, &array, &count), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetViewStrides", "NULL"}));
  EXPECT_EQ(aclGetViewOffset(nullptr, &offset), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetViewOffset", "NULL"}));
  EXPECT_EQ(aclGetFormat(nullptr, &format), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetFormat", "NULL"}));
  EXPECT_EQ(aclGetDataType(nullptr, &dtype), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetDataType", "NULL"}));
  EXPECT_EQ(array, nullptr);

  const V view = {3, 4};
  aclTensor *t = aclCreateTensor(view.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, view.data(), 2, nullptr);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(aclGetViewShape(t, nullptr, &count), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetViewShape"}));
  EXPECT_EQ(aclGetViewShape(t, &array, nullptr), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclGetStorageShape(t, nullptr, &count), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclGetStorageShape(t, &array, nullptr), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclGetViewStrides(t, nullptr, &count), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclGetViewStrides(t, &array, nullptr), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_FALSE(recent_error().empty());
  EXPECT_EQ(aclGetViewOffset(t, nullptr), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetViewOffset"}));
  EXPECT_EQ(aclGetFormat(t, nullptr), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetFormat"}));
  EXPECT_EQ(aclGetDataType(t, nullptr), ACLNN_ERR_PARAM_NULLPTR);
  EXPECT_TRUE(Mentions(recent_error(), {"aclGetDataType"}));
  EXPECT_EQ(array, nullptr);  // nothing handed out on failure
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
}

TEST(TensorTest, ScalarTensor) {
  float value = 2.5f;
  aclTensor *t = aclCreateTensor(nullptr, 0, ACL_FLOAT, nullptr, 0, ACL_FORMAT_ND, nullptr, 0, &value);
  ASSERT_NE(t, nullptr);
  const Described d = describe(t);
  EXPECT_TRUE(d.view.empty());
  EXPECT_TRUE(d.strides.empty());
  EXPECT_TRUE(d.storage.empty());
  EXPECT_EQ(d.offset, 0);
  EXPECT_EQ(d.format, ACL_FORMAT_ND);
  EXPECT_EQ(d.dtype, ACL_FLOAT);
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);

  // Non-NULL dims pointers with count 0 are a scalar as well.
  const V unused = {9, 9};
  t = aclCreateTensor(unused.data(), 0, ACL_INT64, unused.data(), 0, ACL_FORMAT_ND, unused.data(), 0, &value);
  ASSERT_NE(t, nullptr);
  const Described d2 = describe(t);
  EXPECT_TRUE(d2.view.empty());
  EXPECT_TRUE(d2.strides.empty());
  EXPECT_TRUE(d2.storage.empty());
  EXPECT_EQ(d2.dtype, ACL_INT64);
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
}

TEST(TensorTest, ZeroSizedDims) {
  const V view = {0, 4};
  aclTensor *t = aclCreateTensor(view.data(), 2, ACL_INT32, nullptr, 0, ACL_FORMAT_ND, view.data(), 2, nullptr);
  ASSERT_NE(t, nullptr);
  const Described d = describe(t);
  EXPECT_EQ(d.view, view);
  EXPECT_EQ(d.strides, (V{4, 1}));
  EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
}

TEST(TensorTest, ManyTensorsAreIndependent) {
  std::vector<aclTensor *> tensors;
  for (int64_t i = 1; i <= 50; ++i) {
    const V view = {i, i + 1};
    tensors.push_back(aclCreateTensor(view.data(), 2, ACL_INT32, nullptr, i, ACL_FORMAT_ND, view.data(), 2, nullptr));
    ASSERT_NE(tensors.back(), nullptr);
  }
  for (int64_t i = 1; i <= 50; ++i) {
    const Described d = describe(tensors[static_cast<size_t>(i - 1)]);
    EXPECT_EQ(d.view, (V{i, i + 1}));
    EXPECT_EQ(d.offset, i);
  }
  for (aclTensor *t : tensors) EXPECT_EQ(aclDestroyTensor(t), ACLNN_SUCCESS);
}

}  // namespace
}  // namespace int4pack::testing
