#include "checkpoint/scratch.h"

#include <sys/mman.h>

#include <new>

namespace int4pack::checkpoint {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

#if defined(MADV_POPULATE_WRITE)
constexpr int kPopulateWrite = MADV_POPULATE_WRITE;
#else
constexpr int kPopulateWrite = 23;  // Linux 5.14+; older kernels answer EINVAL and pages fault in as usual
#endif

}  // namespace

ScratchBuffer::~ScratchBuffer() {
  if (data_ != nullptr) ::munmap(data_, capacity_);
}

uint8_t *ScratchBuffer::get(size_t bytes) {
  if (bytes <= capacity_ && data_ != nullptr) return data_;
  if (bytes > SIZE_MAX - kHugePage) throw std::bad_alloc();
  const size_t capacity = bytes == 0 ? kHugePage : (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void *p = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  if (data_ != nullptr) ::munmap(data_, capacity_);
  data_ = static_cast<uint8_t *>(p);
  capacity_ = capacity;
  // Both are advice: where they fail, the pages fault in on first touch as usual.
#if defined(MADV_HUGEPAGE)
  ::madvise(data_, capacity_, MADV_HUGEPAGE);
#endif
  ::madvise(data_, capacity_, kPopulateWrite);
  return data_;
}

}  // namespace int4pack::checkpoint
