// The ISAs a per-ISA suite runs over: every one compiled in, so that one this CPU lacks is reported as
// skipped rather than silently dropped.
#ifndef INT4PACK_TESTS_CORE_ISA_NAMES_H_
#define INT4PACK_TESTS_CORE_ISA_NAMES_H_

#include <string>
#include <vector>

#include "kernels/isa.h"

namespace int4pack::testing {

inline std::vector<std::string> compiled_isa_names() {
  const kernels::Isa *isas = nullptr;
  const int n = kernels::compiled_isas(&isas);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(isas[i].name);
  return names;
}

}  // namespace int4pack::testing

#endif  // INT4PACK_TESTS_CORE_ISA_NAMES_H_
