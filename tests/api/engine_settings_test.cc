// The engine behind the operators: INT4PACK_ISA / INT4PACK_NUM_THREADS and their C API. ctest runs this
// binary under each INT4PACK_ISA value (see tests/CMakeLists.txt), including an unknown one.
#include <cstdlib>
#include <string>

#include "int4pack/settings.h"
#include "test_support.h"

namespace int4pack::testing {
namespace {

std::string env(const char *name) {
  const char *v = std::getenv(name);
  return v != nullptr ? v : "";
}

class EngineSettingsTest : public AclTest {};

TEST_F(EngineSettingsTest, ReportsTheIsaInUse) {
  const char *isa = int4packGetIsa();
  const std::string forced = env("INT4PACK_ISA");
  if (forced.empty()) {
    ASSERT_NE(isa, nullptr);
  } else if (isa != nullptr) {
    EXPECT_EQ(std::string(isa), forced);
  } else {
    EXPECT_NE(recent_error().find("INT4PACK_ISA=" + forced), std::string::npos);
  }
}

// An unknown or unsupported INT4PACK_ISA is an error, not a silent fallback: phase 1 refuses.
TEST_F(EngineSettingsTest, InvalidIsaSettingMakesPhaseOneRefuse) {
  if (int4packGetIsa() != nullptr) GTEST_SKIP() << "INT4PACK_ISA is valid in this run";
  const std::string why = recent_error();
  std::vector<int32_t> w(64, 1);
  std::vector<uint8_t> out(32);
  Tensor wt({1, 64}, ACL_INT32, ACL_FORMAT_ND, w.data());
  Tensor ot({1, 64}, ACL_INT4, ACL_FORMAT_ND, out.data());
  uint64_t workspace = 0;
  aclOpExecutor *executor = nullptr;
  EXPECT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(wt.get(), ot.get(), &workspace, &executor),
            ACLNN_ERR_INNER_FIND_KERNEL_ERROR);
  const std::string message = recent_error();
  EXPECT_NE(message.find("INT4PACK_ISA=" + env("INT4PACK_ISA")), std::string::npos) << message;
  EXPECT_EQ(executor, nullptr);
  EXPECT_FALSE(why.empty());
}

TEST_F(EngineSettingsTest, ThreadCountApi) {
  const int32_t initial = int4packGetNumThreads();
  EXPECT_GE(initial, 1);
  if (!env("INT4PACK_NUM_THREADS").empty()) {
    EXPECT_EQ(initial, std::atoi(env("INT4PACK_NUM_THREADS").c_str()));
  }
  EXPECT_EQ(int4packSetNumThreads(5), ACLNN_SUCCESS);
  EXPECT_EQ(int4packGetNumThreads(), 5);
  EXPECT_EQ(int4packSetNumThreads(-2), ACLNN_ERR_PARAM_INVALID);
  EXPECT_NE(recent_error().find("numThreads"), std::string::npos);
  EXPECT_EQ(int4packGetNumThreads(), 5);
  EXPECT_EQ(int4packSetNumThreads(0), ACLNN_SUCCESS);
  EXPECT_EQ(int4packGetNumThreads(), initial);
}

// Large enough to be split over threads and written with streaming stores, through the whole API.
TEST_F(EngineSettingsTest, LargeWeightOnEveryThreadCount) {
  if (int4packGetIsa() == nullptr) GTEST_SKIP() << "INT4PACK_ISA is invalid in this run";
  const int64_t rows = 2049;
  const int64_t cols = 1090;
  const auto weight = random_weight(rows, cols, 77);
  for (aclFormat format : {ACL_FORMAT_ND, ACL_FORMAT_FRACTAL_NZ}) {
    std::vector<uint8_t> first;
    for (int32_t threads : {1, 2, 3, 8}) {
      SCOPED_TRACE(std::to_string(threads) + " threads");
      ASSERT_EQ(int4packSetNumThreads(threads), ACLNN_SUCCESS);
      const auto storage = packed_storage(rows, cols, ACL_INT4, format);
      std::vector<uint8_t> packed(storage_bytes(storage, ACL_INT4), 0xA5);
      std::vector<int32_t> back(weight.size(), 0x5A5A5A5A);
      Tensor wt({rows, cols}, ACL_INT32, ACL_FORMAT_ND, const_cast<int32_t *>(weight.data()));
      Tensor pt({rows, cols}, ACL_INT4, format, packed.data(), storage);
      Tensor bt({rows, cols}, ACL_INT32, ACL_FORMAT_ND, back.data());
      ASSERT_EQ(convert(wt.get(), pt.get(), stream_), ACLNN_SUCCESS) << recent_error();
      ASSERT_EQ(unpack(pt.get(), bt.get(), stream_), ACLNN_SUCCESS) << recent_error();
      ASSERT_EQ(back, weight);
      if (first.empty()) first = packed;
      ASSERT_EQ(packed, first);
    }
  }
  EXPECT_EQ(int4packSetNumThreads(0), ACLNN_SUCCESS);
}

}  // namespace
}  // namespace int4pack::testing
