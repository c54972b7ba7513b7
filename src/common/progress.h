#pragma once
// Progress for long work: count / total, rate, ETA, and optionally audio throughput
// (x real time). Draws one updating line on stderr when it is a terminal; silent otherwise
// unless forced. Thread-safe: workers call advance() concurrently.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace sax {

class Progress {
 public:
  enum class Mode { automatic, always, never };

  Progress(std::string what, size_t total, Mode mode = Mode::automatic);
  ~Progress();

  void set_total(size_t total);
  // done: items finished; audio_seconds: seconds of audio those items held (0 if not audio).
  void advance(size_t done = 1, double audio_seconds = 0.0);
  void set_detail(std::string detail);  // short text shown at the end of the line
  void finish();                        // final line with totals; idempotent

  size_t done() const;
  double elapsed_seconds() const;

 private:
  void draw(bool final_line);

  std::string what_;
  size_t total_;
  bool enabled_;
  mutable std::mutex mutex_;
  size_t done_ = 0;
  double audio_seconds_ = 0;
  std::string detail_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// True when stderr is an interactive terminal.
bool stderr_is_tty();

// "1:02:03" / "2:03" for durations shown to people.
std::string format_duration(double seconds);

}  // namespace sax
