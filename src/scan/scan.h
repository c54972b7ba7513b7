#pragma once
// Scanning a whole library: every ingested source (or the files given, ingested first) scored
// by one detector, its verdict, segments and probability curve stored per (source, model).
//
//   sax::ScanOptions options;  options.jobs = 2;
//   auto summary = sax::scan_library(*store, home, options);
//
// Incremental: a source whose file has the same size and modification time as when this
// model last scanned it is skipped without opening it; a changed file is hashed and rescanned;
// a file gone from disk is marked missing (its results stay). Each result is written with its
// claim released in one transaction, so a run killed at any moment leaves whole results only,
// and the next run scans what is left. Workers (threads here, processes on other machines
// sharing a PostgreSQL store) claim sources with a lease, so each source is scanned once.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/home.h"
#include "common/progress.h"
#include "detect/detect.h"
#include "ingest/ingest.h"
#include "store/store.h"

namespace sax {

class Scorer;

// The detector `saxdetect scan` uses, `model_dir` (--model) or else the data home's current
// model. Every scan worker opens its own (scorers keep per-call buffers).
std::unique_ptr<Scorer> open_scan_detector(const Home& home, const std::string& model_dir);

// The id the same detector's results are stored under: derived from the model's files, so
// retraining (or switching models) rescans while the same model skips what it has seen.
std::string scan_model_id(const Home& home, const std::string& model_dir);

struct ScanOptions {
  std::vector<std::filesystem::path> paths;  // empty: every ingested source
  std::string model_dir;                     // empty: the current model
  int jobs = 1;
  bool retry_errors = false;   // rescan sources whose last scan failed, file unchanged
  double lease_seconds = 120;  // a claim older than this (not renewed) may be taken over
  std::string worker;          // claim owner; empty: "<host>:<pid>"
  detect::Options analysis;    // hop and smoothing
  IngestOptions ingest;        // for paths not yet ingested
  Progress::Mode progress = Progress::Mode::automatic;
};

struct ScanSummary {
  size_t sources = 0;   // considered
  size_t scanned = 0;   // scored in this run
  size_t skipped = 0;   // up to date already
  size_t busy = 0;      // held by another live worker
  size_t missing = 0;   // file gone
  size_t failed = 0;    // per-file errors (also the paths ingest could not read)
  size_t with_sax = 0;  // of those scanned now
  double audio_seconds = 0;
  double elapsed_seconds = 0;
  std::vector<std::string> errors;  // "<file>: <reason>"
};

using ScanErrorSink = std::function<void(const std::string& line)>;

ScanSummary scan_library(Store& store, const Home& home, const ScanOptions& options,
                         const ScanErrorSink& on_error = {});

// The same with scorers from `make_scorer` (one per worker) stored under `model_id`: what
// scan_library runs, open to tests with a fake scorer.
ScanSummary scan_sources(Store& store, const std::vector<Source>& sources,
                         const std::function<std::unique_ptr<Scorer>()>& make_scorer,
                         const std::string& model_id, const ScanOptions& options,
                         const ScanErrorSink& on_error = {});

// A stored scan result made from an analysis: segments as JSON, the curve (steps of a frame
// model, else windows) one byte per value in base64.
ScanResult scan_result_from(const detect::Analysis& analysis, int64_t source_id,
                            const std::string& model_id);
std::vector<float> decode_curve(const std::string& base64);
std::string base64_encode(const std::vector<unsigned char>& bytes);
std::vector<unsigned char> base64_decode(const std::string& text);  // throws on bad input

// The worker that holds a claim, "<host>:<pid>", is a process of this machine that has ended
// (so its claim can be taken at once instead of after its lease).
bool worker_is_dead(const std::string& worker);

}  // namespace sax
