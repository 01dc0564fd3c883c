// A reusable working buffer for one tensor at a time, kept for the life of the thread.
//
// Fresh anonymous memory costs a page fault per 4 KiB on first touch, and in a virtual machine a fault is
// several microseconds: a new 16 MiB vector per tensor spent more time faulting than packing. This buffer
// grows to the largest tensor seen, is asked for transparent huge pages, and is populated with one
// system call, so the resident set stays near the largest tensor (as it did with per-tensor vectors)
// while the faults are paid once.
#ifndef INT4PACK_CHECKPOINT_SCRATCH_H_
#define INT4PACK_CHECKPOINT_SCRATCH_H_

#include <cstddef>
#include <cstdint>

namespace int4pack::checkpoint {

class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer &) = delete;
  ScratchBuffer &operator=(const ScratchBuffer &) = delete;
  ~ScratchBuffer();

  // At least `bytes` writable bytes, 64-byte aligned, contents unspecified; valid until the next call.
  // Throws std::bad_alloc when the memory cannot be had.
  uint8_t *get(size_t bytes);

 private:
  uint8_t *data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_SCRATCH_H_
