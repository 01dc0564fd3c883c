#include "session.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>
#include <system_error>

namespace int4pack::tool {
namespace {

namespace fs = std::filesystem;

volatile std::sig_atomic_t interrupted = 0;  // the signal's number

extern "C" void on_signal(int signal) { interrupted = signal; }

// What to delete if the process must die where it cannot unwind: SIGBUS, when a memory-mapped input
// shrinks under us (truncated by another process while being read). Written only between tensors, read
// only by the handler; the handler uses async-signal-safe calls alone.
std::vector<std::string> *doomed_files = new std::vector<std::string>;
std::string *doomed_directory = new std::string;

extern "C" void on_bus_error(int) {
  for (const std::string &path : *doomed_files) ::unlink(path.c_str());
  if (!doomed_directory->empty()) ::rmdir(doomed_directory->c_str());
  static const char message[] =
      "\nint4pack: an input file changed size while it was being read (truncated?); no output was left behind\n";
  ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
  ::_exit(1);
}

std::string suffix() { return ".int4pack-tmp-" + std::to_string(::getpid()); }

}  // namespace

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // the flag is looked at between tensors (a tensor takes well under a second)
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  struct sigaction bus {};
  bus.sa_handler = on_bus_error;
  sigemptyset(&bus.sa_mask);
  sigaction(SIGBUS, &bus, nullptr);
  // Over a file size limit (ulimit -f), let write() fail with EFBIG and clean up, instead of dying.
  std::signal(SIGXFSZ, SIG_IGN);
}

void will_write(const std::string &path) { doomed_files->push_back(path); }

void throw_if_interrupted() {
  if (interrupted) throw Interrupted(interrupted);
}

void refuse_existing_output(const std::string &output, bool force) {
  std::error_code ec;
  if (!force && fs::exists(fs::symlink_status(output, ec))) {
    throw UsageError(output + " already exists (use --force to replace it)");
  }
}

OutputTransaction::OutputTransaction(std::string destination, bool directory, bool force)
    : destination_(std::move(destination)), directory_(directory), force_(force) {
  while (!destination_.empty() && destination_.size() > 1 && destination_.back() == '/') destination_.pop_back();
  refuse_existing_output(destination_, force_);
  std::error_code ec;
  staging_ = destination_ + suffix();
  fs::remove_all(staging_, ec);
  if (directory_ && !fs::create_directory(staging_, ec)) {
    throw checkpoint::IoError(staging_ + ": cannot create: " + ec.message());
  }
  if (directory_) {
    *doomed_directory = staging_;
  } else {
    will_write(staging_);
  }
}

OutputTransaction::~OutputTransaction() {
  doomed_files->clear();
  doomed_directory->clear();
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
    if (ec) throw checkpoint::IoError(destination_ + ": cannot move the old output aside: " + ec.message());
    fs::rename(staging_, destination_, ec);
    if (ec) {
      std::error_code back;
      fs::rename(old, destination_, back);
      throw checkpoint::IoError(destination_ + ": cannot move the new output in: " + ec.message());
    }
    committed_ = true;
    fs::remove_all(old, ec);
    return;
  }
  fs::rename(staging_, destination_, ec);  // atomic for a file, also over an existing one
  if (ec) throw checkpoint::IoError(destination_ + ": cannot move the output into place: " + ec.message());
  committed_ = true;
}

Progress::Progress(uint64_t tensors, uint64_t bytes, bool enabled)
    : total_tensors_(tensors), total_bytes_(bytes), enabled_(enabled && ::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::advance(uint64_t bytes) {
  ++done_tensors_;
  done_bytes_ += bytes;
  draw(false);
}

void Progress::finish() {
  if (!enabled_) return;
  draw(true);
  std::fputc('\n', stderr);
}

void Progress::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double fraction = total_bytes_ ? static_cast<double>(done_bytes_) / total_bytes_ : 1.0;
  const double rate = seconds > 0 ? done_bytes_ / seconds : 0;
  const double eta = rate > 0 ? (total_bytes_ - done_bytes_) / rate : 0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::fprintf(stderr, "\r[%.*s%*s] %llu/%llu tensors  %.2f/%.2f GB  %.2f GB/s  ETA %.0fs   ", filled,
               "##############################", kWidth - filled, "", static_cast<unsigned long long>(done_tensors_),
               static_cast<unsigned long long>(total_tensors_), done_bytes_ / 1e9, total_bytes_ / 1e9, rate / 1e9, eta);
  std::fflush(stderr);
}

void track(std::vector<checkpoint::OutputTensor> &tensors, Progress &progress) {
  for (checkpoint::OutputTensor &t : tensors) {
    auto inner = std::move(t.write);
    const uint64_t bytes = t.source_bytes;
    t.write = [inner = std::move(inner), bytes, &progress](checkpoint::Sink &sink) {
      throw_if_interrupted();
      inner(sink);
      throw_if_interrupted();
      progress.advance(bytes);
    };
  }
}

}  // namespace int4pack::tool
