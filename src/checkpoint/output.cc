#include "checkpoint/output.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "checkpoint/safetensors.h"

namespace int4pack::checkpoint {
namespace {

namespace fs = std::filesystem;

std::string suffix() { return ".int4pack-tmp-" + std::to_string(::getpid()); }

}  // namespace

void refuse_existing_output(const std::string &output, bool force) {
  std::error_code ec;
  if (!force && fs::exists(fs::symlink_status(output, ec))) {
    throw UsageError(output + " already exists (use --force to replace it)");
  }
}

namespace {

// Whether `inner` is `outer` or lies below it (both canonical).
bool within(const fs::path &inner, const fs::path &outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

}  // namespace

void refuse_output_over_input(const std::string &input, const std::string &output) {
  std::error_code ec;
  const fs::path in = fs::weakly_canonical(input, ec);
  if (ec) return;  // the input cannot be resolved: opening it will say why
  const fs::path out = fs::weakly_canonical(output, ec);
  if (ec) return;
  if (within(out, in) || within(in, out)) {
    const std::string how = out == in ? "is" : within(out, in) ? "lies inside" : "contains";
    throw UsageError("the output " + output + " " + how + " the input " + input + " (" + out.string() + ")" +
                     "; the input is only read: write the output elsewhere");
  }
}

OutputTransaction::OutputTransaction(std::string destination, bool directory, bool force, Observer &observer)
    : destination_(std::move(destination)), directory_(directory), force_(force), observer_(observer) {
  while (!destination_.empty() && destination_.size() > 1 && destination_.back() == '/') destination_.pop_back();
  refuse_existing_output(destination_, force_);
  std::error_code ec;
  staging_ = destination_ + suffix();
  fs::remove_all(staging_, ec);
  if (directory_ && !fs::create_directory(staging_, ec)) {
    throw IoError(staging_ + ": cannot create: " + ec.message());
  }
  observer_.writing(staging_, directory_);
}

OutputTransaction::~OutputTransaction() {
  observer_.done_writing();
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void OutputTransaction::commit() {
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(destination_, ec));
  if (exists && !force_) throw UsageError(destination_ + " appeared meanwhile; not replaced (use --force)");
  if (exists && (directory_ || fs::is_directory(destination_))) {
    // Directories cannot be renamed over: move the old one aside, move the new one in, then drop the old.
    const std::string old = destination_ + ".int4pack-old-" + std::to_string(::getpid());
    fs::rename(destination_, old, ec);
    if (ec) throw IoError(destination_ + ": cannot move the old output aside: " + ec.message());
    fs::rename(staging_, destination_, ec);
    if (ec) {
      std::error_code back;
      fs::rename(old, destination_, back);
      throw IoError(destination_ + ": cannot move the new output in: " + ec.message());
    }
    committed_ = true;
    fs::remove_all(old, ec);
    return;
  }
  fs::rename(staging_, destination_, ec);  // atomic for a file, also over an existing one
  if (ec) throw IoError(destination_ + ": cannot move the output into place: " + ec.message());
  committed_ = true;
}

}  // namespace int4pack::checkpoint
