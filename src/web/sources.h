#pragma once
// Ingested sources on the /analyze page: a filtered listing, and the one file the store names
// for a source id, checked before it is analysed or played back.
//
// The client only ever sends a source id. The file is the path ingest recorded (absolute, and
// often outside the data home: a music library), or a path relative to the home resolved
// through Home::inside. Before it is read it must still be a regular file with an audio
// extension whose SHA-256 equals the hash the store holds for that source: only exactly the
// content that was ingested is analysed or served, whatever now lies at that path (a swapped
// file or a symlink pointing elsewhere is refused). Verified files are remembered by path,
// size and modification time, so playback's range requests do not hash the file again.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/home.h"
#include "store/store.h"

namespace sax::web {

constexpr size_t kMaxSourceQuery = 200;  // bytes of filter text
constexpr size_t kDefaultSourceLimit = 50;
constexpr size_t kMaxSourceLimit = 500;

// The sources whose file name, title, artist or album contain `text` (case-insensitive for
// ASCII letters; empty text matches all), in store order. `total` counts every match,
// `sources` holds the first `limit` of them.
struct SourceMatches {
  size_t total = 0;
  std::vector<Source> sources;
};
SourceMatches match_sources(const std::vector<Source>& all, std::string_view text, size_t limit);

// What the page shows for a source: {"id", "name" (file name only, never the full path),
// "folder" (the name of the folder holding it), "title", "artist", "album", "duration",
// "available" (whether the file is still there)}.
nlohmann::json source_json(const Source& source, bool available);

class SourceFiles {
 public:
  explicit SourceFiles(Home home);

  // The file the store names for `source`, checked as described above. HttpError 410 when it
  // is gone, 409 when its content changed since it was ingested, 403 when the stored path is
  // not an audio file or escapes the home (relative paths). Messages name the file, not the
  // folder it is in.
  std::filesystem::path checked_file(const Source& source);

  // Cheap check for the listing: is there still a regular file at the stored path?
  bool available(const Source& source) const;

 private:
  struct Verified {
    std::filesystem::path file;
    uintmax_t size = 0;
    std::filesystem::file_time_type modified;
  };
  std::filesystem::path stored_path(const Source& source) const;

  Home home_;
  std::mutex mutex_;
  std::map<int64_t, Verified> verified_;  // by source id
};

// The file name a source is shown under ("song.mp3").
std::string source_file_name(const Source& source);

}  // namespace sax::web
