// saxdetect ingest: cut a music library into samples in the store.
#include <fmt/format.h>

#include "cli/command.h"
#include "common/progress.h"
#include "ingest/ingest.h"
#include "store/store.h"

namespace sax::cli {

namespace {

std::string summary_text(const IngestSummary& s, const IngestOptions& options) {
  std::string text = fmt::format("ingested {} of {} files", s.ingested, s.files);
  if (s.skipped) text += fmt::format(", {} already ingested", s.skipped);
  if (s.busy) text += fmt::format(", {} busy in another process", s.busy);
  if (s.failed) text += fmt::format(", {} failed", s.failed);
  if (s.empty) text += fmt::format(", {} gave no sample", s.empty);
  text += fmt::format("; {} new samples ({} silent), {:.2f} h of audio in {}", s.samples, s.silent,
                      s.audio_seconds / 3600, format_duration(s.elapsed_seconds));
  if (s.elapsed_seconds > 0 && s.audio_seconds > 0)
    text += fmt::format(" ({:.0f}x real time)", s.audio_seconds / s.elapsed_seconds);
  if (s.tails_dropped)
    text += fmt::format("\ndropped the last {:.1f} s of {} files (shorter than {} s)",
                        s.tail_seconds, s.tails_dropped, options.length);
  if (s.rescanned)
    text += fmt::format("\nread {} files again: they changed while being ingested", s.rescanned);
  if (s.replaced)
    text += fmt::format(
        "\nreplaced the samples of {} files whose content changed since they were ingested: "
        "{} votes moved to the same audio, {} kept as retired votes",
        s.replaced, s.votes_moved, s.votes_retired);
  if (s.stray_files_removed)
    text +=
        fmt::format("\nremoved {} stray files left by an interrupted run", s.stray_files_removed);
  return text;
}

void run_ingest(const GlobalOptions& global, IngestOptions options,
                const std::vector<std::string>& paths) {
  const Home home = global.resolve_home();
  home.create();
  auto store = open_store(home, global.db);
  options.progress = global.quiet ? Progress::Mode::never : Progress::Mode::automatic;
  const std::vector<std::filesystem::path> inputs(paths.begin(), paths.end());
  // On a terminal the progress line is cleared first so an error never lands in the middle of it.
  const char* clear_line = stderr_is_tty() ? "\r\033[K" : "";
  const IngestSummary summary =
      ingest(inputs, *store, home, options, [clear_line](const std::string& line) {
        fmt::print(stderr, "{}error: {}\n", clear_line, line);
      });
  fmt::print("{}\n", summary_text(summary, options));
  if (summary.files == 0 && summary.failed == 0)
    fmt::print(stderr, "error: no audio files found\n");
  throw_exit_status(summary.ingested + summary.skipped + summary.busy - summary.empty,
                    summary.failed + summary.empty);
}

const Command kIngest(10, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("ingest", "Cut audio files and folders into samples");
  static IngestOptions options;
  static std::vector<std::string> paths;
  command->add_option("--length", options.length, "Seconds per sample")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--hop", options.hop, "Seconds between sample starts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--rate", options.rate, "Sample rate of the stored samples (Hz)")
      ->capture_default_str()
      ->check(CLI::Range(1000, 384000));
  command->add_option("--jobs,-j", options.jobs, "Files processed in parallel")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("PATH", paths, "Audio files or folders (searched recursively)")->required();
  add_exit_status_help(command);
  command->callback([&global] { run_ingest(global, options, paths); });
});

}  // namespace

}  // namespace sax::cli
