// saxdetect predict: where does a saxophone play in these files?
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

struct PredictSettings {
  std::vector<std::string> paths;
  ScorerChoice scorer;
  detect::Options analysis;
  bool json = false, csv = false;
  std::string plot;
};

// Prints each file's result as soon as it is known, in the chosen format. JSON is one array
// written incrementally, so thousands of files never sit in memory.
class Printer {
 public:
  explicit Printer(const PredictSettings& settings) : json_(settings.json), csv_(settings.csv) {
    if (json_) std::fputs("[", stdout);
    if (csv_) std::fputs(detect::csv_header().c_str(), stdout);
  }

  void result(const detect::Analysis& analysis) {
    if (json_) return json_item(detect::to_json(analysis));
    std::fputs((csv_ ? detect::to_csv(analysis) : detect::format_human(analysis)).c_str(), stdout);
    std::fflush(stdout);
  }

  // Errors always go to stderr as one line; JSON also records them in the array.
  void failure(const std::string& file, const std::string& message) {
    print_error(message);
    if (json_) json_item(detect::error_json(file, message));
  }

  void finish() {
    if (json_) std::fputs(first_ ? "]\n" : "\n]\n", stdout);
  }

 private:
  void json_item(const nlohmann::json& item) {
    std::fputs(first_ ? "\n" : ",\n", stdout);
    std::fputs(item.dump().c_str(), stdout);
    std::fflush(stdout);
    first_ = false;
  }

  bool json_, csv_, first_ = true;
};

// With several files, each plot gets the file's name: plot.png -> plot-<song>.png.
fs::path plot_path_for(const fs::path& plot, const fs::path& file, size_t file_count) {
  if (file_count == 1) return plot;
  return plot.parent_path() /
         (plot.stem().string() + "-" + file.stem().string() + plot.extension().string());
}

void predict(const GlobalOptions& global, PredictSettings settings) {
  const Home home = global.resolve_home();
  auto scorer = open_scorer(settings.scorer, home);  // no model: says how to get one
  detect::validate(settings.analysis);
  if (!settings.plot.empty()) settings.analysis.keep_spectrogram = true;
  Printer printer(settings);
  size_t failed = 0;
  std::vector<fs::path> files;
  for (const auto& path : settings.paths) {
    std::vector<std::string> errors;
    for (auto& file : find_audio_files({path}, errors)) files.push_back(std::move(file));
    for (const auto& error : errors) {
      printer.failure(path, error);
      ++failed;
    }
  }
  const size_t inputs = files.size() + failed;
  Progress progress("predict", files.size(),
                    global.quiet ? Progress::Mode::never : Progress::Mode::automatic);
  for (const auto& file : files) {
    double reported = 0;  // seconds of this file already counted in the progress line
    settings.analysis.on_progress = [&](double seconds) {
      progress.set_detail(fmt::format("{} {}", file.filename().string(), detect::mmss(seconds)));
      progress.advance(0, seconds - reported);
      reported = seconds;
    };
    try {
      const auto analysis = detect::analyse_file(file, *scorer, settings.analysis);
      if (!settings.plot.empty())
        detect::write_plot(plot_path_for(settings.plot, file, files.size()), analysis);
      printer.result(analysis);
    } catch (const Error& e) {
      printer.failure(file.string(), e.what());
      ++failed;
    }
    progress.advance(1);
  }
  progress.finish();
  printer.finish();
  if (files.empty() && failed == 0) throw Error("no audio files found in the paths given");
  if (failed > 0) {
    print_error(fmt::format("{} of {} inputs failed", failed, inputs));
    throw_exit_status(inputs - failed, failed);
  }
}

const Command kPredict(60, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("predict", "Find where a saxophone plays in audio files");
  static PredictSettings settings;
  command->add_option("paths", settings.paths, "Audio files or folders (walked recursively)")
      ->required();
  add_scorer_options(command, settings.scorer);
  add_analysis_options(command, settings.analysis);
  auto* json = command->add_flag("--json", settings.json, "One JSON array, one object per file");
  command->add_flag("--csv", settings.csv, "CSV rows: file,kind,start,end,probability,sax")
      ->excludes(json);
  command->add_option("--plot", settings.plot,
                      "Draw the probability curve over the spectrogram (FILE.png or FILE.svg; "
                      "with several files, FILE-<song>.png each)");
  add_exit_status_help(command);
  command->callback([&global] { predict(global, settings); });
});

}  // namespace

}  // namespace sax::cli
