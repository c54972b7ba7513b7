// saxdetect search: grid or random search over a declared space, scored by cross-validation.
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "model/interrupt.h"
#include "model/search.h"
#include "store/store.h"

namespace sax::cli {

namespace {

struct SearchFlags {
  std::string grid, random, config_file, out = "search";
  int trials = 10, folds = 3;
  int64_t seed = 1;
};

nlohmann::json read_space(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot open the search space", path));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
}

void run_search(const GlobalOptions& global, const SearchFlags& flags) {
  if (flags.grid.empty() == flags.random.empty())
    throw Error("give exactly one of --grid FILE or --random FILE");
  const TrainConfig base =
      flags.config_file.empty() ? TrainConfig{} : load_train_config(flags.config_file);
  const auto space = read_space(flags.grid.empty() ? flags.random : flags.grid);
  const auto points = flags.grid.empty() ? random_points(base, space, flags.trials, flags.seed)
                                         : grid_points(base, space);
  const Home home = global.resolve_home();
  auto store = open_store(home, global.db);
  fmt::print("{} configurations x {} folds\n", points.size(), flags.folds);
  const auto trials = search(*store, home, points, flags.folds, global.quiet, stop_on_interrupt());
  if (trials.empty()) throw Error("search interrupted before the first trial finished");

  fmt::print("{:>4}  {:>13}  {:>13}  {:>8}  {}\n", "rank", "balanced acc", "+/-", "ROC-AUC",
             "configuration");
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    fmt::print("{:>4}  {:>13.3f}  {:>13.3f}  {:>8.3f}  {}\n", i + 1, t.cv.mean.balanced_accuracy,
               t.cv.spread.balanced_accuracy, t.cv.mean.roc_auc, t.point.overrides);
    results.push_back(
        {{"rank", i + 1}, {"overrides", nlohmann::json::parse(t.point.overrides)}, {"cv", t.cv}});
  }
  const auto dir = home.reports() / flags.out;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "results.json") << results.dump(2) << "\n";
  std::ofstream best(dir / "best-config.json");
  best << nlohmann::json(trials.front().point.config).dump(2) << "\n";
  if (!best) throw Error(fmt::format("{}: cannot write", (dir / "best-config.json").string()));
  fmt::print("results: {}\nbest config: {} (train it with `saxdetect train --config {}`)\n",
             (dir / "results.json").string(), (dir / "best-config.json").string(),
             (dir / "best-config.json").string());
}

const Command kSearch(52, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("search", "Hyper-parameter search scored by cross-validation");
  static SearchFlags flags;
  command
      ->add_option("--grid", flags.grid,
                   "Space file: {\"field\": [values], ...}; every combination")
      ->check(CLI::ExistingFile);
  command
      ->add_option(
          "--random", flags.random,
          "Space file: lists or {\"min\":a,\"max\":b,\"log\":true,\"int\":true}; --trials draws")
      ->check(CLI::ExistingFile);
  command->add_option("--trials", flags.trials, "Random search: configurations drawn")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--folds", flags.folds, "Cross-validation folds per configuration")
      ->capture_default_str()
      ->check(CLI::Range(3, 20));
  command->add_option("--seed", flags.seed, "Random search seed")->capture_default_str();
  command->add_option("--config", flags.config_file, "Base TrainConfig JSON")
      ->check(CLI::ExistingFile);
  command->add_option("--out", flags.out, "Report folder under <home>/reports")
      ->capture_default_str();
  command->callback([&global] { run_search(global, flags); });
});

}  // namespace

}  // namespace sax::cli
