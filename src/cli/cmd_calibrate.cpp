// saxdetect calibrate: the built-in detector's threshold chosen on this home's labels.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "infer/efficientat.h"
#include "model/zero_shot.h"
#include "store/store.h"

namespace sax::cli {

namespace {

// The threshold that maximises balanced accuracy on the labelled samples outside the fixed
// test split, stored for every later predict, evaluate, serve and scan in this home; the test
// split measures it as it will be used.
void run_calibrate(const GlobalOptions& global) {
  const Home home = global.resolve_home();
  home.create();
  auto store = open_store(home, global.db);
  auto scorer = builtin_efficientat_scorer(builtin_threshold(home.models()),
                                           builtin_threshold(home.models()));
  const auto result = evaluate_zero_shot(*store, home, *scorer, TrainConfig{});
  const auto& t = result.test;
  save_builtin_threshold(home.models(), {{"threshold", result.threshold},
                                         {"calibration_samples", result.calibration_samples},
                                         {"test_samples", result.test_samples},
                                         {"test", t}});
  fmt::print(
      "built-in detector: threshold {:.4f} (from {} labelled samples), stored in {}\n"
      "test ({} samples): accuracy {:.3f}, balanced accuracy {:.3f}, ROC-AUC {:.3f}, F1 {:.3f}\n",
      result.threshold, result.calibration_samples,
      builtin_calibration_file(home.models()).string(), result.test_samples, t.accuracy,
      t.balanced_accuracy, t.roc_auc, t.f1);
}

const Command kCalibrate(54, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "calibrate", "Choose the built-in detector's threshold on this home's labelled samples");
  command->callback([&global] { run_calibrate(global); });
});

}  // namespace

}  // namespace sax::cli
