// saxdetect labels: bring labels in (synthetic ground truth, CSV) and take every vote out.
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "cli/command.h"
#include "common/error.h"
#include "labels/labels.h"
#include "store/store.h"

namespace sax::cli {

namespace {

struct ImportArgs {
  std::string csv;
  std::string truth;
  TruthImportOptions truth_options;
};

void report_import(const ImportReport& report, const std::string& what) {
  // The first problems say what is wrong; thousands of lines would bury the summary.
  constexpr size_t kShown = 20;
  for (size_t i = 0; i < report.problems.size() && i < kShown; ++i)
    fmt::print(stderr, "warning: {}\n", report.problems[i]);
  if (report.problems.size() > kShown)
    fmt::print(stderr, "warning: ... and {} more problems\n", report.problems.size() - kShown);
  fmt::print("imported {} votes from {}: {} sax, {} not_sax, {} unsure", report.votes(), what,
             report.sax, report.not_sax, report.unsure);
  if (report.replaced) fmt::print(" ({} replaced earlier votes)", report.replaced);
  if (!report.problems.empty()) fmt::print("; {} problems", report.problems.size());
  fmt::print("\n");
  throw_exit_status(static_cast<size_t>(report.votes()), report.problems.size());
}

void run_import(const GlobalOptions& global, ImportArgs args) {
  if (args.csv.empty() == args.truth.empty())
    throw Error("labels import: give either a CSV file or --from-truth DIR/truth.json");
  const Home home = global.resolve_home();
  home.create();
  auto store = open_store(home, global.db);
  if (!args.truth.empty()) {
    args.truth_options.progress = !global.quiet;
    auto report = import_truth(*store, args.truth, args.truth_options);
    report_import(report, fmt::format("{} ({} songs labelled)", args.truth, report.sources));
  } else {
    report_import(import_csv(*store, args.csv), args.csv);
  }
}

void run_export(const GlobalOptions& global, const std::string& format, const std::string& out) {
  ExportFormat chosen = parse_export_format(format);
  const Home home = global.resolve_home();
  auto store = open_store(home, global.db);
  std::string text = export_labels(*store, chosen);
  if (out.empty() || out == "-") {
    fmt::print("{}", text);
    return;
  }
  std::ofstream file(out, std::ios::binary);
  file << text;
  if (!file) throw Error(out + ": cannot write");
}

const Command kLabels(15, [](CLI::App& app, const GlobalOptions& global) {
  auto* labels = app.add_subcommand("labels", "Import labels (ground truth, CSV) or export votes");
  labels->require_subcommand(1);

  static ImportArgs import_args;
  auto* import =
      labels->add_subcommand("import", "Add votes from a CSV file or a synth truth.json");
  import->add_option("CSV", import_args.csv,
                     "CSV with columns: source (path or hash), start, label, annotator");
  import->add_option("--from-truth", import_args.truth,
                     "truth.json written by `saxdetect synth` (songs must be ingested)");
  import
      ->add_option("--min-overlap", import_args.truth_options.min_overlap,
                   "Seconds of saxophone a sample needs to be labelled sax")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  import
      ->add_option("--annotator", import_args.truth_options.annotator,
                   "Annotator name for --from-truth votes")
      ->capture_default_str();
  add_exit_status_help(import);
  import->callback([&global] { run_import(global, import_args);
});

static std::string format = "csv", out;
auto* exporter = labels->add_subcommand("export", "Write every vote and the reconciled label");
exporter->add_option("--format", format, "csv or json")->capture_default_str();
exporter->add_option("--out,-o", out, "Output file (default: standard output)");
exporter->callback([&global] { run_export(global, format, out); });
});

}  // namespace

}  // namespace sax::cli
