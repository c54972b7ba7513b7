// saxdetect cv: grouped k-fold cross-validation, mean and spread of every metric.
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "model/train.h"
#include "store/store.h"

namespace sax::cli {

namespace {

void run_cv(const GlobalOptions& global, const std::string& config_file, int folds,
            const std::string& json_out) {
  const TrainConfig config = config_file.empty() ? TrainConfig{} : load_train_config(config_file);
  const Home home = global.resolve_home();
  auto store = open_store(home, global.db);
  const auto cv = cross_validate(*store, home, config, folds, global.quiet, stop_on_interrupt());
  const nlohmann::json mean = cv.mean, spread = cv.spread;
  fmt::print("{}-fold grouped cross-validation ({} desert restarts)\n", folds, cv.desert_restarts);
  for (const char* metric : {"balanced_accuracy", "accuracy", "precision", "recall", "f1",
                             "roc_auc", "pr_auc", "threshold"})
    fmt::print("  {:<18} {:.3f} +/- {:.3f}\n", metric, mean[metric].get<double>(),
               spread[metric].get<double>());
  if (!json_out.empty()) {
    std::ofstream out(json_out);
    out << nlohmann::json(cv).dump(2) << "\n";
    if (!out) throw Error(fmt::format("{}: cannot write", json_out));
  }
}

const Command kCv(51, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("cv", "Grouped k-fold cross-validation of a train config");
  static std::string config_file, json_out;
  static int folds = 5;
  command->add_option("--config", config_file, "TrainConfig JSON")->check(CLI::ExistingFile);
  command->add_option("--folds", folds, "Folds")->capture_default_str()->check(CLI::Range(3, 50));
  command->add_option("--json", json_out, "Also write the per-fold results as JSON here");
  command->callback([&global] { run_cv(global, config_file, folds, json_out); });
});

}  // namespace

}  // namespace sax::cli
