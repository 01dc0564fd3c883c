// int4pack's engine settings as a C API (include/int4pack/settings.h).
#include "int4pack/settings.h"

#include <string>

#include "core/pack.h"
#include "kernels/kernels.h"
#include "runtime/internal_api.h"

extern "C" {

aclnnStatus int4packSetNumThreads(int32_t numThreads) {
  if (!int4pack::set_thread_count(numThreads)) {
    int4pack::runtime::set_recent_error("int4packSetNumThreads: numThreads must be >= 0 (0: the default), but got " +
                                        std::to_string(numThreads));
    return ACLNN_ERR_PARAM_INVALID;
  }
  return ACLNN_SUCCESS;
}

int32_t int4packGetNumThreads(void) { return int4pack::thread_count(); }

const char *int4packGetIsa(void) {
  const int4pack::kernels::KernelTable *k = int4pack::kernels::active_kernels();
  if (k == nullptr) {
    int4pack::runtime::set_recent_error("int4packGetIsa: " + int4pack::kernels::isa_error());
    return nullptr;
  }
  return k->isa;
}

}  // extern "C"
