/*
 * int4pack extension (not part of CANN): settings of the packing engine behind both operators.
 * Exported by libopapi_nn. Thread-safe; a change applies to runs that start after it.
 */
#ifndef INT4PACK_SETTINGS_H_
#define INT4PACK_SETTINGS_H_

#include <stdint.h>

#include "../aclnn/aclnn_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Threads one pack or unpack may use. numThreads >= 1 sets it; 0 restores the default
 * (INT4PACK_NUM_THREADS, else the CPUs this process may run on). Negative: 161002.
 * Small weights always stay on one thread.
 */
ACL_FUNC_VISIBILITY aclnnStatus int4packSetNumThreads(int32_t numThreads);
ACL_FUNC_VISIBILITY int32_t int4packGetNumThreads(void);

/*
 * The instruction set the kernels use: "avx512", "avx2", "neon" or "scalar" — the best this CPU
 * supports, or the one INT4PACK_ISA names. NULL when INT4PACK_ISA is unknown or unsupported here; then
 * every operator's phase 1 fails with 561003 and aclGetRecentErrMsg() says why. The string is static.
 */
ACL_FUNC_VISIBILITY const char *int4packGetIsa(void);

#ifdef __cplusplus
}
#endif

#endif /* INT4PACK_SETTINGS_H_ */
