// Process state, the device, streams and events.
//
// Streams and events are handed out as the addresses of their objects and kept in registries of
// shared pointers, so a stale or foreign handle is refused instead of dereferenced, and work that is
// still queued keeps what it uses alive.
#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "acl/acl.h"
#include "runtime/internal_api.h"
#include "runtime/stream.h"

namespace int4pack::runtime {
namespace {

constexpr int32_t kDeviceCount = 1;

struct Event {
  std::mutex mutex;
  std::condition_variable reached;
  uint64_t recorded = 0;   // records issued (the most recent one is what waiters wait for)
  uint64_t completed = 0;  // highest record a stream has reached
};

enum class InitState { kNever, kInitialized, kFinalized };

struct State {
  std::mutex mutex;
  InitState init = InitState::kNever;
  std::shared_ptr<Stream> default_stream;
  std::unordered_map<const void *, std::shared_ptr<Stream>> streams;
  std::unordered_map<const void *, std::shared_ptr<Event>> events;
};

// Never destroyed: stream workers may still run while static destructors do at process exit.
State &state() {
  static State *s = new State;
  return *s;
}

thread_local int32_t current_device = -1;

bool valid_device(int32_t id) { return id >= 0 && id < kDeviceCount; }

aclError invalid_device(const char *api, int32_t id) {
  return fail(ACL_ERROR_INVALID_DEVICE, std::string(api) + ": device id " + std::to_string(id) +
                                            " does not exist; this host provides " + std::to_string(kDeviceCount) +
                                            " device (id 0)");
}

// Resolves a stream handle (nullptr: default stream, created on first use).
aclError find_stream(const char *api, aclrtStream handle, std::shared_ptr<Stream> *out) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (handle == nullptr) {
    if (!s.default_stream) {
      try {
        s.default_stream = std::make_shared<Stream>();
      } catch (const std::bad_alloc &) {
        return fail(ACL_ERROR_BAD_ALLOC, std::string(api) + ": out of memory creating the default stream");
      } catch (const std::system_error &e) {
        return fail(ACL_ERROR_RT_FAILURE, std::string(api) + ": cannot start the default stream's worker: " + e.what());
      }
    }
    *out = s.default_stream;
    return ACL_SUCCESS;
  }
  auto it = s.streams.find(handle);
  if (it == s.streams.end()) {
    return fail(ACL_ERROR_INVALID_RESOURCE_HANDLE,
                std::string(api) + ": stream is not a live stream (never created, or already destroyed)");
  }
  *out = it->second;
  return ACL_SUCCESS;
}

aclError find_event(const char *api, aclrtEvent handle, std::shared_ptr<Event> *out) {
  if (handle == nullptr) return fail(ACL_ERROR_INVALID_PARAM, std::string(api) + ": event is NULL");
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.events.find(handle);
  if (it == s.events.end()) {
    return fail(ACL_ERROR_INVALID_RESOURCE_HANDLE,
                std::string(api) + ": event is not a live event (never created, or already destroyed)");
  }
  *out = it->second;
  return ACL_SUCCESS;
}

// Takes every stream and event out of the registries and drains the streams outside the lock, so queued
// work finishes and nothing waits on a lock that the work might need.
void reset_all() {
  State &s = state();
  std::vector<std::shared_ptr<Stream>> draining;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (auto &entry : s.streams) draining.push_back(std::move(entry.second));
    s.streams.clear();
    if (s.default_stream) draining.push_back(std::move(s.default_stream));
    s.default_stream.reset();
    s.events.clear();
  }
  for (auto &stream : draining) stream->close();
}

}  // namespace

aclError enqueue(const char *api, aclrtStream handle, StreamWork work) {
  std::shared_ptr<Stream> stream;
  if (aclError status = find_stream(api, handle, &stream); status != ACL_SUCCESS) return status;
  if (!stream->enqueue(std::move(work))) {
    return fail(ACL_ERROR_INVALID_RESOURCE_HANDLE,
                std::string(api) + ": stream was destroyed while work was being enqueued on it");
  }
  return ACL_SUCCESS;
}

}  // namespace int4pack::runtime

using namespace int4pack::runtime;

extern "C" {

aclError aclInit(const char * /*configPath*/) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.init == InitState::kInitialized) {
    return fail(ACL_ERROR_REPEAT_INITIALIZE, "aclInit: already initialized (call aclFinalize first)");
  }
  s.init = InitState::kInitialized;
  return ACL_SUCCESS;
}

aclError aclFinalize(void) {
  State &s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.init == InitState::kNever) return fail(ACL_ERROR_UNINITIALIZE, "aclFinalize: aclInit was never called");
    if (s.init == InitState::kFinalized) return fail(ACL_ERROR_REPEAT_FINALIZE, "aclFinalize: already finalized");
    s.init = InitState::kFinalized;
  }
  reset_all();
  current_device = -1;
  return ACL_SUCCESS;
}

aclError aclrtSetDevice(int32_t deviceId) {
  if (!valid_device(deviceId)) return invalid_device("aclrtSetDevice", deviceId);
  current_device = deviceId;
  return ACL_SUCCESS;
}

aclError aclrtResetDevice(int32_t deviceId) {
  if (!valid_device(deviceId)) return invalid_device("aclrtResetDevice", deviceId);
  reset_all();
  if (current_device == deviceId) current_device = -1;
  return ACL_SUCCESS;
}

aclError aclrtGetDevice(int32_t *deviceId) {
  if (deviceId == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtGetDevice: deviceId is NULL");
  if (current_device < 0) {
    return fail(ACL_ERROR_INVALID_DEVICE, "aclrtGetDevice: no device is set on this thread (call aclrtSetDevice)");
  }
  *deviceId = current_device;
  return ACL_SUCCESS;
}

aclError aclrtGetDeviceCount(uint32_t *count) {
  if (count == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtGetDeviceCount: count is NULL");
  *count = kDeviceCount;
  return ACL_SUCCESS;
}

aclError aclrtSynchronizeDevice(void) {
  State &s = state();
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (auto &entry : s.streams) streams.push_back(entry.second);
    if (s.default_stream) streams.push_back(s.default_stream);
  }
  aclError first = ACL_SUCCESS;
  for (auto &stream : streams) {
    const aclError status = stream->synchronize();
    if (first == ACL_SUCCESS) first = status;
  }
  if (first != ACL_SUCCESS) return fail(first, "aclrtSynchronizeDevice: work queued on a stream failed");
  return ACL_SUCCESS;
}

aclError aclrtCreateStream(aclrtStream *stream) {
  if (stream == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtCreateStream: stream is NULL");
  std::shared_ptr<Stream> created;
  try {
    created = std::make_shared<Stream>();
  } catch (const std::bad_alloc &) {
    return fail(ACL_ERROR_BAD_ALLOC, "aclrtCreateStream: out of memory");
  } catch (const std::system_error &e) {
    return fail(ACL_ERROR_RT_FAILURE, std::string("aclrtCreateStream: cannot start the stream's worker: ") + e.what());
  }
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.streams.emplace(created.get(), created);
  *stream = created.get();
  return ACL_SUCCESS;
}

aclError aclrtDestroyStream(aclrtStream stream) {
  if (stream == nullptr) {
    return fail(ACL_ERROR_INVALID_PARAM, "aclrtDestroyStream: stream is NULL (the default stream is not destroyed)");
  }
  std::shared_ptr<Stream> doomed;
  {
    State &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.streams.find(stream);
    if (it == s.streams.end()) {
      return fail(ACL_ERROR_INVALID_RESOURCE_HANDLE,
                  "aclrtDestroyStream: stream is not a live stream (never created, or already destroyed)");
    }
    doomed = std::move(it->second);
    s.streams.erase(it);
  }
  doomed->close();  // queued work finishes first
  return ACL_SUCCESS;
}

aclError aclrtSynchronizeStream(aclrtStream stream) {
  std::shared_ptr<Stream> target;
  if (aclError status = find_stream("aclrtSynchronizeStream", stream, &target); status != ACL_SUCCESS) return status;
  const aclError status = target->synchronize();
  if (status != ACL_SUCCESS) {
    return fail(status,
                "aclrtSynchronizeStream: work queued on the stream failed with status " + std::to_string(status));
  }
  return ACL_SUCCESS;
}

aclError aclrtCreateEvent(aclrtEvent *event) {
  if (event == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtCreateEvent: event is NULL");
  std::shared_ptr<Event> created;
  try {
    created = std::make_shared<Event>();
  } catch (const std::bad_alloc &) {
    return fail(ACL_ERROR_BAD_ALLOC, "aclrtCreateEvent: out of memory");
  }
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.events.emplace(created.get(), created);
  *event = created.get();
  return ACL_SUCCESS;
}

aclError aclrtDestroyEvent(aclrtEvent event) {
  if (event == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtDestroyEvent: event is NULL");
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.events.erase(event) == 0) {
    return fail(ACL_ERROR_INVALID_RESOURCE_HANDLE,
                "aclrtDestroyEvent: event is not a live event (never created, or already destroyed)");
  }
  return ACL_SUCCESS;  // queued records and waits hold their own reference
}

aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream) {
  std::shared_ptr<Event> ev;
  if (aclError status = find_event("aclrtRecordEvent", event, &ev); status != ACL_SUCCESS) return status;
  std::shared_ptr<Stream> target;
  if (aclError status = find_stream("aclrtRecordEvent", stream, &target); status != ACL_SUCCESS) return status;
  std::lock_guard<std::mutex> lock(ev->mutex);
  const uint64_t generation = ev->recorded + 1;
  const bool queued = target->enqueue([ev, generation]() -> aclError {
    {
      std::lock_guard<std::mutex> event_lock(ev->mutex);
      ev->completed = std::max(ev->completed, generation);
    }
    ev->reached.notify_all();
    return ACL_SUCCESS;
  });
  if (!queued) return fail(ACL_ERROR_INVALID_RESOURCE_HANDLE, "aclrtRecordEvent: stream was destroyed meanwhile");
  ev->recorded = generation;
  return ACL_SUCCESS;
}

aclError aclrtSynchronizeEvent(aclrtEvent event) {
  std::shared_ptr<Event> ev;
  if (aclError status = find_event("aclrtSynchronizeEvent", event, &ev); status != ACL_SUCCESS) return status;
  std::unique_lock<std::mutex> lock(ev->mutex);
  const uint64_t target = ev->recorded;
  ev->reached.wait(lock, [&] { return ev->completed >= target; });
  return ACL_SUCCESS;
}

aclError aclrtStreamWaitEvent(aclrtStream stream, aclrtEvent event) {
  std::shared_ptr<Event> ev;
  if (aclError status = find_event("aclrtStreamWaitEvent", event, &ev); status != ACL_SUCCESS) return status;
  std::shared_ptr<Stream> target;
  if (aclError status = find_stream("aclrtStreamWaitEvent", stream, &target); status != ACL_SUCCESS) return status;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(ev->mutex);
    generation = ev->recorded;
  }
  const bool queued = target->enqueue([ev, generation]() -> aclError {
    std::unique_lock<std::mutex> lock(ev->mutex);
    ev->reached.wait(lock, [&] { return ev->completed >= generation; });
    return ACL_SUCCESS;
  });
  if (!queued) return fail(ACL_ERROR_INVALID_RESOURCE_HANDLE, "aclrtStreamWaitEvent: stream was destroyed meanwhile");
  return ACL_SUCCESS;
}

}  // extern "C"
