// What every int4pack subcommand shares: interruption (SIGINT/SIGTERM), output that appears whole or not
// at all, progress on a terminal, and the shape of a run's summary.
#ifndef INT4PACK_TOOLS_SESSION_H_
#define INT4PACK_TOOLS_SESSION_H_

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"

namespace int4pack::tool {

// Thrown when SIGINT or SIGTERM arrived; the command unwinds, removes its temporary output, and exits
// 128 + the signal's number (130, 143).
struct Interrupted : std::runtime_error {
  explicit Interrupted(int signal) : std::runtime_error("interrupted"), signal(signal) {}
  int signal;
};
// A problem with what the user asked for (exit 1, one clear line each).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// SIGINT/SIGTERM set a flag (see throw_if_interrupted); SIGBUS (a mapped input truncated) removes the
// output being written and exits 1; SIGXFSZ is ignored so that a file size limit fails a write instead.
void install_signal_handlers();
// Registers a file about to be written inside an OutputTransaction's staging area, for SIGBUS clean-up.
void will_write(const std::string &path);
void throw_if_interrupted();
// UsageError when `output` exists and --force was not given (checked again at the rename).
void refuse_existing_output(const std::string &output, bool force);

// Output written under a temporary name next to the destination and renamed into place by commit().
// Until then, and whenever the object is destroyed without a commit (error, interruption), nothing
// exists at the destination that was not there before, and the temporary is removed.
class OutputTransaction {
 public:
  OutputTransaction(std::string destination, bool directory, bool force);
  ~OutputTransaction();
  OutputTransaction(const OutputTransaction &) = delete;
  OutputTransaction &operator=(const OutputTransaction &) = delete;

  // Where to write: the temporary file, or the temporary directory.
  const std::string &staging() const { return staging_; }
  void commit();

 private:
  std::string destination_;
  std::string staging_;
  bool directory_;
  bool force_;
  bool committed_ = false;
};

// A one-line progress bar on stderr, only when it is a terminal and not --quiet.
class Progress {
 public:
  Progress(uint64_t tensors, uint64_t bytes, bool enabled);
  void advance(uint64_t bytes);  // one tensor done, `bytes` of input read for it
  void finish();

 private:
  void draw(bool force);
  uint64_t total_tensors_, total_bytes_, done_tensors_ = 0, done_bytes_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Every OutputTensor of `tensors`, wrapped to stop on interruption and to advance `progress`.
void track(std::vector<checkpoint::OutputTensor> &tensors, Progress &progress);

}  // namespace int4pack::tool

#endif  // INT4PACK_TOOLS_SESSION_H_
