// saxdetect demo: the whole product on the embedded defaults, in one command. Synthesises a
// music library with exact saxophone truth, ingests it, labels it from the truth, measures the
// built-in detector zero-shot, fine-tunes it on the labels, reports test metrics and pictures,
// and finds the saxophone in songs it has never heard.
// Each step is resumable: a re-run reuses the library, skips ingested files, re-labels
// idempotently (votes replace) and trains a fresh model.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/progress.h"
#include "detect/detect.h"
#include "infer/efficientat.h"
#include "ingest/ingest.h"
#include "labels/labels.h"
#include "model/train.h"
#include "model/zero_shot.h"
#include "store/store.h"
#include "synth/synth.h"

namespace sax::cli {

namespace {

namespace fs = std::filesystem;

struct DemoOptions {
  // Enough songs for a test split that says something, few enough to render, ingest and
  // fine-tune on in a few minutes on two cores.
  int songs = 150;
  int unseen = 2;
  uint64_t seed = 1;
  int epochs = 0;  // 0: the demo configuration's own
};

void step(int number, const std::string& what) { fmt::print("\n[{}/7] {}\n", number, what); }

// Renders `songs` songs into `folder` unless a complete library is already there.
std::vector<SongTruth> make_library(const fs::path& folder, int songs, uint64_t seed,
                                    const std::string& soundfont, bool quiet) {
  const fs::path truth = folder / "truth.json";
  if (fs::exists(truth)) {
    auto existing = read_truth(truth);
    if (static_cast<int>(existing.size()) == songs) {
      fmt::print("  reusing {} songs in {}\n", existing.size(), folder.string());
      return existing;
    }
  }
  synth::SynthOptions options;
  options.out = folder;
  options.songs = songs;
  options.seed = seed;
  options.soundfont = soundfont;
  options.progress = !quiet;
  return synth::synthesize(options);
}

void print_metrics(const std::string& title, const Metrics& m) {
  fmt::print(
      "  {:<12} accuracy {:.3f}  balanced {:.3f}  precision {:.3f}  recall {:.3f}  "
      "F1 {:.3f}  ROC-AUC {:.3f}\n",
      title, m.accuracy, m.balanced_accuracy, m.precision, m.recall, m.f1, m.roc_auc);
}

void run_demo(const GlobalOptions& global, const DemoOptions& demo) {
  const Home home = global.resolve_home();
  home.create();
  auto store = open_store(home, global.db);
  const fs::path library = home.root / "demo" / "library";
  const fs::path unseen = home.root / "demo" / "unseen";

  step(1, fmt::format("Synthesising {} songs with and without saxophone", demo.songs));
  auto songs = make_library(library, demo.songs, demo.seed, "", global.quiet);
  const auto with_sax =
      std::count_if(songs.begin(), songs.end(), [](const auto& s) { return s.has_sax(); });
  fmt::print("  {} songs, {} with saxophone, in {}\n", songs.size(), with_sax, library.string());

  step(2, "Ingesting the library into 5-second samples");
  IngestOptions ingest_options;
  ingest_options.progress = global.quiet ? Progress::Mode::never : Progress::Mode::automatic;
  const auto ingested = ingest({library}, *store, home, ingest_options);
  fmt::print("  {} files ingested, {} already there, {} new samples\n", ingested.ingested,
             ingested.skipped, ingested.samples);

  step(3, "Labelling the samples from the ground truth");
  TruthImportOptions truth_options;
  truth_options.progress = !global.quiet;
  const auto labelled = import_truth(*store, library / "truth.json", truth_options);
  fmt::print("  {} samples labelled: {} sax, {} not sax, {} unsure\n", labelled.votes(),
             labelled.sax, labelled.not_sax, labelled.unsure);
  for (const auto& problem : labelled.problems) fmt::print(stderr, "  warning: {}\n", problem);

  step(4, "The built-in detector (EfficientAT, AudioSet) on these labels, with no training");
  auto builtin = builtin_efficientat_scorer(builtin_threshold(home.models()),
                                            builtin_threshold(home.models()));
  const auto zero_shot = evaluate_zero_shot(*store, home, *builtin, TrainConfig{});
  fmt::print("  threshold {:.3f}, chosen on the {} samples outside the test songs\n",
             zero_shot.threshold, zero_shot.calibration_samples);
  print_metrics("test", zero_shot.test);

  step(5, "Fine-tuning it on the labels");
  TrainConfig config;
  if (demo.epochs > 0) config.epochs = demo.epochs;
  TrainOptions train_options;
  train_options.name = "demo";
  train_options.quiet = global.quiet;
  const TrainResult result = train_model(*store, home, config, train_options);
  fmt::print("  {} train / {} validation / {} test samples (test songs never seen in training)\n",
             result.train_samples, result.validation_samples, result.test_samples);
  print_metrics("validation", result.validation);
  print_metrics("test", result.test);
  if (result.worse_than_zero_shot())
    fmt::print("  the labels did not beat the built-in detector here: it stays in use\n");
  else
    fmt::print(
        "  test ROC-AUC {:.3f} against {:.3f} zero-shot: the fine-tuned model is now in use\n",
        result.test.roc_auc, zero_shot.test.roc_auc);
  fmt::print("  pictures: {}  {}\n", (result.model_dir / "training.svg").string(),
             (result.model_dir / "roc.svg").string());

  step(6, fmt::format("Finding the saxophone in {} songs it has never heard", demo.unseen));
  const auto fresh = make_library(unseen, demo.unseen, demo.seed + 1000, "", global.quiet);
  auto scorer = open_home_detector(home.models());  // the fine-tuned model, if it did better
  detect::Evaluator evaluator;
  for (const auto& song : fresh) {
    detect::Options options;
    options.keep_spectrogram = true;
    const fs::path file = unseen / song.file;
    const auto analysis = detect::analyse_file(file, *scorer, options);
    fmt::print("{}", detect::format_human(analysis));
    std::string actual;
    for (const auto& [s, e] : song.sax)
      actual += fmt::format(" {}-{}", detect::mmss(s), detect::mmss(e));
    fmt::print("  truth: {}\n", actual.empty() ? "no saxophone" : "saxophone at" + actual);
    const fs::path plot = home.reports() / (file.stem().string() + ".svg");
    detect::write_plot(plot, analysis);
    fmt::print("  picture: {}\n", plot.string());
    evaluator.add(analysis, song);
  }

  fmt::print("  against the truth of these songs:\n{}", detect::format_human(evaluator.result()));

  step(7, "Next steps");
  fmt::print("  Label samples in your browser:  saxdetect serve --home {}\n", home.root.string());
  fmt::print("    then open http://127.0.0.1:8080/ (labelling) and http://127.0.0.1:8080/model\n");
  fmt::print("  Find the saxophone in your music: saxdetect predict --home {} SONG.mp3\n",
             home.root.string());
}

const Command kDemo(1, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "demo", "Synthesise a library, label it, train, and detect saxophone: the whole product");
  static DemoOptions options;
  command->add_option("--songs", options.songs, "Songs in the synthetic library")
      ->capture_default_str()
      ->check(CLI::Range(8, 2000));
  command->add_option("--seed", options.seed, "Seed of the synthetic library")
      ->capture_default_str();
  command->add_option("--epochs", options.epochs, "Training epochs (0: the default)")
      ->check(CLI::NonNegativeNumber);
  command->callback([&global] { run_demo(global, options); });
});

}  // namespace

}  // namespace sax::cli
