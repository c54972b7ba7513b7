// saxdetect backbone: bring a pretrained audio network (YAMNet) into saxdetect.
//   backbone import yamnet.tflite [--out FILE]   TFLite -> LibTorch model file
//   backbone scores SONG [--model FILE]           YAMNet's top classes, for a quick listen
#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "audio/audio.h"
#include "cli/command.h"
#include "model/yamnet.h"
#include "transfer/yamnet_import.h"

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

const Command kBackbone(75, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("backbone", "Pretrained audio networks (YAMNet)");
  command->require_subcommand(1);

  auto* import = command->add_subcommand("import", "Convert yamnet.tflite to a LibTorch model");
  static std::string tflite, out;
  import->add_option("TFLITE", tflite, "YAMNet classifier in TFLite format")->required();
  import->add_option("--out", out, "Model file to write (default: <home>/models/yamnet.pt)");
  import->callback([&global] { run_import(global, tflite, out);
});

auto* scores = command->add_subcommand("scores", "YAMNet's top AudioSet classes for a song");
static std::string song, model;
static int top = 10;
scores->add_option("SONG", song, "Audio file")->required();
scores->add_option("--model", model, "YAMNet model file (default: <home>/models/yamnet.pt)");
scores->add_option("--top", top, "Classes to list")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
scores->callback([&global] { run_scores(global, song, model, top); });
});

}  // namespace

}  // namespace sax::cli
