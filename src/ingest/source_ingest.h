#pragma once
// Ingestion of one source file: claim it, cut it into samples, store each clip.
#include <filesystem>
#include <string>

#include "common/home.h"
#include "common/progress.h"
#include "ingest/ingest.h"
#include "store/store.h"

namespace sax::ingest_detail {

enum class Outcome { ingested, skipped, busy };

struct SourceResult {
  Outcome outcome = Outcome::skipped;
  size_t samples = 0;
  size_t silent = 0;
  double audio_seconds = 0;
  double tail_seconds = 0;  // audio after the last whole sample, dropped
  size_t stray_files_removed = 0;
  size_t rescans = 0;  // reads started over because the file changed meanwhile
  size_t sources_replaced = 0, votes_moved = 0, votes_retired = 0;
};

struct IngestContext {
  Store& store;
  const Home& home;
  const IngestOptions& options;
  std::string worker;
  Progress& progress;
};

// Throws sax::Error "<file>: <reason>" when the file cannot be ingested (a file that keeps
// changing while it is read included).
SourceResult ingest_source(const std::filesystem::path& path, const IngestContext& context);

// Cleans the folders of sources an earlier run left "ingesting" and no live process holds.
size_t clean_interrupted_sources(Store& store, const Home& home);

}  // namespace sax::ingest_detail
