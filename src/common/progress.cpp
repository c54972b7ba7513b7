#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace sax {

using Clock = std::chrono::steady_clock;

bool stderr_is_tty() { return isatty(STDERR_FILENO) != 0; }

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "--:--";
  const long total = static_cast<long>(seconds + 0.5);
  const long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", m, s);
}

Progress::Progress(std::string what, size_t total, Mode mode)
    : what_(std::move(what)),
      total_(total),
      enabled_(mode == Mode::always || (mode == Mode::automatic && stderr_is_tty())),
      start_(Clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

Progress::~Progress() { finish(); }

void Progress::set_total(size_t total) {
  std::lock_guard lock(mutex_);
  total_ = total;
}

void Progress::advance(size_t done, double audio_seconds) {
  std::lock_guard lock(mutex_);
  done_ += done;
  audio_seconds_ += audio_seconds;
  // Redraw at most 10 times a second: printing must not cost more than the work.
  if (Clock::now() - last_draw_ > std::chrono::milliseconds(100)) draw(false);
}

void Progress::set_detail(std::string detail) {
  std::lock_guard lock(mutex_);
  detail_ = std::move(detail);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  draw(true);
}

size_t Progress::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void Progress::draw(bool final_line) {
  if (!enabled_) return;
  last_draw_ = Clock::now();
  const double elapsed = std::max(1e-6, elapsed_seconds());
  const double rate = done_ / elapsed;
  std::string line = fmt::format("{} {}", what_, done_);
  if (total_ > 0) line += fmt::format("/{} ({:.0f}%)", total_, 100.0 * done_ / total_);
  line += fmt::format("  {:.1f}/s", rate);
  if (audio_seconds_ > 0)
    line += fmt::format("  {:.2f} h audio  {:.0f}x real time", audio_seconds_ / 3600,
                        audio_seconds_ / elapsed);
  if (total_ > 0 && !final_line && rate > 0)
    line += "  ETA " + format_duration((total_ - std::min(done_, total_)) / rate);
  if (final_line) line += "  in " + format_duration(elapsed);
  if (!detail_.empty()) line += "  " + detail_;
  std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace sax
