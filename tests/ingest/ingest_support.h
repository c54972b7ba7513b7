#pragma once
// Helpers for the ingest tests: audio files on disk and a check for files the store lacks.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "audio/audio.h"
#include "common/hash.h"
#include "common/home.h"
#include "store/store.h"
#include "support/testing.h"

namespace sax {

using testing::write_bytes;

inline void write_tone_file(const std::filesystem::path& path, double seconds, int rate,
                            int channels, double hz = 440.0) {
  std::filesystem::create_directories(path.parent_path());
  const auto samples = testing::tone(seconds, rate, channels, hz);
  write_audio(path, samples.data(), samples.size() / channels, channels, rate);
}

// Files under home/samples that no sample or retired vote records (the lock files excepted),
// plus samples whose files are missing ("missing: <path>"). Empty when the store and the disk
// agree.
inline std::vector<std::string> stray_files(const Home& home, Store& store) {
  std::vector<std::string> problems;
  std::vector<std::string> recorded;
  for (const RetiredVote& vote : store.retired_votes())
    recorded.insert(recorded.end(), {vote.sample_path, vote.web_path});
  for (const Sample& sample : store.samples()) {
    for (const auto& path : {sample.path, sample.web_path}) {
      recorded.push_back(path);
      if (!std::filesystem::exists(home.root / path)) problems.push_back("missing: " + path);
    }
  }
  if (!std::filesystem::exists(home.samples())) return problems;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(home.samples())) {
    if (!entry.is_regular_file() || entry.path().filename() == ".lock") continue;
    const std::string relative = std::filesystem::relative(entry.path(), home.root).string();
    if (std::find(recorded.begin(), recorded.end(), relative) == recorded.end())
      problems.push_back(relative);
  }
  return problems;
}

}  // namespace sax
