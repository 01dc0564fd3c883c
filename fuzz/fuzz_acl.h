// Shared by the fuzz targets that call the CANN operators: the runtime opened once per process.
#ifndef INT4PACK_FUZZ_FUZZ_ACL_H_
#define INT4PACK_FUZZ_FUZZ_ACL_H_

#include "acl/acl.h"
#include "fuzz_common.h"

namespace fuzz {

// aclInit, device 0 and a stream; a failure here is a finding (every input would be meaningless).
inline aclrtStream open_stream() {
  aclrtStream stream = nullptr;
  if (aclInit(nullptr) != ACL_SUCCESS || aclrtSetDevice(0) != ACL_SUCCESS ||
      aclrtCreateStream(&stream) != ACL_SUCCESS) {
    finding("aclInit / aclrtSetDevice / aclrtCreateStream failed: %s", aclGetRecentErrMsg());
  }
  return stream;
}

}  // namespace fuzz

#endif  // INT4PACK_FUZZ_FUZZ_ACL_H_
