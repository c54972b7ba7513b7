// YAMNet speed: the LibTorch port scoring 5 s windows (zero-shot detection) against the plain
// C++ reference interpreter on one 0.975 s patch. Needs ../shared/models/yamnet/yamnet.tflite.
#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>

#include "model/yamnet.h"
#include "transfer/interpreter.h"
#include "transfer/yamnet_import.h"

namespace {

namespace fs = std::filesystem;

const fs::path kTflite = fs::path(SAXDETECT_SHARED_DIR) / "models/yamnet/yamnet.tflite";

std::vector<float> tone(size_t samples) {
  std::vector<float> out(samples);
  for (size_t i = 0; i < samples; ++i)
    out[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * 440.0 * i / sax::kYamnetSampleRate));
  return out;
}

const fs::path& imported_model() {
  static const fs::path file = [] {
    const auto out = fs::temp_directory_path() / "saxdetect-bench-yamnet.pt";
    sax::import_yamnet(kTflite, out);
    return out;
  }();
  return file;
}

// Items: 5 s windows scored; the rate shows as windows per second.
void BM_ZeroShotWindows(benchmark::State& state) {
  if (!fs::exists(kTflite)) return state.SkipWithError("no yamnet.tflite in ../shared");
  auto scorer = sax::load_yamnet_scorer(imported_model());
  const std::vector<std::vector<float>> windows(state.range(0), tone(scorer->window_samples()));
  for (auto _ : state) benchmark::DoNotOptimize(scorer->score_windows(windows));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ZeroShotWindows)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond);

void BM_ReferenceInterpreterPatch(benchmark::State& state) {
  if (!fs::exists(kTflite)) return state.SkipWithError("no yamnet.tflite in ../shared");
  const auto model = sax::tflite::read_model(kTflite);
  const sax::tflite::Interpreter interpreter(model);
  const auto audio = tone(sax::kYamnetPatchSamples);
  for (auto _ : state) benchmark::DoNotOptimize(interpreter.run({{{1, 15600}, audio}}));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReferenceInterpreterPatch)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
