// int4pack's engine settings as a C API (include/int4pack/settings.h), over the engine's C++ API.
#include "int4pack/settings.h"

#include "int4pack/engine.h"
#include "runtime/internal_api.h"

extern "C" {

aclnnStatus int4packSetNumThreads(int32_t numThreads) {
  if (!int4pack::set_num_threads(numThreads)) {
    return int4pack::runtime::fail(
        ACLNN_ERR_PARAM_INVALID,
        "int4packSetNumThreads: numThreads must be >= 0 (0: the default), but got " + std::to_string(numThreads));
  }
  return ACLNN_SUCCESS;
}

int32_t int4packGetNumThreads(void) { return int4pack::num_threads(); }

const char *int4packGetIsa(void) {
  const char *isa = int4pack::isa();
  if (isa == nullptr) int4pack::runtime::set_recent_error("int4packGetIsa: " + int4pack::engine_status().message);
  return isa;
}

}  // extern "C"
