// Detection speed: a 5-minute MP3 analysed end to end (decode + features + CNN + smoothing)
// against decoding the same file alone, in the same run; and the CNN alone on 32 windows on one
// thread, its 3x3 convolutions by Winograd's F(2x2, 3x3) (the default) against im2col. The same
// for the built-in EfficientAT detector: the 5-minute MP3 end to end, and one score_sliding call
// on 60 s of it (a chunk as detect/analyse.cpp hands it over: 60 s of window starts plus a window).
//
//   bench_predict [--model DIR] [benchmark flags]   # DIR: a trained model; default: a freshly
//                                                   # initialised one of the default architecture
//                                                   # of a large library (with the GRU)
//   bench_predict --write-model DIR                 # only write that fresh model
//   (bench/predict.sh)
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <unistd.h>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "detect/detect.h"
#include "infer/cnn.h"
#include "infer/detector.h"
#include "infer/efficientat.h"
#include "model/train.h"

namespace {

namespace fs = std::filesystem;

constexpr double kSongSeconds = 300;

// Default architecture and features, trained for one epoch on noise: as fast as a real model.
// The architecture is a large library's, with its GRU: the slower of the two "auto" settles.
void write_fresh_model(const fs::path& dir) {
  sax::TrainConfig config;
  config.net = sax::settle_gru(config.net, sax::kAutoGruFromSamples);
  config.epochs = 1;
  config.augment.enabled = false;
  sax::ArrayDataset data;
  std::mt19937 random(1);
  std::normal_distribution<float> noise;
  for (int i = 0; i < 8; ++i) {
    sax::Spectrogram s;
    s.rows = config.features.n_mels;
    s.cols = config.features.frames;
    for (int v = 0; v < s.rows * s.cols; ++v) s.values.push_back(noise(random));
    data.inputs.push_back(std::move(s));
    data.labels.push_back(i % 2);
    data.groups.push_back(i);
  }
  sax::TrainOptions options;
  options.quiet = true;
  sax::train_arrays(data, sax::Split{{0, 1, 2, 3}, {4, 5}, {6, 7}}, config, dir, options);
}

// A stereo 44.1 kHz MP3 with a changing chord over noise, like a typical library file.
fs::path write_song(const fs::path& dir) {
  const int rate = 44100;
  const size_t frames = static_cast<size_t>(kSongSeconds * rate);
  std::vector<float> stereo(frames * 2);
  std::mt19937 random(2);
  std::uniform_real_distribution<float> noise(-0.05f, 0.05f);
  for (size_t i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double root = 110 * std::pow(2.0, static_cast<int>(t / 4) % 12 / 12.0);
    const double chord = std::sin(2 * M_PI * root * t) + 0.5 * std::sin(2 * M_PI * root * 1.5 * t);
    stereo[2 * i] = static_cast<float>(0.3 * chord) + noise(random);
    stereo[2 * i + 1] = static_cast<float>(0.3 * chord) + noise(random);
  }
  const fs::path file = dir / "song-5min.mp3";
  sax::write_audio(file, stereo.data(), frames, 2, rate, 192);
  return file;
}

struct Fixture {
  fs::path dir, song, model;
  std::unique_ptr<sax::Scorer> scorer;
  std::unique_ptr<sax::Scorer> efficientat;  // the built-in detector, zero-shot
};
Fixture* fixture = nullptr;

void BM_DecodeOnly(benchmark::State& state) {
  std::vector<float> block(1 << 16);
  for (auto _ : state) {
    sax::Decoder decoder(fixture->song, fixture->scorer->sample_rate());
    size_t total = 0;
    while (size_t n = decoder.read(block.data(), block.size())) total += n;
    benchmark::DoNotOptimize(total);
  }
  state.counters["x_real_time"] =
      benchmark::Counter(kSongSeconds * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_AnalyseFile(benchmark::State& state) {
  sax::detect::Options options;
  options.hop = 1.0;
  for (auto _ : state) {
    auto analysis = sax::detect::analyse_file(fixture->song, *fixture->scorer, options);
    benchmark::DoNotOptimize(analysis.windows.data());
  }
  state.counters["x_real_time"] =
      benchmark::Counter(kSongSeconds * state.iterations(), benchmark::Counter::kIsRate);
}

// Arg 1: Winograd's 3x3 convolutions; 0: im2col for every kernel.
void BM_CnnWindows(benchmark::State& state) {
  const auto description = sax::read_model_description(fixture->model);
  const auto features = description.at("features").get<sax::FeatureConfig>();
  sax::CnnLayout layout = sax::cnn_layout(sax::net_of_model(description), features);
  layout.winograd = state.range(0) == 1;
  const sax::CnnRuntime cnn(layout, sax::WeightsFile::read(fixture->model / sax::kWeightsFile));
  std::mt19937 random(3);
  std::normal_distribution<float> noise;
  std::vector<sax::Spectrogram> windows(32);
  for (auto& w : windows) {
    w.rows = features.n_mels;
    w.cols = features.frames;
    for (int v = 0; v < w.rows * w.cols; ++v) w.values.push_back(noise(random));
  }
  std::vector<float> steps;
  for (auto _ : state) benchmark::DoNotOptimize(cnn.probabilities(windows, 1, &steps).data());
  state.SetLabel(layout.winograd ? "winograd" : "im2col");
  state.counters["windows_per_s"] =
      benchmark::Counter(windows.size() * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_EfficientAtAnalyseFile(benchmark::State& state) {
  sax::detect::Options options;
  options.hop = 1.0;
  for (auto _ : state) {
    auto analysis = sax::detect::analyse_file(fixture->song, *fixture->efficientat, options);
    benchmark::DoNotOptimize(analysis.windows.data());
  }
  state.counters["x_real_time"] =
      benchmark::Counter(kSongSeconds * state.iterations(), benchmark::Counter::kIsRate);
}

// One chunk: 60 windows 1 s apart (64 s of audio), log-mel and body once, every window and step.
void BM_EfficientAtChunk(benchmark::State& state) {
  sax::Scorer& scorer = *fixture->efficientat;
  const size_t hop = scorer.sample_rate();
  std::vector<float> audio(59 * hop + scorer.window_samples());
  sax::Decoder(fixture->song, scorer.sample_rate()).read(audio.data(), audio.size());
  std::vector<float> steps;
  for (auto _ : state)
    benchmark::DoNotOptimize(scorer.score_sliding_steps(audio.data(), audio.size(), hop, steps));
  state.counters["x_real_time"] =
      benchmark::Counter(60.0 * state.iterations(), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_DecodeOnly)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);
BENCHMARK(BM_AnalyseFile)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);
BENCHMARK(BM_CnnWindows)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_EfficientAtAnalyseFile)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);
BENCHMARK(BM_EfficientAtChunk)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--write-model") == 0) {
    write_fresh_model(argv[2]);
    return 0;
  }
  std::string model;
  if (argc >= 3 && std::strcmp(argv[1], "--model") == 0) {
    model = argv[2];
    argv[2] = argv[0];  // hand the remaining flags to Google Benchmark
    argv += 2;
    argc -= 2;
  }
  Fixture f;
  f.dir = fs::temp_directory_path() / fmt::format("bench-predict-{}", ::getpid());
  fs::create_directories(f.dir);
  if (model.empty()) {
    model = (f.dir / "model").string();
    write_fresh_model(model);
    fmt::print(
        "model: freshly initialised default architecture of a large library (with the GRU)\n");
  } else {
    fmt::print("model: {}\n", model);
  }
  f.model = model;
  f.scorer = sax::load_detector(model);
  f.efficientat = sax::builtin_efficientat_scorer();
  f.song = write_song(f.dir);
  fixture = &f;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fs::remove_all(f.dir);
  return 0;
}
