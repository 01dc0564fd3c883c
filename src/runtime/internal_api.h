// What the runtime library (libascendcl) offers the other int4pack libraries: the per-thread error
// message and stream-ordered execution. Not installed; not part of the CANN API.
#ifndef INT4PACK_RUNTIME_INTERNAL_API_H_
#define INT4PACK_RUNTIME_INTERNAL_API_H_

#include <functional>
#include <string>

#include "acl/acl_base.h"

#define INT4PACK_INTERNAL __attribute__((visibility("default")))

namespace int4pack::runtime {

// Records the message that aclGetRecentErrMsg() hands out next on this thread (replacing any unread one).
INT4PACK_INTERNAL void set_recent_error(std::string message);

// The end of every failing call of every library: records the message, returns the status (an aclError
// or an aclnnStatus).
template <typename Status>
Status fail(Status status, std::string message) {
  set_recent_error(std::move(message));
  return status;
}

// Work run by a stream's worker. It returns ACL_SUCCESS or the status aclrtSynchronizeStream reports.
// It must not block on its own stream (synchronize, destroy, reset, finalize): that would wait for itself.
using StreamWork = std::function<aclError()>;

// Appends work to stream (nullptr: the current device's default stream) for `api`, the public function
// doing it. Returns ACL_SUCCESS, or an error with the message (naming api) recorded when the handle is not
// a live stream.
INT4PACK_INTERNAL aclError enqueue(const char *api, aclrtStream stream, StreamWork work);

}  // namespace int4pack::runtime

#endif  // INT4PACK_RUNTIME_INTERNAL_API_H_
