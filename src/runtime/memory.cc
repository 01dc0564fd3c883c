// Device and host memory. "Device" memory lives in this process; every block is registered so that a
// pointer the library did not hand out (or already took back) is refused instead of passed to free().
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "acl/acl.h"
#include "runtime/internal_api.h"

namespace int4pack::runtime {
namespace {

constexpr size_t kAlignment = 64;  // at least CANN's 32, and a whole cache line for SIMD kernels
constexpr size_t kPadding = 32;    // CANN pads every allocation by 32 bytes
// Blocks of at least one huge page, under a policy that asks for huge pages, are aligned to one and
// advised as such: a weight of hundreds of megabytes then costs a TLB entry per 2 MiB rather than per
// 4 KiB, which the NZ kernel's scattered block writes and every streaming pass feel. Where the kernel
// has transparent huge pages off, the advice is ignored and the block is simply aligned.
constexpr size_t kHugePage = size_t{2} << 20;

class Registry {
 public:
  bool add(void *p, size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    return blocks_.emplace(p, size).second;
  }
  bool remove(void *p) {
    std::lock_guard<std::mutex> lock(mutex_);
    return blocks_.erase(p) != 0;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<void *, size_t> blocks_;
};

Registry &device_blocks() {
  static Registry *r = new Registry;
  return *r;
}
Registry &host_blocks() {
  static Registry *r = new Registry;
  return *r;
}

aclError allocate(const char *api, Registry &registry, void **out, size_t size, bool prefer_huge) {
  if (out == nullptr) return fail(ACL_ERROR_INVALID_PARAM, std::string(api) + ": the output pointer is NULL");
  if (size == 0) return fail(ACL_ERROR_INVALID_PARAM, std::string(api) + ": size is 0");
  size_t padded = 0;
  if (__builtin_add_overflow(size, kPadding + kAlignment - 1, &padded)) {
    return fail(ACL_ERROR_BAD_ALLOC, std::string(api) + ": size " + std::to_string(size) + " is too large");
  }
  padded -= padded % kAlignment;
  const bool huge = prefer_huge && padded >= kHugePage && padded <= SIZE_MAX - kHugePage;
  if (huge) padded = (padded + kHugePage - 1) / kHugePage * kHugePage;
  void *p = std::aligned_alloc(huge ? kHugePage : kAlignment, padded);
#if defined(MADV_HUGEPAGE)
  if (p != nullptr && huge) madvise(p, padded, MADV_HUGEPAGE);  // advice only: failure changes nothing
#endif
  if (p == nullptr) {
    return fail(ACL_ERROR_BAD_ALLOC, std::string(api) + ": cannot allocate " + std::to_string(size) + " bytes");
  }
  if (!registry.add(p, size)) {
    std::free(p);
    return fail(ACL_ERROR_INTERNAL_ERROR, std::string(api) + ": allocator returned a block that is still registered");
  }
  *out = p;
  return ACL_SUCCESS;
}

aclError release(const char *api, Registry &registry, void *p, const char *allocator) {
  if (p == nullptr) return fail(ACL_ERROR_INVALID_PARAM, std::string(api) + ": pointer is NULL");
  if (!registry.remove(p)) {
    return fail(ACL_ERROR_INVALID_PARAM,
                std::string(api) + ": pointer was not returned by " + allocator + ", or was already freed");
  }
  std::free(p);
  return ACL_SUCCESS;
}

aclError check_copy(const char *api, void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind) {
  if (static_cast<int>(kind) < ACL_MEMCPY_HOST_TO_HOST || static_cast<int>(kind) > ACL_MEMCPY_DEFAULT) {
    return fail(ACL_ERROR_INVALID_PARAM, std::string(api) + ": kind " + std::to_string(static_cast<int>(kind)) +
                                             " is not an aclrtMemcpyKind (0..4)");
  }
  if (count == 0) return ACL_SUCCESS;
  if (dst == nullptr) return fail(ACL_ERROR_INVALID_PARAM, std::string(api) + ": dst is NULL");
  if (src == nullptr) return fail(ACL_ERROR_INVALID_PARAM, std::string(api) + ": src is NULL");
  if (count > destMax) {
    return fail(ACL_ERROR_INVALID_PARAM, std::string(api) + ": count " + std::to_string(count) +
                                             " is larger than destMax " + std::to_string(destMax));
  }
  return ACL_SUCCESS;
}

}  // namespace
}  // namespace int4pack::runtime

using namespace int4pack::runtime;

extern "C" {

aclError aclrtMalloc(void **devPtr, size_t size, aclrtMemMallocPolicy policy) {
  if (static_cast<int>(policy) < ACL_MEM_MALLOC_HUGE_FIRST ||
      static_cast<int>(policy) > ACL_MEM_MALLOC_NORMAL_ONLY_P2P) {
    return fail(ACL_ERROR_INVALID_PARAM, "aclrtMalloc: policy " + std::to_string(static_cast<int>(policy)) +
                                             " is not an aclrtMemMallocPolicy (0..5)");
  }
  // Every policy but NORMAL_ONLY (and its P2P twin) asks for huge pages first or only; with none at hand
  // (THP off), HUGE_ONLY gets normal pages rather than failing, as a host has no separate huge-page pool.
  const bool prefer_huge = policy != ACL_MEM_MALLOC_NORMAL_ONLY && policy != ACL_MEM_MALLOC_NORMAL_ONLY_P2P;
  return allocate("aclrtMalloc", device_blocks(), devPtr, size, prefer_huge);
}

aclError aclrtFree(void *devPtr) { return release("aclrtFree", device_blocks(), devPtr, "aclrtMalloc"); }

aclError aclrtMallocHost(void **hostPtr, size_t size) {
  return allocate("aclrtMallocHost", host_blocks(), hostPtr, size, true);
}

aclError aclrtFreeHost(void *hostPtr) { return release("aclrtFreeHost", host_blocks(), hostPtr, "aclrtMallocHost"); }

aclError aclrtMemcpy(void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind) {
  if (aclError status = check_copy("aclrtMemcpy", dst, destMax, src, count, kind); status != ACL_SUCCESS) {
    return status;
  }
  if (count != 0) std::memmove(dst, src, count);
  return ACL_SUCCESS;
}

aclError aclrtMemcpyAsync(void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind,
                          aclrtStream stream) {
  if (aclError status = check_copy("aclrtMemcpyAsync", dst, destMax, src, count, kind); status != ACL_SUCCESS) {
    return status;
  }
  return enqueue("aclrtMemcpyAsync", stream, [dst, src, count]() -> aclError {
    if (count != 0) std::memmove(dst, src, count);
    return ACL_SUCCESS;
  });
}

aclError aclrtMemset(void *devPtr, size_t maxCount, int32_t value, size_t count) {
  if (devPtr == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemset: devPtr is NULL");
  if (count > maxCount) {
    return fail(ACL_ERROR_INVALID_PARAM,
                "aclrtMemset: count " + std::to_string(count) + " is larger than maxCount " + std::to_string(maxCount));
  }
  std::memset(devPtr, value, count);
  return ACL_SUCCESS;
}

}  // extern "C"
