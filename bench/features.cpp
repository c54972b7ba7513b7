// Log-mel extraction speed: seconds of audio processed per second of one core, reported as
// "x_real_time" (the target is at least 1,000x real time per core). Both run on one thread
// (torch::set_num_threads(1)) so the figure is per core whatever the machine.
//
// BM_LogMelReference is a LibTorch implementation (torch::stft in batches of 64, dense matmul
// with the filter bank, power through view_as_real().pow(2).sum(-1)), kept here only as the
// baseline: run both in one process and compare their x_real_time. "max_abs_diff" is the
// largest difference between the two outputs over the benchmarked windows.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "infer/features.h"

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

// ---- the baseline: log_mel_batch in LibTorch ---------------------------------------------

torch::Tensor reference_log_mel_raw(const torch::Tensor& audio, const sax::FeatureConfig& config) {
  static std::mutex mutex;
  static std::map<int, torch::Tensor> windows;
  torch::Tensor window;
  {
    std::lock_guard lock(mutex);
    auto& w = windows[config.n_fft];
    if (!w.defined()) w = torch::hann_window(config.n_fft, torch::kFloat32);
    window = w;
  }
  (void)config.key();  // the old code looked the filter bank up by key on every call
  auto bank = sax::mel_filter_bank(config);
  const auto bank_t = torch::from_blob(bank.data(), {config.n_mels, config.n_fft / 2 + 1}).clone();
  std::vector<torch::Tensor> parts;
  constexpr int64_t kChunk = 64;
  for (int64_t first = 0; first < audio.size(0); first += kChunk) {
    const auto chunk = audio.narrow(0, first, std::min(kChunk, audio.size(0) - first));
    const auto spectrum = torch::stft(chunk, config.n_fft, config.hop(), config.n_fft, window, true,
                                      "constant", false, true, true);
    const auto power = torch::view_as_real(spectrum).pow(2).sum(-1);
    parts.push_back(torch::matmul(bank_t, power).clamp_min(config.log_floor).log());
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

torch::Tensor fit_length(const torch::Tensor& t, int64_t length) {
  const int64_t have = t.size(-1);
  if (have == length) return t;
  if (have > length) return t.narrow(-1, 0, length);
  return torch::constant_pad_nd(t, {0, length - have}, 0.0);
}

std::vector<sax::Spectrogram> reference_log_mel_batch(
    const std::vector<std::vector<float>>& windows, const sax::FeatureConfig& config) {
  torch::NoGradGuard no_grad;
  const size_t length = config.window_samples();
  auto audio = torch::zeros({static_cast<int64_t>(windows.size()), static_cast<int64_t>(length)});
  for (size_t i = 0; i < windows.size(); ++i)
    std::copy_n(windows[i].data(), std::min(length, windows[i].size()),
                audio[static_cast<int64_t>(i)].data_ptr<float>());
  auto x =
      fit_length(reference_log_mel_raw(fit_length(audio, static_cast<int64_t>(length)), config),
                 config.frames);
  if (config.normalise != "none") {
    const auto mean = x.mean({-2, -1}, true);
    const auto std = x.std({-2, -1}, false, true);
    x = (x - mean) / (std + 1e-5);
  }
  const auto contiguous = x.contiguous();
  std::vector<sax::Spectrogram> out(static_cast<size_t>(contiguous.size(0)));
  for (size_t i = 0; i < out.size(); ++i) {
    auto& s = out[i];
    s.rows = static_cast<int>(contiguous.size(1));
    s.cols = static_cast<int>(contiguous.size(2));
    const float* data = contiguous[static_cast<int64_t>(i)].data_ptr<float>();
    s.values.assign(data, data + static_cast<size_t>(s.rows) * s.cols);
  }
  return out;
}

// ---- benchmarks ---------------------------------------------------------------------------

using Extractor = std::vector<sax::Spectrogram> (*)(const std::vector<std::vector<float>>&,
                                                    const sax::FeatureConfig&);

void run(benchmark::State& state, sax::FeatureConfig config, Extractor extract) {
  torch::set_num_threads(1);
  const auto windows = noise_windows(config, static_cast<size_t>(state.range(0)));
  double max_diff = 0;
  {
    const auto a = extract(windows, config), b = reference_log_mel_batch(windows, config);
    for (size_t i = 0; i < a.size(); ++i)
      for (size_t k = 0; k < a[i].values.size(); ++k)
        max_diff =
            std::max(max_diff, static_cast<double>(std::abs(a[i].values[k] - b[i].values[k])));
  }
  for (auto _ : state) benchmark::DoNotOptimize(extract(windows, config));
  // items/s x window seconds = audio seconds per wall second (x real time) on one thread.
  state.counters["x_real_time"] =
      benchmark::Counter(static_cast<double>(state.iterations() * windows.size()) * config.seconds,
                         benchmark::Counter::kIsRate);
  state.counters["max_abs_diff"] = max_diff;
}

sax::FeatureConfig high_resolution() {
  sax::FeatureConfig config;
  config.n_mels = 256;
  config.frames = 216;
  return config;
}

void BM_LogMelDefault(benchmark::State& state) {
  run(state, sax::FeatureConfig{}, &sax::log_mel_batch);
}
void BM_LogMelReference(benchmark::State& state) {
  run(state, sax::FeatureConfig{}, &reference_log_mel_batch);
}
void BM_LogMel256x216(benchmark::State& state) {
  run(state, high_resolution(), &sax::log_mel_batch);
}
void BM_LogMel256x216Reference(benchmark::State& state) {
  run(state, high_resolution(), &reference_log_mel_batch);
}

}  // namespace

BENCHMARK(BM_LogMelReference)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LogMelDefault)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LogMel256x216Reference)->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LogMel256x216)->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
