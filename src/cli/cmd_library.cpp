// saxdetect library: the stored scan results, filtered and sorted, as text, JSON, CSV or an
// M3U playlist of the songs or of their sax passages.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "scan/library.h"
#include "scan/scan.h"
#include "store/store.h"

namespace sax::cli {

namespace {

struct LibrarySettings {
  std::string model;
  bool sax = false, no_sax = false;
  double min_share = 0;
  std::string search;
  std::string sort = "name";
  bool descending = false;
  bool json = false, csv = false, m3u = false, passages = false;
};

LibraryQuery query_of(const LibrarySettings& s, const std::string& model_id) {
  LibraryQuery query;
  query.model = model_id;
  query.verdict = s.sax      ? LibraryQuery::Verdict::sax
                  : s.no_sax ? LibraryQuery::Verdict::no_sax
                             : LibraryQuery::Verdict::any;
  query.min_share = s.min_share;
  query.search = s.search;
  query.sort = s.sort == "share"         ? LibraryQuery::Sort::share
               : s.sort == "probability" ? LibraryQuery::Sort::probability
               : s.sort == "duration"    ? LibraryQuery::Sort::duration
                                         : LibraryQuery::Sort::name;
  // Names read best A to Z; numbers most first.
  query.descending = (query.sort != LibraryQuery::Sort::name) != s.descending;
  return query;
}

void print_library(const std::vector<LibraryEntry>& entries, const LibrarySettings& s) {
  if (s.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& entry : entries) list.push_back(library::to_json(entry));
    fmt::print("{}\n", list.dump(2));
  } else if (s.m3u) {
    std::fputs(library::m3u(entries, s.passages).c_str(), stdout);
  } else {
    std::string out = s.csv ? library::csv_header() : "";
    for (const auto& entry : entries)
      out += s.csv ? library::to_csv(entry) : library::to_text(entry);
    std::fputs(out.c_str(), stdout);
  }
}

void run_library(const GlobalOptions& global, const LibrarySettings& settings) {
  if (settings.passages && !settings.m3u) throw Error("--passages goes with --m3u");
  if (!(settings.min_share >= 0 && settings.min_share <= 1))
    throw Error("--min-share must lie between 0 and 1");
  const Home home = global.resolve_home();
  auto store = open_store(home, global.db);
  const LibraryPage page = store->library(query_of(settings, scan_model_id(home, settings.model)));
  print_library(page.entries, settings);
  if (!settings.json && !settings.csv && !settings.m3u && !global.quiet)
    fmt::print(stderr, "{} songs\n", page.total);
}

const Command kLibrary(65, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("library", "List the scanned songs: which have sax, where");
  static LibrarySettings s;
  command->add_option("--model", s.model,
                      "Model folder whose scan to list (default: the current model)");
  auto* sax = command->add_flag("--sax", s.sax, "Only songs with saxophone");
  command->add_flag("--no-sax", s.no_sax, "Only songs without saxophone")->excludes(sax);
  command->add_option("--min-share", s.min_share, "Only songs with at least this share of sax")
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--search", s.search, "Only songs whose file name or tags contain TEXT");
  command->add_option("--sort", s.sort, "name (A-Z), share, probability or duration (most first)")
      ->capture_default_str()
      ->check(CLI::IsMember({"name", "share", "probability", "duration"}));
  command->add_flag("--reverse", s.descending, "Reverse the order");
  auto* json = command->add_flag("--json", s.json, "A JSON array, one object per song");
  auto* csv = command->add_flag("--csv", s.csv, "CSV rows")->excludes(json);
  command->add_flag("--m3u", s.m3u, "An M3U playlist of the songs")->excludes(json)->excludes(csv);
  command->add_flag("--passages", s.passages,
                    "With --m3u: one entry per sax passage, with VLC start and stop times");
  command->callback([&global] { run_library(global, s); });
});

}  // namespace

}  // namespace sax::cli
