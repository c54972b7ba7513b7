#include "ingest/ingest.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "audio/audio.h"
#include "common/error.h"
#include "ingest/source_ingest.h"

namespace sax {

namespace fs = std::filesystem;
using namespace ingest_detail;

std::string default_worker_id() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return fmt::format("{}:{}", host, getpid());
}

namespace {

// Walks one folder level by level, so that a folder it cannot read is reported and the rest
// still walked (a recursive iterator stops at the first), and reports links that lead nowhere:
// both used to be skipped without a word. Linked folders are not entered (no cycles).
void walk_tree(const fs::path& folder, std::vector<fs::path>& found,
               std::vector<std::string>& errors) {
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    std::error_code entry_ec;
    const bool link = it->is_symlink(entry_ec);
    const auto status = fs::status(path, entry_ec);
    if (link && !fs::exists(status)) {
      std::error_code target_ec;
      errors.push_back(path.string() + ": broken link (to " +
                       fs::read_symlink(path, target_ec).string() + ")");
    } else if (fs::is_directory(status) && !link) {
      walk_tree(path, found, errors);
    } else if (fs::is_regular_file(status) && has_audio_extension(path)) {
      found.push_back(path);
    }
  }
  if (ec) errors.push_back(folder.string() + ": cannot read folder (" + ec.message() + ")");
}

void walk_folder(const fs::path& folder, std::vector<fs::path>& files,
                 std::vector<std::string>& errors) {
  std::vector<fs::path> found;
  walk_tree(folder, found, errors);
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
}

void check_options(const IngestOptions& options) {
  if (!(options.length > 0)) throw Error("--length must be positive");
  if (!(options.hop > 0)) throw Error("--hop must be positive");
  if (options.rate < 1000 || options.rate > 384000)
    throw Error("--rate must be between 1000 and 384000 Hz");
  if (options.jobs < 1) throw Error("--jobs must be at least 1");
}

// Every sample of a store has one format, recorded by the first ingest: a second format would
// reach training resampled or zero-padded without a word.
void require_sample_format(Store& store, const Home& home, const IngestOptions& options) {
  const SampleFormat wanted{options.rate, options.length};
  const SampleFormat recorded = store.claim_sample_format(wanted);
  if (recorded == wanted) return;
  throw Error(fmt::format(
      "{}: its samples are {} Hz, {} s long, and this ingest asks for {} Hz, {} s; ingest with "
      "--rate {} --length {}, or into another --home",
      home.root.string(), recorded.sample_rate, recorded.seconds, wanted.sample_rate,
      wanted.seconds, recorded.sample_rate, recorded.seconds));
}

// Adds one file's outcome to the run's totals (called under the summary lock).
void count(const SourceResult& result, IngestSummary& summary) {
  switch (result.outcome) {
    case Outcome::ingested:
      ++summary.ingested;
      break;
    case Outcome::skipped:
      ++summary.skipped;
      break;
    case Outcome::busy:
      ++summary.busy;
      break;
  }
  summary.samples += result.samples;
  summary.silent += result.silent;
  summary.audio_seconds += result.audio_seconds;
  summary.stray_files_removed += result.stray_files_removed;
  summary.rescanned += result.rescans ? 1 : 0;
  summary.replaced += result.sources_replaced ? 1 : 0;
  summary.votes_moved += result.votes_moved;
  summary.votes_retired += result.votes_retired;
  if (result.tail_seconds > 0) {
    ++summary.tails_dropped;
    summary.tail_seconds += result.tail_seconds;
  }
}

class Run {
 public:
  Run(Store& store, const Home& home, const IngestOptions& options, const ErrorSink& on_error)
      : store_(store), home_(home), options_(options), on_error_(on_error) {}

  IngestSummary go(const std::vector<fs::path>& paths) {
    for (const auto& line : walk(paths)) report_error(line);
    summary_.files = files_.size();
    summary_.stray_files_removed += clean_interrupted_sources(store_, home_);
    Progress progress("ingest", files_.size(), options_.progress);
    const IngestContext context{store_, home_, options_,
                                options_.worker.empty() ? default_worker_id() : options_.worker,
                                progress};
    std::vector<std::thread> workers;
    const int threads = std::min<int>(options_.jobs, std::max<size_t>(files_.size(), 1));
    for (int i = 1; i < threads; ++i) workers.emplace_back([&] { work(context); });
    work(context);
    for (auto& worker : workers) worker.join();
    progress.finish();
    summary_.elapsed_seconds = progress.elapsed_seconds();
    return summary_;
  }

 private:
  std::vector<std::string> walk(const std::vector<fs::path>& paths) {
    std::vector<std::string> errors;
    files_ = find_audio_files(paths, errors);
    return errors;
  }

  void work(const IngestContext& context) {
    for (size_t i = next_++; i < files_.size(); i = next_++) {
      try {
        const SourceResult result = ingest_source(files_[i], context);
        if (result.outcome == Outcome::ingested && result.samples == 0) report_empty(i, result);
        std::lock_guard lock(mutex_);
        count(result, summary_);
        spdlog::debug("{}: {} samples", files_[i].string(), result.samples);
      } catch (const Error& e) {
        report_error(e.what());
      } catch (const std::exception& e) {  // filesystem and library errors lack the file name
        report_error(files_[i].string() + ": " + e.what());
      }
      context.progress.advance(1);
    }
  }

  // A file shorter than one sample (a truncated MP3 that decodes to a moment) is recorded, so
  // a re-run skips it, but named: it adds nothing to label.
  void report_empty(size_t i, const SourceResult& result) {
    const std::string line =
        fmt::format("{}: gave no sample ({:.2f} s of audio, shorter than one {} s sample)",
                    files_[i].string(), result.audio_seconds, options_.length);
    std::lock_guard lock(mutex_);
    ++summary_.empty;
    summary_.errors.push_back(line);
    if (on_error_) on_error_(line);
  }

  void report_error(const std::string& line) {
    std::lock_guard lock(mutex_);
    ++summary_.failed;
    summary_.errors.push_back(line);
    if (on_error_) on_error_(line);
  }

  Store& store_;
  const Home& home_;
  const IngestOptions& options_;
  const ErrorSink& on_error_;
  std::vector<fs::path> files_;
  std::atomic<size_t> next_{0};
  std::mutex mutex_;
  IngestSummary summary_;
};

}  // namespace

std::vector<fs::path> find_audio_files(const std::vector<fs::path>& paths,
                                       std::vector<std::string>& errors) {
  std::vector<fs::path> files;
  for (const auto& path : paths) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (fs::is_directory(status))
      walk_folder(path, files, errors);
    else if (fs::exists(status))
      files.push_back(path);  // named explicitly: tried whatever its extension
    else
      errors.push_back(path.string() + ": no such file or folder");
  }
  return files;
}

IngestSummary ingest(const std::vector<fs::path>& paths, Store& store, const Home& home,
                     const IngestOptions& options, const ErrorSink& on_error) {
  check_options(options);
  home.create();
  require_sample_format(store, home, options);
  return Run(store, home, options, on_error).go(paths);
}

}  // namespace sax
