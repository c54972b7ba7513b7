#pragma once
// Cutting a music library into short mono samples, each stored as a lossless clip plus a small
// browser-playable copy under the data home and recorded in the store.
//
//   sax::IngestOptions options;   // 5 s samples every 5 s at 22.05 kHz
//   auto summary = sax::ingest({"~/Music"}, *store, home, options);
//
// Idempotent (a source already ingested, by content hash, is skipped) and resumable (a source
// left half-done by a killed run is completed without duplicates; its stray files are removed).
// A file that changed since it was ingested replaces its old samples; one that changes while
// it is ingested is read again, or refused when it keeps changing.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/home.h"
#include "common/progress.h"
#include "store/store.h"

namespace sax {

struct IngestOptions {
  double length = 5;                   // seconds per sample
  double hop = 5;                      // seconds between the starts of consecutive samples
  int rate = 22050;                    // sample rate of the stored clips
  int jobs = 1;                        // files processed at once
  std::string web_extension = ".mp3";  // format of the browser-playable copy
  int web_bitrate_kbps = 64;
  std::string worker;  // owner of claims in the store; empty: "<host>:<pid>"
  Progress::Mode progress = Progress::Mode::automatic;
};

struct IngestSummary {
  size_t files = 0;     // audio files found
  size_t ingested = 0;  // completed in this run (fresh or resumed)
  size_t skipped = 0;   // already ingested (same content)
  size_t busy = 0;      // being ingested by another live process
  size_t failed = 0;    // files that could not be ingested, and folders or links that failed
  size_t empty = 0;     // of the ingested, files too short for one sample (named in errors)
  size_t samples = 0;   // samples added in this run
  size_t silent = 0;    // of which digital silence
  double audio_seconds = 0;
  size_t tails_dropped = 0;  // sources whose end was shorter than a sample
  double tail_seconds = 0;
  size_t stray_files_removed = 0;  // temp files and orphans left by interrupted runs
  size_t rescanned = 0;            // files read again because they changed while being ingested
  // Files ingested before with other content: their old samples replaced, and the votes on
  // those moved to new samples with the same audio or kept as retired votes.
  size_t replaced = 0;
  size_t votes_moved = 0, votes_retired = 0;
  std::vector<std::string> errors;  // one line per failed or empty file: "<file>: <reason>"
  double elapsed_seconds = 0;
};

// Called once per failed file or path, as it happens (the line is also kept in the summary).
using ErrorSink = std::function<void(const std::string& line)>;

// Files given directly, and audio files (by extension) found recursively in folders, sorted
// within each folder. Paths that do not exist, folders that cannot be read and links that lead
// nowhere are appended to `errors`.
std::vector<std::filesystem::path> find_audio_files(const std::vector<std::filesystem::path>& paths,
                                                    std::vector<std::string>& errors);

IngestSummary ingest(const std::vector<std::filesystem::path>& paths, Store& store,
                     const Home& home, const IngestOptions& options,
                     const ErrorSink& on_error = {});

// "<host>:<pid>", the default claim owner.
std::string default_worker_id();

}  // namespace sax
