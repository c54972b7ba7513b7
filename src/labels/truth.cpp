#include "labels/truth.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace sax {

namespace {

double round_ms(double seconds) { return std::round(seconds * 1000.0) / 1000.0; }

}  // namespace

void write_truth(const std::filesystem::path& path, const std::vector<SongTruth>& songs) {
  nlohmann::json list = nlohmann::json::array();
  for (const SongTruth& song : songs) {
    nlohmann::json sax = nlohmann::json::array(), sections = nlohmann::json::array();
    for (const auto& [start, end] : song.sax) sax.push_back({round_ms(start), round_ms(end)});
    for (const LeadSection& s : song.sections)
      sections.push_back(
          {{"start", round_ms(s.start)}, {"end", round_ms(s.end)}, {"lead", s.instrument}});
    list.push_back({{"file", song.file},
                    {"style", song.style},
                    {"tempo", song.tempo},
                    {"key", song.key},
                    {"soundfont", song.soundfont},
                    {"duration", round_ms(song.duration)},
                    {"instruments", song.instruments},
                    {"sections", sections},
                    {"sax", sax}});
  }
  std::ofstream out(path);
  out << nlohmann::json{{"songs", list}}.dump(2) << "\n";
  if (!out) throw Error(path.string() + ": cannot write");
}

namespace {

template <class T>
T field(const nlohmann::json& object, const char* name, const std::string& where) {
  if (!object.is_object() || !object.contains(name))
    throw Error(where + ": missing field '" + name + "'");
  try {
    return object.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(where + ": field '" + name + "' has the wrong type");
  }
}

SongTruth parse_song(const nlohmann::json& entry, const std::string& where) {
  SongTruth song;
  song.file = field<std::string>(entry, "file", where);
  song.style = entry.value("style", "");
  song.tempo = entry.value("tempo", 0.0);
  song.key = entry.value("key", "");
  song.soundfont = entry.value("soundfont", "");
  song.duration = entry.value("duration", 0.0);
  if (entry.contains("instruments"))
    song.instruments = field<std::vector<std::string>>(entry, "instruments", where);
  for (const auto& range : field<std::vector<std::vector<double>>>(entry, "sax", where)) {
    if (range.size() != 2 || !(range[0] <= range[1]))
      throw Error(where + ": field 'sax' must hold [start, end] pairs with start <= end");
    song.sax.push_back({range[0], range[1]});
  }
  if (entry.contains("sections") && entry["sections"].is_array())
    for (const auto& s : entry["sections"])
      song.sections.push_back({s.value("start", 0.0), s.value("end", 0.0), s.value("lead", "")});
  return song;
}

}  // namespace

std::vector<SongTruth> read_truth(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  nlohmann::json document;
  try {
    in >> document;
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!document.is_object() || !document.contains("songs") || !document["songs"].is_array())
    throw Error(path.string() + ": missing field 'songs' (a list)");
  std::vector<SongTruth> songs;
  for (size_t i = 0; i < document["songs"].size(); ++i)
    songs.push_back(
        parse_song(document["songs"][i], path.string() + ": songs[" + std::to_string(i) + "]"));
  return songs;
}

std::vector<SongTruth> read_truth_of_files(const std::filesystem::path& path) {
  const auto folder = std::filesystem::absolute(path).parent_path();
  auto songs = read_truth(path);
  for (auto& song : songs) song.file = (folder / song.file).lexically_normal().string();
  return songs;
}

const SongTruth* find_truth(const std::vector<SongTruth>& songs,
                            const std::filesystem::path& file) {
  const std::string absolute = std::filesystem::absolute(file).lexically_normal().string();
  for (const auto& song : songs)
    if (song.file == absolute) return &song;
  for (const auto& song : songs)
    if (std::filesystem::path(song.file).filename() == file.filename()) return &song;
  return nullptr;
}

}  // namespace sax
