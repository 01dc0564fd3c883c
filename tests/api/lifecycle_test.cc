// Long-running use: many create / run / destroy cycles must not grow the process (no leaked tensors,
// executors, stream work or registry entries). LeakSanitizer covers the same in the sanitizer build.
#include <unistd.h>

#include <fstream>

#include "test_support.h"

namespace int4pack::testing {
namespace {

long resident_kib() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0;
  long pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

using LifecycleTest = AclTest;

TEST_F(LifecycleTest, TenThousandCreateRunDestroyCyclesDoNotGrowMemory) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizers' allocators hold freed memory back (ASan's quarantine), so the resident set says
  // nothing here; LeakSanitizer checks for leaks in that build instead.
  GTEST_SKIP() << "resident set not meaningful under a sanitizer allocator";
#endif
  const auto weight = random_weight(16, 64, 1);
  std::vector<uint8_t> out(512);
  const auto cycle = [&](int i) {
    aclrtStream stream = nullptr;
    ASSERT_EQ(aclrtCreateStream(&stream), ACL_SUCCESS);
    Tensor wt({16, 64}, ACL_INT32, ACL_FORMAT_ND, const_cast<int32_t *>(weight.data()));
    Tensor ot({16, 64}, ACL_INT4, ACL_FORMAT_FRACTAL_NZ, out.data(), {1, 1, 16, 64});
    uint64_t workspace = 0;
    aclOpExecutor *executor = nullptr;
    ASSERT_EQ(aclnnConvertWeightToINT4PackGetWorkspaceSize(wt.get(), ot.get(), &workspace, &executor), ACLNN_SUCCESS);
    const bool repeatable = i % 2 == 1;
    if (repeatable) {
      ASSERT_EQ(aclSetAclOpExecutorRepeatable(executor), ACLNN_SUCCESS);
    }
    ASSERT_EQ(aclnnConvertWeightToINT4Pack(nullptr, workspace, executor, stream), ACLNN_SUCCESS);
    if (repeatable) {
      ASSERT_EQ(aclDestroyAclOpExecutor(executor), ACLNN_SUCCESS);
    }
    ASSERT_EQ(aclrtSynchronizeStream(stream), ACL_SUCCESS);
    ASSERT_EQ(aclrtDestroyStream(stream), ACL_SUCCESS);
  };
  for (int i = 0; i < 200; ++i) cycle(i);  // warm up allocators and thread stacks
  const long before = resident_kib();
  for (int i = 0; i < 10000; ++i) {
    cycle(i);
    if (HasFatalFailure()) return;
  }
  const long growth = resident_kib() - before;
  // A leak of even 100 bytes a cycle would show as ~1 MB; allow allocator noise below that.
  EXPECT_LT(growth, 1024) << "resident set grew by " << growth << " KiB over 10,000 cycles";
}

}  // namespace
}  // namespace int4pack::testing
