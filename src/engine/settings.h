// The engine's settings: which instruction set runs (INT4PACK_ISA, else the best this CPU supports) and
// on how many threads (INT4PACK_NUM_THREADS, else the CPUs this process may use, unless set at run time).
// Read once per process; a value that cannot be honoured is an error, never a silent fallback.
#ifndef INT4PACK_ENGINE_SETTINGS_H_
#define INT4PACK_ENGINE_SETTINGS_H_

#include <string>

#include "kernels/isa.h"

namespace int4pack::engine {

// What is wrong with the settings, or "" when the engine can run.
const std::string &settings_error();

// The instruction set in use; null exactly when INT4PACK_ISA is unknown or unsupported here.
const kernels::Isa *active_isa();

int thread_count();
// n >= 1 sets it; 0 returns to the default. False (and no change) for n < 0.
bool set_thread_count(int n);

}  // namespace int4pack::engine

#endif  // INT4PACK_ENGINE_SETTINGS_H_
