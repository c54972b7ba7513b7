// saxdetect backbone: bring a pretrained audio network (YAMNet) into saxdetect.
//   backbone import yamnet.tflite [--out FILE]   TFLite -> LibTorch model file
//   backbone scores SONG [--model FILE]           YAMNet's top classes, for a quick listen
//   backbone calibrate [--model FILE]             zero-shot threshold from the store's labels
#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "audio/audio.h"
#include "cli/command.h"
#include "model/yamnet.h"
#include "store/store.h"
#include "transfer/yamnet_import.h"
#include "transfer/zero_shot.h"

namespace sax::cli {

namespace {

namespace fs = std::filesystem;

fs::path model_file_or_default(const std::string& flag, const GlobalOptions& global) {
  return flag.empty() ? default_yamnet_file(global.resolve_home().models()) : fs::path(flag);
}

void run_import(const GlobalOptions& global, const std::string& tflite, const std::string& out) {
  const auto target = model_file_or_default(out, global);
  import_yamnet(tflite, target);
  fmt::print("imported {} into {}\n", tflite, target.string());
}

// Mean score of each class over the song's patches, best `top` first.
void run_scores(const GlobalOptions& global, const std::string& song, const std::string& model,
                int top) {
  YamnetModel yamnet(model_file_or_default(model, global));
  const auto patches = yamnet.class_scores(decode_mono(song, kYamnetSampleRate));
  std::vector<double> mean(kYamnetClasses, 0.0);
  for (const auto& patch : patches)
    for (int c = 0; c < kYamnetClasses; ++c) mean[c] += patch[c] / patches.size();
  std::vector<int> order(kYamnetClasses);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return mean[a] > mean[b]; });
  for (int i = 0; i < std::min(top, kYamnetClasses); ++i)
    fmt::print("{:3d}  {:.3f}\n", order[i], mean[order[i]]);
  fmt::print("saxophone ({}): {:.3f} over {} patches\n", kYamnetSaxophone, mean[kYamnetSaxophone],
             patches.size());
}

// Chooses the zero-shot threshold on the labelled samples outside the CNN's test split, stores
// it in the model file, and reports the test metrics the CNN's are compared with.
void run_calibrate(const GlobalOptions& global, const std::string& model) {
  const Home home = global.resolve_home();
  const auto file = model_file_or_default(model, global);
  auto store = open_store(home, global.db);
  auto scorer = load_yamnet_scorer(file);
  const auto result = evaluate_zero_shot(*store, home, *scorer, TrainConfig{});
  set_yamnet_threshold(file, result.threshold);
  const auto& t = result.test;
  fmt::print(
      "threshold {:.4f} (from {} samples), stored in {}\n"
      "test ({} samples): accuracy {:.3f}, balanced accuracy {:.3f}, ROC-AUC {:.3f}, F1 {:.3f}\n"
      "scoring took {:.1f} s\n",
      result.threshold, result.calibration_samples, file.string(), result.test_samples, t.accuracy,
      t.balanced_accuracy, t.roc_auc, t.f1, result.seconds);
}

void add_import(CLI::App& backbone, const GlobalOptions& global) {
  auto* command = backbone.add_subcommand("import", "Convert yamnet.tflite to a LibTorch model");
  static std::string tflite, out;
  command->add_option("TFLITE", tflite, "YAMNet classifier in TFLite format")->required();
  command->add_option("--out", out, "Model file to write (default: <home>/models/yamnet.pt)");
  command->callback([&global] { run_import(global, tflite, out); });
}

void add_scores(CLI::App& backbone, const GlobalOptions& global) {
  auto* command = backbone.add_subcommand("scores", "YAMNet's top AudioSet classes for a song");
  static std::string song, model;
  static int top = 10;
  command->add_option("SONG", song, "Audio file")->required();
  command->add_option("--model", model, "YAMNet model file (default: <home>/models/yamnet.pt)");
  command->add_option("--top", top, "Classes to list")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->callback([&global] { run_scores(global, song, model, top); });
}

void add_calibrate(CLI::App& backbone, const GlobalOptions& global) {
  auto* command = backbone.add_subcommand(
      "calibrate", "Choose the zero-shot threshold on labelled samples and measure it");
  static std::string model;
  command->add_option("--model", model, "YAMNet model file (default: <home>/models/yamnet.pt)");
  command->callback([&global] { run_calibrate(global, model); });
}

const Command kBackbone(75, [](CLI::App& app, const GlobalOptions& global) {
  auto* backbone = app.add_subcommand("backbone", "Pretrained audio networks (YAMNet)");
  backbone->require_subcommand(1);
  add_import(*backbone, global);
  add_scores(*backbone, global);
  add_calibrate(*backbone, global);
});

}  // namespace

}  // namespace sax::cli
