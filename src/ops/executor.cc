#include "ops/executor.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#include "acl/acl_base.h"

namespace int4pack::ops {

using runtime::fail;

namespace {

struct Entry {
  std::shared_ptr<const ExecutorWork> work;  // shared with runs still queued on streams
  uint64_t workspace_bytes = 0;
  bool repeatable = false;
};

struct Registry {
  std::mutex mutex;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, Entry> live;
};

Registry &registry() {
  static Registry *r = new Registry;
  return *r;
}

// Handles are id * 16: never zero, never a heap address that could be freed and handed out again.
uint64_t id_of(const aclOpExecutor *handle) { return reinterpret_cast<uintptr_t>(handle) / 16; }
aclOpExecutor *handle_of(uint64_t id) { return reinterpret_cast<aclOpExecutor *>(static_cast<uintptr_t>(id * 16)); }
bool well_formed(const aclOpExecutor *handle) { return reinterpret_cast<uintptr_t>(handle) % 16 == 0; }

aclnnStatus not_live(const char *api) {
  return fail(ACLNN_ERR_PARAM_INVALID,
              std::string(api) +
                  ": executor is not live: it was already consumed by a run (an executor runs once "
                  "unless made repeatable with aclSetAclOpExecutorRepeatable) or destroyed");
}

}  // namespace

aclnnStatus publish_executor(const char *api, ExecutorWork work, uint64_t workspace_bytes, uint64_t *workspaceSize,
                             aclOpExecutor **executor) {
  if (workspaceSize == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": workspaceSize is NULL");
  if (executor == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": executor is NULL");
  try {
    Entry entry{std::make_shared<const ExecutorWork>(std::move(work)), workspace_bytes};
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    const uint64_t id = r.next_id++;
    r.live.emplace(id, std::move(entry));
    *executor = handle_of(id);
  } catch (const std::bad_alloc &) {
    return fail(ACLNN_ERR_INNER_CREATE_EXECUTOR, std::string(api) + ": out of memory creating the executor");
  }
  *workspaceSize = workspace_bytes;
  return ACLNN_SUCCESS;
}

aclnnStatus launch_executor(const char *api, aclOpExecutor *handle, void *workspace, uint64_t workspaceSize,
                            aclrtStream stream) {
  if (handle == nullptr) return fail(ACLNN_ERR_PARAM_NULLPTR, std::string(api) + ": executor is NULL");
  if (!well_formed(handle)) return not_live(api);
  Registry &r = registry();
  const uint64_t id = id_of(handle);
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.live.find(id);
    if (it == r.live.end()) return not_live(api);
    entry = it->second;
    if (entry.workspace_bytes > 0 && (workspace == nullptr || workspaceSize < entry.workspace_bytes)) {
      return fail(ACLNN_ERR_PARAM_INVALID,
                  std::string(api) + ": the executor needs a workspace of " + std::to_string(entry.workspace_bytes) +
                      " bytes (as phase 1 reported), but got " +
                      (workspace == nullptr ? std::string("NULL") : std::to_string(workspaceSize) + " bytes"));
    }
    if (!entry.repeatable) r.live.erase(it);  // claimed now, so two threads cannot both run a one-shot executor
  }
  if (entry.workspace_bytes == 0) workspace = nullptr;
  const aclError queued =
      runtime::enqueue(api, stream, [work = entry.work, workspace]() -> aclError { return (*work)(workspace); });
  if (queued != ACL_SUCCESS) {
    const char *why = aclGetRecentErrMsg();
    if (!entry.repeatable) {
      std::lock_guard<std::mutex> lock(r.mutex);
      r.live.emplace(id, std::move(entry));  // not run: the caller may retry on a live stream
    }
    return fail(ACLNN_ERR_RUNTIME_ERROR,
                std::string(api) + ": cannot enqueue on the stream: " + (why != nullptr ? why : "runtime error"));
  }
  return ACLNN_SUCCESS;
}

}  // namespace int4pack::ops

using namespace int4pack::ops;

extern "C" {

aclnnStatus aclSetAclOpExecutorRepeatable(aclOpExecutor *executor) {
  if (executor == nullptr) return fail(ACLNN_ERR_INNER_NULLPTR, "aclSetAclOpExecutorRepeatable: executor is NULL");
  if (!well_formed(executor)) return not_live("aclSetAclOpExecutorRepeatable");
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  const uint64_t id = id_of(executor);
  auto it = r.live.find(id);
  if (it == r.live.end()) return not_live("aclSetAclOpExecutorRepeatable");
  it->second.repeatable = true;
  return ACLNN_SUCCESS;
}

aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor *executor) {
  if (executor == nullptr) return fail(ACLNN_ERR_INNER_NULLPTR, "aclDestroyAclOpExecutor: executor is NULL");
  if (!well_formed(executor)) return not_live("aclDestroyAclOpExecutor");
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  const uint64_t id = id_of(executor);
  if (r.live.erase(id) == 0) return not_live("aclDestroyAclOpExecutor");  // queued runs keep their work alive
  return ACLNN_SUCCESS;
}

}  // extern "C"
