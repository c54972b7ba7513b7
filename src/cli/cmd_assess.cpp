// saxdetect assess: score this home's labelled samples with a model and measure it.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "model/assess.h"
#include "plot/svg.h"
#include "store/store.h"

namespace sax::cli {

namespace {

struct AssessSettings {
  ScorerChoice scorer;
  std::string roc;
  bool json = false;
};

void run_assess(const GlobalOptions& global, const AssessSettings& settings) {
  const Home home = global.resolve_home();
  auto store = open_store(home, global.db);
  auto scorer = open_scorer(settings.scorer, home);
  const auto a = assess(*store, home, *scorer, global.quiet);
  if (!settings.roc.empty()) svg::write(settings.roc, svg::roc_chart(a.roc, a.metrics.roc_auc));
  if (settings.json) {
    const nlohmann::json j = {{"model", scorer->name()},
                              {"samples", a.samples},
                              {"metrics", a.metrics},
                              {"best_threshold", a.best_threshold},
                              {"at_best_threshold", a.at_best_threshold}};
    fmt::print("{}\n", j.dump(2));
    return;
  }
  const auto& m = a.metrics;
  fmt::print(
      "model {} on {} labelled samples (threshold {:.3f})\n"
      "balanced accuracy {:.3f}  accuracy {:.3f}  precision {:.3f}  recall {:.3f}  F1 {:.3f}\n"
      "ROC-AUC {:.3f}  PR-AUC {:.3f}  (tp {} fp {} tn {} fn {})\n"
      "with the threshold these labels would choose ({:.3f}): balanced accuracy {:.3f}\n",
      scorer->name(), a.samples, m.threshold, m.balanced_accuracy, m.accuracy, m.precision,
      m.recall, m.f1, m.roc_auc, m.pr_auc, m.tp, m.fp, m.tn, m.fn, a.best_threshold,
      a.at_best_threshold.balanced_accuracy);
}

const Command kAssess(53, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "assess", "Score this home's labelled samples with a model and report its metrics");
  static AssessSettings settings;
  add_scorer_options(command, settings.scorer);
  command->add_option("--roc", settings.roc, "Write the ROC curve to this SVG file");
  command->add_flag("--json", settings.json, "Metrics as JSON");
  command->callback([&global] { run_assess(global, settings); });
});

}  // namespace

}  // namespace sax::cli
