#pragma once
// The stored scan results as people and programs read them: `saxdetect library` prints them as
// text, JSON, CSV or an M3U playlist (of songs, or of the sax passages with start and stop
// offsets), and the Library page gets the same JSON.
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "store/store.h"

namespace sax::library {

// {"id", "name", "path", "title", "artist", "album", "status", "sax", "probability", "share",
// "duration", "segments": [[start, end, probability], ...], "scanned"}. With_path false leaves
// "path" out (the web never shows where files live).
nlohmann::json to_json(const LibraryEntry& entry, bool with_path = true);

std::string file_name(const std::string& path);
// "Artist - Title" when both tags are there, the title alone, else the file name.
std::string display_name(const LibraryEntry& entry);

std::string csv_header();  // path,name,status,sax,probability,share,duration,segments
std::string to_csv(const LibraryEntry& entry);
std::string to_text(const LibraryEntry& entry);  // one line with a timeline bar

// An extended M3U playlist. Passages: one entry per segment, with the #EXTVLCOPT start-time
// and stop-time lines VLC (and players that follow it) read. Names lose line breaks; paths
// that a plain line cannot hold (line breaks, a leading '#') become percent-encoded file URIs.
std::string m3u(const std::vector<LibraryEntry>& entries, bool passages);

// The segments JSON a result stores, parsed ([start, end, probability] each).
std::vector<std::vector<double>> segments_of(const ScanResult& result);

}  // namespace sax::library
