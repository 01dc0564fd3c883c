#include "session.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

namespace int4pack::tool {
namespace {

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

void throw_if_interrupted() {
  if (interrupted) throw Interrupted(interrupted);
}

Session::Session(bool progress)
    : enabled_(progress && ::isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Session::writing(const std::string &path, bool directory) {
  if (directory) {
    *doomed_directory = path;
  } else {
    doomed_files->push_back(path);
  }
}

void Session::done_writing() {
  doomed_files->clear();
  doomed_directory->clear();
}

void Session::begin(uint64_t tensors, uint64_t bytes) {
  total_tensors_ = tensors;
  total_bytes_ = bytes;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Session::advance(uint64_t bytes) {
  ++done_tensors_;
  done_bytes_ += bytes;
  draw(false);
}

void Session::finish() {
  if (!enabled_) return;
  draw(true);
  std::fputc('\n', stderr);
}

void Session::draw(bool force) {
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

}  // namespace int4pack::tool
