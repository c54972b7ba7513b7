#include "scan/library.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace sax::library {

namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// One line of a playlist: control characters (line breaks above all) become spaces.
std::string one_line(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return text;
}

bool needs_uri(const std::string& path) {
  if (path.empty() || path[0] == '#') return true;
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

std::string file_uri(const std::string& path) {
  std::string out = "file://";
  for (unsigned char c : path) {
    const bool plain = std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    out += plain ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
  }
  return out;
}

std::string playlist_location(const std::string& path) {
  return needs_uri(path) ? file_uri(path) : path;
}

std::string mmss(double seconds) {
  const auto s = static_cast<long>(std::floor(seconds));
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

std::string file_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string display_name(const LibraryEntry& entry) {
  if (!entry.artist.empty() && !entry.title.empty()) return entry.artist + " - " + entry.title;
  if (!entry.title.empty()) return entry.title;
  return file_name(entry.path);
}

std::vector<std::vector<double>> segments_of(const ScanResult& result) {
  auto json = nlohmann::json::parse(result.segments.empty() ? "[]" : result.segments, nullptr,
                                    /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_array())
    throw Error("scan of source " + std::to_string(result.source_id) +
                ": stored segments are not a JSON array");
  return json.get<std::vector<std::vector<double>>>();
}

nlohmann::json to_json(const LibraryEntry& entry, bool with_path) {
  const ScanResult& r = entry.result;
  nlohmann::json j = {
      {"id", r.source_id},      {"name", file_name(entry.path)}, {"title", entry.title},
      {"artist", entry.artist}, {"album", entry.album},          {"status", r.status},
      {"sax", r.sax},           {"probability", r.probability},  {"share", r.share},
      {"duration", r.duration}, {"segments", segments_of(r)},    {"scanned", r.scanned}};
  if (with_path) j["path"] = entry.path;
  return j;
}

std::string csv_header() { return "path,name,status,sax,probability,share,duration,segments\n"; }

std::string to_csv(const LibraryEntry& entry) {
  const ScanResult& r = entry.result;
  std::string segments;
  for (const auto& s : segments_of(r))
    segments += fmt::format("{}{:.2f}-{:.2f}", segments.empty() ? "" : ";", s.at(0), s.at(1));
  return fmt::format("{},{},{},{},{:.4f},{:.4f},{:.2f},{}\n", csv_field(entry.path),
                     csv_field(display_name(entry)), r.status, r.sax ? 1 : 0, r.probability,
                     r.share, r.duration, segments);
}

std::string to_text(const LibraryEntry& entry) {
  const ScanResult& r = entry.result;
  constexpr int kWidth = 30;
  std::string bar(kWidth, '-');
  if (r.duration > 0)
    for (const auto& s : segments_of(r))
      for (int i = 0; i < kWidth; ++i) {
        const double at = (i + 0.5) * r.duration / kWidth;
        if (at >= s.at(0) && at < s.at(1)) bar[i] = '#';
      }
  return fmt::format("{:<6} {:>5.1f}% {:>6} |{}| {}{}\n", r.sax ? "sax" : "-", 100 * r.share,
                     mmss(r.duration), bar, one_line(display_name(entry)),
                     r.status == "missing" ? " (missing)" : "");
}

std::string m3u(const std::vector<LibraryEntry>& entries, bool passages) {
  std::string out = "#EXTM3U\n";
  for (const auto& entry : entries) {
    const std::string name = one_line(display_name(entry));
    const std::string location = playlist_location(entry.path);
    if (!passages) {
      out += fmt::format("#EXTINF:{},{}\n{}\n", std::lround(entry.result.duration), name, location);
      continue;
    }
    for (const auto& s : segments_of(entry.result))
      out += fmt::format(
          "#EXTINF:{},{} (sax {}-{})\n#EXTVLCOPT:start-time={:.3f}\n#EXTVLCOPT:stop-time={:.3f}\n"
          "{}\n",
          std::lround(s.at(1) - s.at(0)), name, mmss(s.at(0)), mmss(s.at(1)), s.at(0), s.at(1),
          location);
  }
  return out;
}

}  // namespace sax::library
