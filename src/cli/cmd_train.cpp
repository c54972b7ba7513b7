// saxdetect train: train a detector (EfficientAT with a learnt correction by default, or the CNN)
// on the store's reconciled labels and make it the current model.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "model/interrupt.h"
#include "model/train.h"
#include "store/store.h"

namespace sax::cli {

namespace {

struct TrainFlags {
  std::string config_file, out, kind;
  int epochs = 0;
  int unfreeze = -1;
  int64_t seed = -1;
  int seeds = 0;
  std::string device;
  bool resume = false;
};

void print_metrics(const char* what, const Metrics& m) {
  fmt::print(
      "{:<10} balanced accuracy {:.3f}  accuracy {:.3f}  precision {:.3f}  recall {:.3f}  F1 "
      "{:.3f}  "
      "ROC-AUC {:.3f}  PR-AUC {:.3f}  (threshold {:.3f}; tp {} fp {} tn {} fn {})\n",
      what, m.balanced_accuracy, m.accuracy, m.precision, m.recall, m.f1, m.roc_auc, m.pr_auc,
      m.threshold, m.tp, m.fp, m.tn, m.fn);
}

// The trained model beside the one it started from, on the validation samples.
void print_zero_shot(const ZeroShotCheck& z, const TrainResult& result) {
  fmt::print("zero-shot  ROC-AUC {:.3f}  loss {:.4f}  (trained: ROC-AUC {:.3f}  loss {:.4f})\n",
             z.validation.roc_auc, z.validation_loss, result.validation.roc_auc,
             z.trained_validation_loss);
  if (z.worse)
    fmt::print(
        "WORSE THAN ZERO-SHOT on the validation samples: the labels did not help; the model is "
        "saved but not made current\n");
}

void run_train(const GlobalOptions& global, const TrainFlags& flags) {
  TrainConfig config =
      flags.config_file.empty() ? TrainConfig{} : load_train_config(flags.config_file);
  if (flags.epochs > 0) config.epochs = flags.epochs;
  if (flags.seed >= 0) config.seed = static_cast<uint64_t>(flags.seed);
  if (flags.seeds > 0) config.seeds = flags.seeds;
  if (!flags.device.empty()) config.device = flags.device;
  if (!flags.kind.empty()) config.kind = flags.kind;
  if (flags.unfreeze >= 0) {
    if (config.kind != "efficientat") throw Error("--unfreeze needs --kind efficientat");
    config.unfreeze = flags.unfreeze;
  }
  const Home home = global.resolve_home();
  auto store = open_store(home, global.db);
  TrainOptions options;
  options.name = flags.out;
  options.resume = flags.resume;
  options.quiet = global.quiet;
  options.stop = stop_on_interrupt();
  if (flags.resume && flags.out.empty())
    throw Error("--resume needs --out NAME: the model to continue");
  const auto result = train_model(*store, home, config, options);
  fmt::print(
      "model {} ({} train / {} validation / {} test samples, best epoch {}, {:.0f} samples/s on "
      "{}, {} desert restarts)\n",
      result.model_dir.string(), result.train_samples, result.validation_samples,
      result.test_samples, result.best_epoch, result.samples_per_second, result.device,
      result.desert_restarts);
  if (result.seed_runs.size() > 1)
    for (const auto& run : result.seed_runs)
      fmt::print("seed {}: best validation loss {:.4f} at epoch {} of {}{}\n", run.seed,
                 run.best_validation_loss, run.best_epoch, run.epochs,
                 run.seed == result.seed ? " (kept)" : "");
  print_metrics("validation", result.validation);
  print_metrics("test", result.test);
  if (result.zero_shot) print_zero_shot(*result.zero_shot, result);
  if (result.steps_measured()) {
    fmt::print("time steps of the {} samples with known sax times:\n", result.timed_samples);
    print_metrics("  valid.", result.validation_steps);
    print_metrics("  test", result.test_steps);
  }
  if (result.stopped) {
    fmt::print(
        "interrupted: the best checkpoint so far is saved; continue with the same command and "
        "--out {} --resume\n",
        result.model_dir.filename().string());
    throw CLI::RuntimeError(130);
  }
}

const Command kTrain(50, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "train", "Train the detector (EfficientAT or the CNN) on labelled samples");
  static TrainFlags flags;
  command
      ->add_option("--config", flags.config_file,
                   "TrainConfig JSON (fields not given keep defaults)")
      ->check(CLI::ExistingFile);
  command->add_option("--epochs", flags.epochs, "Epochs (overrides the config)")
      ->check(CLI::PositiveNumber);
  command->add_option("--seed", flags.seed, "Random seed (overrides the config)")
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--seeds", flags.seeds,
                   "Train this many seeds (--seed, --seed + 1, ...) on the same split and keep "
                   "the lowest validation loss (overrides the config)")
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--device", flags.device,
                   "Train on auto (a CUDA GPU when there is one), cpu or cuda (overrides the "
                   "config)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  command
      ->add_option("--kind", flags.kind,
                   "efficientat (default: EfficientAT's Saxophone output plus a head learnt from "
                   "the labels) or cnn (the log-mel CNN from scratch) (overrides the config)")
      ->check(CLI::IsMember({"efficientat", "cnn"}));
  command
      ->add_option("--unfreeze", flags.unfreeze,
                   "efficientat: also train its last N feature blocks (0-17; default 0: only the "
                   "head trains, on cached features) (overrides the config)")
      ->check(CLI::Range(0, 17));
  command->add_option("--out", flags.out,
                      "Model name: folder under <home>/models (default: <kind>-<time>)");
  command->add_flag("--resume", flags.resume,
                    "Continue an interrupted run of the model named by --out, with the same "
                    "options (finished --seeds are kept; more --seeds than before adds seeds)");
  command->callback([&global] { run_train(global, flags); });
});

}  // namespace

}  // namespace sax::cli
