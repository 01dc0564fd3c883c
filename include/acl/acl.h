/*
 * int4pack — CANN-compatible entry header: process set-up and tear-down, plus the base and runtime APIs.
 */
#ifndef INT4PACK_ACL_ACL_H_
#define INT4PACK_ACL_ACL_H_

#include "acl_base.h"
#include "acl_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Initialises the library; configPath may be NULL (it is accepted and not read). A second call while
 * initialised returns ACL_ERROR_REPEAT_INITIALIZE. After aclFinalize the process may initialise again.
 */
ACL_FUNC_VISIBILITY aclError aclInit(const char *configPath);
/*
 * Resets every device (queued work is finished first). ACL_ERROR_REPEAT_FINALIZE when already
 * finalized, ACL_ERROR_UNINITIALIZE when aclInit was never called.
 */
ACL_FUNC_VISIBILITY aclError aclFinalize(void);

#ifdef __cplusplus
}
#endif

#endif /* INT4PACK_ACL_ACL_H_ */
