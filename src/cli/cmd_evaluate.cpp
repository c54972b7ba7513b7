// saxdetect evaluate: detection quality against the ground truth of `saxdetect synth`.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "common/error.h"
#include "common/progress.h"
#include "detect/detect.h"
#include "ingest/ingest.h"

namespace sax::cli {

namespace {

namespace fs = std::filesystem;

struct EvaluateSettings {
  std::string truth;
  std::vector<std::string> paths;  // empty: every song the truth file lists
  ScorerChoice scorer;
  detect::Options analysis;
  // True phrases closer than this are one passage. Not --merge-gap: a smoothing setting must
  // not move the truth it is scored against, or two settings would be scored on two truths.
  double truth_gap = 1.0;
  bool json = false;
};

std::vector<fs::path> files_to_evaluate(const EvaluateSettings& settings,
                                        const std::vector<SongTruth>& truth,
                                        std::vector<std::string>& errors) {
  if (settings.paths.empty()) {
    std::vector<fs::path> files;
    for (const auto& song : truth) files.emplace_back(song.file);
    return files;
  }
  return find_audio_files({settings.paths.begin(), settings.paths.end()}, errors);
}

void evaluate(const GlobalOptions& global, const EvaluateSettings& settings) {
  const Home home = global.resolve_home();
  const auto truth = read_truth_of_files(settings.truth);
  auto scorer = open_scorer(settings.scorer, home);
  detect::validate(settings.analysis);
  std::vector<std::string> errors;
  const auto files = files_to_evaluate(settings, truth, errors);
  for (const auto& error : errors) print_error(error);

  detect::Evaluator evaluator(0.01, 1.0, settings.truth_gap);
  Progress progress("evaluate", files.size(),
                    global.quiet ? Progress::Mode::never : Progress::Mode::automatic);
  nlohmann::json failures = nlohmann::json::array();
  auto fail = [&](const std::string& file, const std::string& message) {
    print_error(message);
    failures.push_back(detect::error_json(file, message));
  };
  for (const auto& file : files) {
    const auto* song = find_truth(truth, file);
    try {
      if (!song) throw Error(fmt::format("{}: not listed in {}", file.string(), settings.truth));
      const auto analysis = detect::analyse_file(file, *scorer, settings.analysis);
      evaluator.add(analysis, *song);
      progress.advance(1, analysis.duration);
    } catch (const Error& e) {
      fail(file.string(), e.what());
      progress.advance(1);
    }
  }
  progress.finish();
  const auto result = evaluator.result();
  if (result.files == 0) throw Error("no file could be evaluated");
  if (settings.json) {
    auto j = detect::to_json(result);
    j["model"] = scorer->name();
    j["truth_gap"] = settings.truth_gap;
    j["failed"] = failures;
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("model {}\n{}", scorer->name(), detect::format_human(result));
  }
  throw_exit_status(result.files, failures.size() + errors.size());
}

const Command kEvaluate(62, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "evaluate",
      "Measure detection against ground truth (frame F1, clip accuracy, boundaries; true "
      "phrases closer than --truth-gap count as one passage)");
  static EvaluateSettings settings;
  command->add_option("--truth", settings.truth, "truth.json written by `saxdetect synth`")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("paths", settings.paths,
                      "Audio files or folders to evaluate (default: every song in the truth file)");
  command
      ->add_option("--truth-gap", settings.truth_gap,
                   "Seconds: true phrases closer than this count as one passage (a breath "
                   "between phrases; 0: every phrase on its own). Fixed whatever the smoothing, "
                   "so settings are compared on the same truth")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_scorer_options(command, settings.scorer);
  add_analysis_options(command, settings.analysis);
  command->add_flag("--json", settings.json,
                    "JSON: frame_f1, frame_precision, frame_recall, clip_accuracy, "
                    "clip_balanced_accuracy, segments_within_1s (of the true passages), "
                    "detected_segments_within_1s (of the detected segments), ...");
  add_exit_status_help(command);
  command->callback([&global] { evaluate(global, settings); });
});

}  // namespace

}  // namespace sax::cli
