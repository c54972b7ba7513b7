// Log-mel extraction speed: seconds of audio processed per second, reported as "x real time".
// Run with OMP_NUM_THREADS=1 for the per-core figure (the target is at least 1,000x).
#include <cmath>
#include <thread>

#include <benchmark/benchmark.h>

#include "model/features.h"

namespace {

std::vector<std::vector<float>> noise_windows(const sax::FeatureConfig& config, size_t count) {
  std::vector<std::vector<float>> windows(count, std::vector<float>(config.window_samples()));
  uint32_t state = 1;
  for (auto& w : windows)
    for (auto& v : w) {
      state = state * 1664525u + 1013904223u;
      v = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    }
  return windows;
}

void log_mel_batch_of(benchmark::State& state, sax::FeatureConfig config) {
  const auto windows = noise_windows(config, static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(sax::log_mel_batch(windows, config));
  // items/s x window seconds = audio seconds per wall second (x real time).
  state.counters["x_real_time"] =
      benchmark::Counter(static_cast<double>(state.iterations() * windows.size()) * config.seconds,
                         benchmark::Counter::kIsRate);
}

void BM_LogMelDefault(benchmark::State& state) { log_mel_batch_of(state, sax::FeatureConfig{}); }

void BM_LogMel256x216(benchmark::State& state) {
  sax::FeatureConfig config;
  config.n_mels = 256;
  config.frames = 216;
  log_mel_batch_of(state, config);
}

}  // namespace

BENCHMARK(BM_LogMelDefault)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LogMel256x216)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
