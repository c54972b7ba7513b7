// saxdetect status: what the store holds (sources, samples, votes, annotators).
#include <fmt/format.h>

#include "cli/command.h"
#include "common/error.h"
#include "common/progress.h"
#include "store/report.h"
#include "store/store.h"

namespace sax::cli {

namespace {

std::string counts(const std::map<std::string, int64_t>& by_name) {
  std::string text;
  for (const auto& [name, count] : by_name)
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", name, count);
  return text.empty() ? "none" : text;
}

void print_table(const StatusReport& r, const Home& home, const std::string& backend) {
  fmt::print("{:<12}{} ({})\n", "Data home", home.root.string(), backend);
  fmt::print("{:<12}{}\n", "Sources", r.sources);
  fmt::print("{:<12}{} ({} silent), {} of audio\n", "Samples", r.samples, r.silent,
             format_duration(r.audio_seconds));
  fmt::print("{:<12}{} samples with at least one vote\n", "Labeled", r.labeled);
  fmt::print("{:<12}{} samples awaiting a vote\n", "Unlabeled", r.unlabeled);
  fmt::print("{:<12}{}: {}\n", "Votes", r.votes, counts(r.labels));
  fmt::print("{:<12}{}\n", "Reconciled", counts(r.reconciled));
  std::string by_votes;
  for (const auto& [votes, samples] : r.by_vote_count)
    by_votes += fmt::format("{}{} with {} vote{}", by_votes.empty() ? "" : ", ", samples, votes,
                            votes == 1 ? "" : "s");
  fmt::print("{:<12}{}\n", "By votes", by_votes.empty() ? "none" : by_votes);
  fmt::print("{:<12}{:.3f} (Fleiss' kappa over samples with 2+ votes)\n", "Agreement", r.kappa);
  fmt::print("{:<12}{}\n", "Annotators", r.annotators.size());
  for (const auto& a : r.annotators)
    fmt::print("  {:<20}{:>7} votes {:>5} today {:>5.0f}% agree\n", a.name, a.votes, a.today,
               100 * a.agreement);
}

const Command kStatus(20, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("status", "Show what the store holds");
  static bool json = false;
  command->add_flag("--json", json, "Print a JSON object instead of a table");
  command->callback([&global] {
    const Home home = global.resolve_home();
    if (global.db.empty() && !std::filesystem::exists(home.database()))
      throw Error(home.database().string() + ": no store here yet (run saxdetect ingest first)");
    auto store = open_store(home, global.db);
    const StatusReport report = store->status();
    if (json)
      fmt::print("{}\n", status_json(report, store->backend()).dump(2));
    else
      print_table(report, home, store->backend());
  });
});

}  // namespace

}  // namespace sax::cli
