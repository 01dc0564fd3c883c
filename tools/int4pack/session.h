// What every int4pack subcommand shares: interruption (SIGINT/SIGTERM), clean-up when the process must
// die where it cannot unwind (SIGBUS), and progress on a terminal; all of it as the checkpoint library's
// Observer.
#ifndef INT4PACK_TOOLS_SESSION_H_
#define INT4PACK_TOOLS_SESSION_H_

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "checkpoint/output.h"
#include "checkpoint/safetensors.h"

namespace int4pack::tool {

// Thrown when SIGINT or SIGTERM arrived; the command unwinds, removes its temporary output, and exits
// 128 + the signal's number (130, 143).
struct Interrupted : std::runtime_error {
  explicit Interrupted(int signal) : std::runtime_error("interrupted"), signal(signal) {}
  int signal;
};
// A problem with what the user asked for (exit 1, one clear line each).
using checkpoint::UsageError;

// SIGINT/SIGTERM set a flag (see throw_if_interrupted); SIGBUS (a mapped input truncated) removes the
// output being written and exits 1; SIGXFSZ is ignored so that a file size limit fails a write instead.
void install_signal_handlers();
void throw_if_interrupted();

// The tool's observer of a library call: a one-line progress bar on stderr (only when it is a terminal
// and `enabled`), interruption between tensors, and the files a SIGBUS must remove.
class Session : public checkpoint::Observer {
 public:
  explicit Session(bool progress);
  void begin(uint64_t tensors, uint64_t bytes) override;
  void advance(uint64_t bytes) override;
  void finish() override;
  void check() override { throw_if_interrupted(); }
  void writing(const std::string &path, bool directory) override;
  void done_writing() override;

 private:
  void draw(bool force);
  uint64_t total_tensors_ = 0, total_bytes_ = 0, done_tensors_ = 0, done_bytes_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace int4pack::tool

#endif  // INT4PACK_TOOLS_SESSION_H_
