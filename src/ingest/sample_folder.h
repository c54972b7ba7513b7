#pragma once
// The folder under home/samples/ that holds one source's clips, and the lock that makes one
// process at a time its only writer. The lock is an flock(2) on a file in the folder, so the
// kernel releases it when its holder dies (kill -9 included) and a re-run can take over at once.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "common/home.h"

namespace sax::ingest_detail {

class SampleFolder {
 public:
  SampleFolder(const Home& home, const std::string& source_hash);
  ~SampleFolder();
  SampleFolder(const SampleFolder&) = delete;
  SampleFolder& operator=(const SampleFolder&) = delete;

  // Takes the folder's lock without waiting; false when another live process holds it.
  bool try_lock();

  // Paths relative to the data home of a clip starting `start_ms` into the source.
  std::string clip_path(int64_t start_ms, const std::string& extension) const;
  // Where the clip is written before it becomes visible (same folder, so rename is atomic).
  std::filesystem::path temp_path(const std::string& clip_relative) const;
  std::filesystem::path absolute(const std::string& relative) const {
    return home_.root / relative;
  }

  // Removes every file the store does not record (temp files and clips renamed into place by a
  // run that died before committing). Needs the lock. Returns how many were removed.
  size_t remove_unrecorded(const std::set<std::string>& recorded_relative_paths);

 private:
  Home home_;
  std::string relative_;  // "samples/<hash>"
  int lock_fd_ = -1;
};

}  // namespace sax::ingest_detail
