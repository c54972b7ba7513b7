// saxdetect cv: grouped k-fold cross-validation, mean and spread of every metric.
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "model/interrupt.h"
#include "model/train.h"
#include "store/store.h"

namespace sax::cli {

namespace {

// The labels' worth fold by fold: the trained model's test figures beside the untrained one's.
void print_against_zero_shot(const CvResult& cv) {
  fmt::print(
      "  zero-shot on the same folds: balanced accuracy {:.3f} +/- {:.3f}, ROC-AUC {:.3f} +/- "
      "{:.3f}\n",
      cv.zero_shot_mean.balanced_accuracy, cv.zero_shot_spread.balanced_accuracy,
      cv.zero_shot_mean.roc_auc, cv.zero_shot_spread.roc_auc);
  int below = 0;
  for (size_t k = 0; k < cv.folds.size(); ++k) {
    fmt::print("  fold {}: ROC-AUC {:.3f} (zero-shot {:.3f}), balanced accuracy {:.3f} ({:.3f})\n",
               k + 1, cv.folds[k].roc_auc, cv.zero_shot_folds[k].roc_auc,
               cv.folds[k].balanced_accuracy, cv.zero_shot_folds[k].balanced_accuracy);
    below += cv.folds[k].roc_auc < cv.zero_shot_folds[k].roc_auc;
  }
  fmt::print("  folds where training ranked worse than zero-shot: {} of {}\n", below,
             cv.folds.size());
}

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
  if (!cv.zero_shot_folds.empty()) print_against_zero_shot(cv);
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
