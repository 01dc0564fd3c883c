#include <optional>
#include <string>

#include "acl/acl_base.h"
#include "runtime/internal_api.h"

namespace int4pack::runtime {
namespace {

thread_local std::optional<std::string> pending_message;
// Keeps the string handed out by aclGetRecentErrMsg alive until the thread's next call, as CANN promises.
thread_local std::string handed_out;

}  // namespace

void set_recent_error(std::string message) { pending_message = std::move(message); }

}  // namespace int4pack::runtime

extern "C" const char *aclGetRecentErrMsg(void) {
  using namespace int4pack::runtime;
  if (!pending_message) return nullptr;
  handed_out = std::move(*pending_message);
  pending_message.reset();
  return handed_out.c_str();
}
