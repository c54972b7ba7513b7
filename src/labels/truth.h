#pragma once
// truth.json: where the saxophone sounds in each song of a library. `saxdetect synth` writes it
// for its songs; people may write one for their own recordings; labels and `evaluate` read it.
//
//   for (const auto& song : sax::read_truth("library/truth.json")) use(song.file, song.sax);
#include <filesystem>
#include <string>
#include <vector>

#include "common/time_ranges.h"

namespace sax {

struct LeadSection {
  double start = 0, end = 0;
  std::string instrument;  // "" when only the band plays
};

struct SongTruth {
  std::string file;  // relative to truth.json's folder
  std::string style;
  double tempo = 0;
  std::string key;
  std::string soundfont;  // file name, e.g. "FluidR3_GM.sf2"
  double duration = 0;
  std::vector<std::string> instruments;
  std::vector<LeadSection> sections;
  std::vector<TimeRange> sax;  // where any saxophone sounds
  bool has_sax() const { return !sax.empty(); }
};

void write_truth(const std::filesystem::path& path, const std::vector<SongTruth>& songs);
// Throws sax::Error naming the file and the field at fault.
std::vector<SongTruth> read_truth(const std::filesystem::path& path);
// The same with every file made absolute (a relative one is resolved against the truth file's
// folder), to match songs with the files analysed.
std::vector<SongTruth> read_truth_of_files(const std::filesystem::path& path);
// The truth for `file` among songs read so: the same absolute path, else the same file name.
// nullptr if none.
const SongTruth* find_truth(const std::vector<SongTruth>& songs, const std::filesystem::path& file);

}  // namespace sax
