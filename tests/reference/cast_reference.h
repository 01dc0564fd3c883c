// aclnnCast's conversion of one element, written a second way (long double arithmetic, the standard
// library's rounding) for the tests to compare the engine's bits against.
#ifndef INT4PACK_TESTS_REFERENCE_CAST_REFERENCE_H_
#define INT4PACK_TESTS_REFERENCE_CAST_REFERENCE_H_

#include <cstddef>

#include "acl/acl_base.h"

namespace int4pack::reference {

// Bytes of one element of the dtypes aclnnCast takes.
size_t cast_element_bytes(aclDataType dtype);

// Converts the element at src (of `from`) into dst (of `to`): floats to nearest even (+-inf beyond the
// range, NaN quiet with its top payload bits), floats to integers truncated and saturated (NaN: 0), integers
// to integers wrapped, anything nonzero to BOOL 1, complex to real by the real part; to its own type, the
// same bits.
void cast_element(const void *src, aclDataType from, void *dst, aclDataType to);

}  // namespace int4pack::reference

#endif  // INT4PACK_TESTS_REFERENCE_CAST_REFERENCE_H_
