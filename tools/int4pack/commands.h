// The int4pack subcommands. Each returns the process exit code; errors are thrown (see main.cc).
#ifndef INT4PACK_TOOLS_COMMANDS_H_
#define INT4PACK_TOOLS_COMMANDS_H_

#include <string>

#include "checkpoint/convert.h"

namespace int4pack::tool {

struct Common {
  bool quiet = false;        // no progress bar, no summary lines
  bool json = false;         // a machine-readable summary on stdout
  bool force = false;        // replace an existing output
  int threads = 0;           // 0: the engine's default
  bool sync = true;          // make output durable (fdatasync) before renaming it into place
  bool show_matmul = false;  // verify: print each matmul line even when quiet
};

int convert(checkpoint::ConvertRequest request, const Common &common);
int unpack(const std::string &input, const std::string &output, const Common &common);
// With `matmul`, every layer converted from a quantizer's checkpoint is also multiplied by the operator and
// compared with its original's dequantized weights (matmul_check.h).
int verify(const std::string &original, const std::string &packed, const Common &common, bool matmul = false);
int inspect(const std::string &input, const Common &common);
// Writes a small synthetic W4 checkpoint under `directory` (a new temporary one when empty), converts,
// verifies and reports.
int demo(const std::string &directory, const Common &common);

}  // namespace int4pack::tool

#endif  // INT4PACK_TOOLS_COMMANDS_H_
