// saxdetect pretrain: self-supervised (contrastive) pretraining of the CNN on unlabelled samples.
#include <fmt/format.h>

#include "cli/command.h"
#include "model/train.h"
#include "store/store.h"

namespace sax::cli {

namespace {

struct PretrainFlags {
  std::string config_file, out;
  int epochs = 0;
};

void run_pretrain(const GlobalOptions& global, const PretrainFlags& flags) {
  TrainConfig config =
      flags.config_file.empty() ? TrainConfig{} : load_train_config(flags.config_file);
  if (flags.epochs > 0) config.epochs = flags.epochs;
  const Home home = global.resolve_home();
  auto store = open_store(home, global.db);
  TrainOptions options;
  options.name = flags.out;
  options.quiet = global.quiet;
  options.stop = stop_on_interrupt();
  const auto r = pretrain_model(*store, home, config, options);
  fmt::print(
      "pretrained {} on {} samples in {:.0f} s (contrastive loss {:.3f} -> {:.3f})\n"
      "fine-tune it on labels with a train config holding {{\"init\": \"{}\"}} and the same net "
      "and features\n",
      r.model_dir.string(), r.samples, r.seconds, r.losses.empty() ? 0.0 : r.losses.front(),
      r.losses.empty() ? 0.0 : r.losses.back(), std::filesystem::absolute(r.model_dir).string());
}

const Command kPretrain(49, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "pretrain", "Self-supervised pretraining of the CNN on every sample, labelled or not");
  static PretrainFlags flags;
  command->add_option("--config", flags.config_file, "TrainConfig JSON (net, features, lr, ...)")
      ->check(CLI::ExistingFile);
  command->add_option("--epochs", flags.epochs, "Epochs (overrides the config)")
      ->check(CLI::PositiveNumber);
  command->add_option("--out", flags.out,
                      "Model name: folder under <home>/models (default: pretrained-cnn-<time>)");
  command->callback([&global] { run_pretrain(global, flags); });
});

}  // namespace

}  // namespace sax::cli
