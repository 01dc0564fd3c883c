// The ACL session the benchmarks run in: initialized once, one device, one stream.
#ifndef INT4PACK_BENCH_ACL_SESSION_H_
#define INT4PACK_BENCH_ACL_SESSION_H_

#include "acl/acl.h"

struct Library {
  aclrtStream stream = nullptr;
  Library() {
    aclInit(nullptr);
    aclrtSetDevice(0);
    aclrtCreateStream(&stream);
  }
};

inline Library &library() {
  static Library lib;
  return lib;
}

#endif  // INT4PACK_BENCH_ACL_SESSION_H_
