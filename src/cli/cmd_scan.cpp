// saxdetect scan: score every ingested song (or the files given, ingested first) with the
// current model and store each verdict, its segments and its curve.
#include <fmt/format.h>

#include "cli/command.h"
#include "common/progress.h"
#include "scan/scan.h"
#include "store/store.h"

namespace sax::cli {

namespace {

std::string summary_text(const ScanSummary& s) {
  std::string text =
      fmt::format("scanned {} of {} songs ({} with sax)", s.scanned, s.sources, s.with_sax);
  if (s.skipped) text += fmt::format(", {} up to date", s.skipped);
  if (s.busy) text += fmt::format(", {} busy in another process", s.busy);
  if (s.missing) text += fmt::format(", {} missing", s.missing);
  if (s.failed) text += fmt::format(", {} failed", s.failed);
  text += fmt::format("; {:.2f} h of audio in {}", s.audio_seconds / 3600,
                      format_duration(s.elapsed_seconds));
  if (s.elapsed_seconds > 0 && s.audio_seconds > 0)
    text += fmt::format(" ({:.0f}x real time)", s.audio_seconds / s.elapsed_seconds);
  return text;
}

void run_scan(const GlobalOptions& global, ScanOptions options,
              const std::vector<std::string>& paths) {
  const Home home = global.resolve_home();
  home.create();
  auto store = open_store(home, global.db);
  options.paths.assign(paths.begin(), paths.end());
  options.progress = global.quiet ? Progress::Mode::never : Progress::Mode::automatic;
  options.ingest.jobs = options.jobs;
  const char* clear_line = stderr_is_tty() ? "\r\033[K" : "";
  const ScanSummary summary =
      scan_library(*store, home, options, [clear_line](const std::string& line) {
        fmt::print(stderr, "{}error: {}\n", clear_line, line);
      });
  fmt::print("{}\n", summary_text(summary));
  // Scripts must notice a file that could not be scanned, even when the rest were.
  if (summary.failed > 0) throw CLI::RuntimeError(1);
}

const Command kScan(64, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "scan", "Find the saxophone in every ingested song and remember the answers");
  static ScanOptions options;
  static std::vector<std::string> paths;
  command->add_option("--model", options.model_dir,
                      "Model folder (default: the current model in the data home)");
  command->add_option("--jobs,-j", options.jobs, "Songs scanned in parallel")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--retry-errors", options.retry_errors,
                    "Rescan songs whose last scan failed even if their file is unchanged");
  command
      ->add_option("--lease", options.lease_seconds,
                   "Seconds after which another worker may take over an unfinished song")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--chunk", options.analysis.chunk_seconds,
                   "Seconds of audio scored at once (memory)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("PATH", paths,
                      "Audio files or folders to ingest and scan (default: every ingested song)");
  command->callback([&global] { run_scan(global, options, paths); });
});

}  // namespace

}  // namespace sax::cli
