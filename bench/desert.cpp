// How often training falls into the 0.693 desert: many short training runs that differ only in
// their seed, counting the runs whose desert detector fired (TrainResult::desert_restarts > 0).
// bench/desert.sh runs it; the target is fewer than 1 run in 100.
//
// Data: demo-like. `saxdetect synth` songs (both soundfonts, every style, about half with
// saxophone) are rendered once into a temporary folder, cut into 5 s windows like ingest does
// and labelled from the ground truth like `saxdetect demo` (unsure windows dropped). To keep 100
// runs within minutes on two cores, the library is smaller than the demo's (48 songs of 20-40 s,
// ~280 windows), the spectrograms are smaller than the default (16 kHz, n_fft 1024, 64 mels x
// 27 frames instead of 22.05 kHz, 2048, 128 x 108) and runs are short (15 epochs); the network,
// augmentation, optimiser, early stopping and desert detector are TrainConfig's defaults. The
// data set is rendered from fixed seeds, so every invocation sees the same windows.
//
//   bench_desert [runs=100] [songs=48] [epochs=15] [threads=1] [first_seed=1] [seed ...]
//
// Seeds listed after first_seed are run instead of the range (to look at the ones that fired).
// Every seed whose run fired is trained again with the detector off, to tell a real desert (it
// never learns) from a slow start that the detector cut short.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "audio/audio.h"
#include "labels/labels.h"
#include "model/train.h"
#include "store/store.h"
#include "synth/synth.h"

namespace fs = std::filesystem;

namespace {

std::string fmt_epoch(const sax::EpochRecord& e) {
  char text[48];
  std::snprintf(text, sizeof text, " %.3f/%.2f", e.validation_loss, e.validation_balanced_accuracy);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const int requested_runs = argc > 1 ? std::atoi(argv[1]) : 100;
  const int songs = argc > 2 ? std::atoi(argv[2]) : 48;
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 15;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 1;
  const uint64_t first_seed = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 1;
  std::vector<uint64_t> chosen;  // seeds listed after first_seed replace the range
  for (int i = 6; i < argc; ++i) chosen.push_back(std::strtoull(argv[i], nullptr, 10));
  const int runs = chosen.empty() ? requested_runs : static_cast<int>(chosen.size());

  sax::TrainConfig config;
  config.features.sample_rate = 16000;
  config.features.n_mels = 64;
  config.features.frames = 27;
  config.features.n_fft = 1024;
  config.epochs = epochs;
  config.threads = threads;

  // The library: rendered once, cut into windows, labelled from the truth.
  const auto start = std::chrono::steady_clock::now();
  const fs::path dir = fs::temp_directory_path() / ("saxdetect-desert-" + std::to_string(getpid()));
  sax::synth::SynthOptions synth;
  synth.out = dir;
  synth.songs = songs;
  synth.min_seconds = 20;
  synth.max_seconds = 40;
  synth.format = "wav";
  synth.progress = false;
  const auto truth = sax::synth::synthesize(synth);
  const size_t window = config.features.window_samples();
  std::vector<std::vector<float>> clips;
  sax::ArrayDataset data;
  std::vector<sax::LabeledSample> listing;
  for (size_t song = 0; song < truth.size(); ++song) {
    const auto audio = sax::decode_mono(dir / truth[song].file, config.features.sample_rate);
    for (size_t first = 0; first + window <= audio.size(); first += window) {
      const double t = static_cast<double>(first) / config.features.sample_rate;
      const auto label = sax::label_from_truth(truth[song].sax, t, config.features.seconds, 0.5);
      if (label == sax::Label::unsure) continue;
      clips.emplace_back(audio.begin() + static_cast<std::ptrdiff_t>(first),
                         audio.begin() + static_cast<std::ptrdiff_t>(first + window));
      data.labels.push_back(label == sax::Label::sax ? 1 : 0);
      // Like the demo, which imports the truth: the time steps are taught too.
      data.frames.push_back(sax::column_targets(truth[song].sax, t, config.features));
      data.groups.push_back(static_cast<int64_t>(song));
      sax::LabeledSample s;
      s.sample.source_id = static_cast<int64_t>(song);
      s.label = label;
      listing.push_back(s);
    }
  }
  fs::remove_all(dir);
  sax::FeatureConfig raw = config.features;
  raw.normalise = "none";  // ArrayDataset holds raw log-mel, like the disk cache
  data.inputs = sax::log_mel_batch(clips, raw);
  const auto split = sax::grouped_split(listing, config.validation_fraction, config.test_fraction,
                                        config.split_seed);
  int sax_clips = 0;
  for (int l : data.labels) sax_clips += l;
  std::printf(
      "data: %zu songs, %zu windows (%d sax), %zu train / %zu validation / %zu test, %.1f s\n",
      truth.size(), data.labels.size(), sax_clips, split.train.size(), split.validation.size(),
      split.test.size(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  std::fflush(stdout);

  int deserted = 0, restarts = 0, failed = 0;
  std::vector<uint64_t> fired;  // seeds whose first run the detector stopped
  double balanced = 0;
  sax::TrainOptions options;
  options.quiet = true;
  for (int r = 0; r < runs; ++r) {
    config.seed = chosen.empty() ? first_seed + static_cast<uint64_t>(r) : chosen[r];
    try {
      const auto result = sax::train_arrays(data, split, config, {}, options);
      deserted += result.desert_restarts > 0;
      if (result.desert_restarts > 0) fired.push_back(config.seed);
      restarts += result.desert_restarts;
      balanced += result.test.balanced_accuracy;
      std::printf(
          "seed %3llu  desert restarts %d  best epoch %2d  last train accuracy %.3f  balanced "
          "accuracy validation %.3f test %.3f\n",
          static_cast<unsigned long long>(config.seed), result.desert_restarts, result.best_epoch,
          result.history.empty() ? 0.0 : result.history.back().train_accuracy,
          result.validation.balanced_accuracy, result.test.balanced_accuracy);
    } catch (const std::exception& e) {  // the desert outlasted every restart
      ++deserted, ++failed;
      fired.push_back(config.seed);
      std::printf("seed %3llu  failed: %s\n", static_cast<unsigned long long>(config.seed),
                  e.what());
    }
    std::fflush(stdout);
  }
  // Were they real deserts? The same seeds again with the detector off: a run that later
  // learns (validation balanced accuracy well above chance) was a slow start, not a desert.
  int escaped = 0;
  for (uint64_t seed : fired) {
    auto off = config;
    off.seed = seed;
    off.desert.epochs = off.epochs + 1;  // never fires
    const auto result = sax::train_arrays(data, split, off, {}, options);
    double best = 0;
    std::string trace;
    for (const auto& e : result.history) {
      best = std::max(best, e.validation_balanced_accuracy);
      trace += fmt_epoch(e);
    }
    escaped += best >= 0.65;
    std::printf(
        "seed %3llu without the detector: best validation balanced accuracy %.3f, test %.3f;"
        " epochs (val loss/bal acc):%s\n",
        static_cast<unsigned long long>(seed), best, result.test.balanced_accuracy, trace.c_str());
    std::fflush(stdout);
  }
  std::printf(
      "fired runs that learn without the detector (best validation balanced accuracy >= "
      "0.65): %d of %zu\n",
      escaped, fired.size());
  std::printf("desert_runs %d of %d (restarts %d, runs that never left it %d)\n", deserted, runs,
              restarts, failed);
  std::printf("mean test balanced accuracy %.3f, %.1f s in all\n",
              runs > failed ? balanced / (runs - failed) : 0.0,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}
