// Output that appears whole or not at all, and what a long-running checkpoint call tells its caller.
#ifndef INT4PACK_CHECKPOINT_OUTPUT_H_
#define INT4PACK_CHECKPOINT_OUTPUT_H_

#include <cstdint>
#include <string>

namespace int4pack::checkpoint {

// What a long-running call (convert, unpack, verify) reports as it goes, and how its caller stops it:
// the CLI draws a progress bar and stops on SIGINT, the Python package calls a progress callback. Every
// method may throw to stop the call; it then unwinds and leaves no output behind.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void begin(uint64_t /*tensors*/, uint64_t /*bytes*/) {}
  virtual void advance(uint64_t /*bytes*/) {}  // one tensor done, `bytes` of input read for it
  virtual void finish() {}
  // Called between tensors: throw here to stop.
  virtual void check() {}
  // A file (or the staging directory) is about to be written, and nothing is being written any more: a
  // process that may die where it cannot unwind (SIGBUS) removes what it was told of.
  virtual void writing(const std::string & /*path*/, bool /*directory*/) {}
  virtual void done_writing() {}
};

// UsageError when `output` exists and `force` is not set (checked again at the rename).
void refuse_existing_output(const std::string &output, bool force);
// UsageError when `output` is `input`, lies inside it, or contains it, once symbolic links are resolved:
// no command writes into what it reads, --force or not.
void refuse_output_over_input(const std::string &input, const std::string &output);

// Output written under a temporary name next to the destination and renamed into place by commit().
// Until then, and whenever the object is destroyed without a commit (error, interruption), nothing
// exists at the destination that was not there before, and the temporary is removed.
class OutputTransaction {
 public:
  OutputTransaction(std::string destination, bool directory, bool force, Observer &observer);
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
  Observer &observer_;
  bool committed_ = false;
};

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_OUTPUT_H_
