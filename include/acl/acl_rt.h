/*
 * int4pack — CANN-compatible runtime: devices, streams, events, memory.
 *
 * The "device" is this host. Device memory is memory the library allocated with aclrtMalloc. A stream
 * is an asynchronous FIFO: work enqueued on it runs in order on a worker thread, never on the caller's.
 * All functions are thread-safe. None of them aborts or prints; failures return a status and leave a
 * message for aclGetRecentErrMsg().
 */
#ifndef INT4PACK_ACL_ACL_RT_H_
#define INT4PACK_ACL_ACL_RT_H_

#include "acl_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  ACL_MEMCPY_HOST_TO_HOST = 0,
  ACL_MEMCPY_HOST_TO_DEVICE = 1,
  ACL_MEMCPY_DEVICE_TO_HOST = 2,
  ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
  ACL_MEMCPY_DEFAULT = 4
} aclrtMemcpyKind;

typedef enum {
  ACL_MEM_MALLOC_HUGE_FIRST = 0,
  ACL_MEM_MALLOC_HUGE_ONLY = 1,
  ACL_MEM_MALLOC_NORMAL_ONLY = 2,
  ACL_MEM_MALLOC_HUGE_FIRST_P2P = 3,
  ACL_MEM_MALLOC_HUGE_ONLY_P2P = 4,
  ACL_MEM_MALLOC_NORMAL_ONLY_P2P = 5
} aclrtMemMallocPolicy;

/* Devices. There is one device, id 0. aclrtSetDevice binds it to the calling thread. */
ACL_FUNC_VISIBILITY aclError aclrtSetDevice(int32_t deviceId);
/* Finishes all work queued on the device's streams, then destroys its streams and events. */
ACL_FUNC_VISIBILITY aclError aclrtResetDevice(int32_t deviceId);
/* deviceId: out, caller-owned. Fails when no device was set on this thread. */
ACL_FUNC_VISIBILITY aclError aclrtGetDevice(int32_t *deviceId);
/* count: out, caller-owned. */
ACL_FUNC_VISIBILITY aclError aclrtGetDeviceCount(uint32_t *count);
/* Waits for every stream of the current device; returns the first error any of them hit. */
ACL_FUNC_VISIBILITY aclError aclrtSynchronizeDevice(void);

/*
 * Streams. stream: out, owned by the library until aclrtDestroyStream. Wherever a stream is taken,
 * NULL means the current device's default stream.
 */
ACL_FUNC_VISIBILITY aclError aclrtCreateStream(aclrtStream *stream);
/* Work already queued on the stream is finished before it is destroyed (never dropped). */
ACL_FUNC_VISIBILITY aclError aclrtDestroyStream(aclrtStream stream);
/* Blocks until everything enqueued so far has run; returns (and clears) the first error it hit. */
ACL_FUNC_VISIBILITY aclError aclrtSynchronizeStream(aclrtStream stream);

/* Events. event: out, owned by the library until aclrtDestroyEvent. */
ACL_FUNC_VISIBILITY aclError aclrtCreateEvent(aclrtEvent *event);
ACL_FUNC_VISIBILITY aclError aclrtDestroyEvent(aclrtEvent event);
/* Enqueues a marker: the event completes when the stream reaches it. Re-recording moves the marker. */
ACL_FUNC_VISIBILITY aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream);
/* Blocks until the most recent record of the event has completed (at once if never recorded). */
ACL_FUNC_VISIBILITY aclError aclrtSynchronizeEvent(aclrtEvent event);
/* Work enqueued on stream after this call waits for the event's most recent record to complete. */
ACL_FUNC_VISIBILITY aclError aclrtStreamWaitEvent(aclrtStream stream, aclrtEvent event);

/*
 * Memory. devPtr/hostPtr: out; the block is owned by the caller and released with aclrtFree /
 * aclrtFreeHost. Blocks are aligned to 64 bytes and padded by 32 bytes, as CANN does. size 0 is refused.
 */
ACL_FUNC_VISIBILITY aclError aclrtMalloc(void **devPtr, size_t size, aclrtMemMallocPolicy policy);
/* Freeing a pointer that aclrtMalloc did not return (or freeing twice) is refused, not a crash. */
ACL_FUNC_VISIBILITY aclError aclrtFree(void *devPtr);
ACL_FUNC_VISIBILITY aclError aclrtMallocHost(void **hostPtr, size_t size);
ACL_FUNC_VISIBILITY aclError aclrtFreeHost(void *hostPtr);

/* Synchronous; not ordered with streams. Fails when count > destMax or a pointer is NULL and count > 0. */
ACL_FUNC_VISIBILITY aclError aclrtMemcpy(void *dst, size_t destMax, const void *src, size_t count,
                                         aclrtMemcpyKind kind);
/* Checked at once, performed in stream order. dst and src are borrowed until the copy has run. */
ACL_FUNC_VISIBILITY aclError aclrtMemcpyAsync(void *dst, size_t destMax, const void *src, size_t count,
                                              aclrtMemcpyKind kind, aclrtStream stream);
/* Sets count bytes to (uint8_t)value. Fails when count > maxCount or devPtr is NULL. */
ACL_FUNC_VISIBILITY aclError aclrtMemset(void *devPtr, size_t maxCount, int32_t value, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* INT4PACK_ACL_ACL_RT_H_ */
