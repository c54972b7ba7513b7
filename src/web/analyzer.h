#pragma once
// The /analyze page's work: checks an uploaded file, runs sax::detect on it with the home's
// detector (the current model, else the built-in one), and removes it again; or runs it on an
// ingested source's file (see sources.h). One analysis at a time (each uses every core), the model
// loaded once and reloaded when home/models/current changes. WebOptions::max_analyses may be
// admitted at once (running or waiting), each within WebOptions::analysis_seconds; past either,
// HttpError 503.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/home.h"
#include "infer/detector.h"
#include "web/server.h"

namespace sax::web {

class Analyzer {
 public:
  Analyzer(Home home, const WebOptions& options);

  // Removes what an earlier server left under home/uploads (killed in mid-analysis).
  void sweep_uploads() const;
  // Ends the analyses in flight or waiting (HttpError 503) and refuses new ones.
  void stop();

  // Stores `bytes` under home/uploads (deleted before returning), analyses it and returns the
  // `predict --json` object with "file" set to `file_name`, plus "plot" (an SVG of the
  // probability curve over the spectrogram). HttpError 415 for a name without an audio
  // extension or content that does not decode; 409 when the current model cannot be loaded.
  nlohmann::json analyse_upload(const std::string& file_name, const std::string& bytes);

  // The same for a file already on the server (an ingested source, checked by the caller);
  // "file" is set to `display_name`. HttpError 422 when it does not decode to the end.
  nlohmann::json analyse_file(const std::filesystem::path& file, const std::string& display_name);

 private:
  class Turn;
  Scorer& scorer();  // caller holds mutex_
  // Analyses `file` with `model` and builds the response (caller holds mutex_).
  nlohmann::json run(Scorer& model, const std::filesystem::path& file,
                     const std::string& display_name, const Turn& turn);

  Home home_;
  WebOptions::OpenScorer open_scorer_;
  size_t max_analyses_;
  std::chrono::duration<double> time_limit_;
  std::atomic<size_t> admitted_{0};
  std::atomic<bool> stopping_{false};
  std::timed_mutex mutex_;
  std::unique_ptr<Scorer> scorer_;
  std::string scorer_key_;  // what scorer_ was loaded from: a model folder or the built-in
};

}  // namespace sax::web
