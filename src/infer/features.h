#pragma once
// Log-mel spectrograms: the CNN's input, the labelling page's picture, the predictor's view.
// This header is LibTorch-free so any module can use it; the implementation uses torch::stft.
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sax {

struct FeatureConfig {
  int sample_rate = 22050;
  double seconds = 5.0;  // window length the model sees
  int n_mels = 128;      // rows
  int frames = 108;      // columns; the hop is derived so `frames` frames span `seconds`
  int n_fft = 2048;
  double fmin = 20;
  double fmax = 0;                       // 0: sample_rate / 2
  double log_floor = 1e-5;               // log(max(mel, floor))
  std::string normalise = "per_sample";  // "per_sample" (zero mean, unit variance) or "none"

  size_t window_samples() const;  // seconds * sample_rate
  int hop() const;                // samples between frames
  std::string key() const;        // stable short hash of every field: names feature caches
};

void to_json(nlohmann::json& j, const FeatureConfig& c);
void from_json(const nlohmann::json& j, FeatureConfig& c);

// One spectrogram: n_mels rows x frames columns, row-major, row 0 the lowest band.
struct Spectrogram {
  int rows = 0, cols = 0;
  std::vector<float> values;
};

// `audio` is mono at config.sample_rate; shorter input is zero-padded, longer input cut.
Spectrogram log_mel(const float* audio, size_t count, const FeatureConfig& config);
// Many windows at once (one torch::stft call): far faster than one at a time.
std::vector<Spectrogram> log_mel_batch(const std::vector<std::vector<float>>& windows,
                                       const FeatureConfig& config);

}  // namespace sax
