#pragma once
// Labels that come from somewhere other than the labelling page (`saxdetect labels`):
// the ground truth of a synthetic library, CSV files people bring, and export of every vote.
//
//   auto report = sax::import_truth(*store, "library/truth.json", {0.5, "truth"});
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "labels/truth.h"
#include "store/store.h"

namespace sax {

// The label the truth gives a sample [start, start + duration): sax when a saxophone sounds for
// at least min_overlap seconds of it, not_sax when none sounds, unsure in between.
Label label_from_truth(const std::vector<TimeRange>& sax, double start, double duration,
                       double min_overlap);

struct TruthImportOptions {
  double min_overlap = 0.5;  // seconds
  std::string annotator = "truth";
  bool progress = true;
};

struct ImportReport {
  int64_t sax = 0, not_sax = 0, unsure = 0;  // votes written
  int64_t replaced = 0;                      // of those, votes that replaced an earlier one
  int64_t sources = 0;                       // sources (songs) that received labels
  std::vector<std::string> problems;         // one line each: songs not ingested, bad CSV rows
  int64_t votes() const { return sax + not_sax + unsure; }
};

// Labels the already-ingested samples of the songs in truth.json and records where the
// saxophone sounds in each (Store::set_sax_times, for training time steps). A song is found among
// the store's sources by path (truth.json's folder + file), then by content hash, then by file name
// when exactly one source has it. Songs not ingested are listed in problems.
ImportReport import_truth(Store& store, const std::filesystem::path& truth_json,
                          const TruthImportOptions& options);

// CSV rows: source (path or SHA-256 hash), start seconds, label, annotator. A header row may
// name the columns (source or path, hash, start, label, annotator, in any order, others
// ignored), which is what export_labels writes; without one the four columns come in that
// order. Bad rows go to problems as "FILE:LINE: reason"; the rest are imported.
ImportReport import_csv(Store& store, const std::filesystem::path& csv);

// Every vote with its sample, source and the sample's reconciled label.
enum class ExportFormat { csv, json };
ExportFormat parse_export_format(const std::string& name);  // throws sax::Error
std::string export_labels(Store& store, ExportFormat format);

// One CSV record split into fields (double quotes enclose fields with commas, quotes or line
// breaks; "" inside them is a quote).
std::vector<std::string> split_csv_line(const std::string& line);
// Reads one RFC 4180 record, which spans several lines when a quoted field holds line breaks;
// `lines` says how many. False at the end of the input.
bool read_csv_record(std::istream& in, std::string& record, int& lines);

// Export writes free text (annotator names, paths) that starts with = + - @ tab or CR, after
// any apostrophes, with one more apostrophe in front, so spreadsheets show it instead of
// running it as a formula; import takes that apostrophe off again, so every name round-trips.
std::string neutralise_formula(const std::string& text);
std::string restore_formula(const std::string& text);

}  // namespace sax
