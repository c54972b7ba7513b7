#include "web/sources.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "common/hash.h"
#include "web/validation.h"

namespace sax::web {

namespace fs = std::filesystem;

namespace {

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool contains(const std::string& haystack, const std::string& lower_needle) {
  return ascii_lower(haystack).find(lower_needle) != std::string::npos;
}

std::string gone_message(const Source& source) {
  return "source " + std::to_string(source.id) + " (" + source_file_name(source) +
         "): the original file is no longer there (moved or deleted since it was ingested); "
         "put it back, or upload the song instead";
}

}  // namespace

std::string source_file_name(const Source& source) {
  return fs::path(source.path).filename().string();
}

SourceMatches match_sources(const std::vector<Source>& all, std::string_view text, size_t limit) {
  const std::string needle = ascii_lower(text);
  SourceMatches matches;
  for (const Source& source : all) {
    const bool match = needle.empty() || contains(source_file_name(source), needle) ||
                       contains(source.title, needle) || contains(source.artist, needle) ||
                       contains(source.album, needle);
    if (!match) continue;
    ++matches.total;
    if (matches.sources.size() < limit) matches.sources.push_back(source);
  }
  return matches;
}

nlohmann::json source_json(const Source& source, bool available) {
  return {{"id", source.id},
          {"name", source_file_name(source)},
          {"folder", fs::path(source.path).parent_path().filename().string()},
          {"title", source.title},
          {"artist", source.artist},
          {"album", source.album},
          {"duration", source.duration},
          {"available", available}};
}

SourceFiles::SourceFiles(Home home) : home_(std::move(home)) {}

fs::path SourceFiles::stored_path(const Source& source) const {
  const fs::path path(source.path);
  if (!has_audio_extension(path))
    throw HttpError(403, "source " + std::to_string(source.id) + " is not an audio file");
  if (path.is_absolute()) return path.lexically_normal();
  try {
    return home_.inside(source.path);
  } catch (const Error&) {
    throw HttpError(403, "source " + std::to_string(source.id) + " lies outside the data home");
  }
}

bool SourceFiles::available(const Source& source) const {
  try {
    std::error_code ec;
    return fs::is_regular_file(stored_path(source), ec);
  } catch (const Error&) {
    return false;
  }
}

fs::path SourceFiles::checked_file(const Source& source) {
  const fs::path stored = stored_path(source);
  std::error_code ec;
  const fs::path file = fs::canonical(stored, ec);  // symlinks resolved: what is really read
  if (ec || !fs::is_regular_file(file, ec)) throw HttpError(410, gone_message(source));
  const uintmax_t size = fs::file_size(file, ec);
  if (ec) throw HttpError(410, gone_message(source));
  const auto modified = fs::last_write_time(file, ec);
  if (ec) throw HttpError(410, gone_message(source));
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto known = verified_.find(source.id);
    if (known != verified_.end() && known->second.file == file && known->second.size == size &&
        known->second.modified == modified)
      return file;
  }
  std::string hash;
  try {
    hash = sha256_file(file);  // outside the lock: a long file must not stall other requests
  } catch (const Error&) {
    throw HttpError(410, gone_message(source));
  }
  if (ascii_lower(hash) != ascii_lower(source.hash))
    throw HttpError(409, "source " + std::to_string(source.id) + " (" + source_file_name(source) +
                             "): the file changed since it was ingested; ingest it again");
  const std::lock_guard<std::mutex> lock(mutex_);
  verified_[source.id] = {file, size, modified};
  return file;
}

}  // namespace sax::web
