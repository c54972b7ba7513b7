#pragma once
// Log-mel spectrograms: the CNN's input, the labelling page's picture, the predictor's view.
// LibTorch-free (FFmpeg's real FFT, av_tx): training, the web app and predict share this one
// implementation, and predict does not need LibTorch for it.
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
// log_mel of each window (a convenience: the same cost as calling log_mel for each).
std::vector<Spectrogram> log_mel_batch(const std::vector<std::vector<float>>& windows,
                                       const FeatureConfig& config);

// The steps of log_mel, for callers that cut windows out of a longer span or augment first.
// Log-mel of a whole mono signal (any length): n_mels x (1 + count / hop) frames, frame t
// centred on sample t * hop (the signal zero-padded by n_fft / 2 on both sides, as
// torch.stft(center=True, pad_mode="constant") does); NOT normalised and NOT cut to
// config.frames.
Spectrogram log_mel_raw(const float* audio, size_t count, const FeatureConfig& config);
// log_mel before normalisation (what the training feature cache stores, so augmentation
// happens before normalising): audio cut or zero-padded to window_samples(), frames cut or
// padded with zeros to config.frames.
Spectrogram log_mel_window(const float* audio, size_t count, const FeatureConfig& config);
// Columns [first, first + cols) of `s`; columns past its end are zeros.
Spectrogram columns(const Spectrogram& s, int first, int cols);
// Applies config.normalise in place: per-sample zero mean and unit variance (population
// standard deviation + 1e-5, so silence stays finite), or nothing.
void normalise(Spectrogram& s, const FeatureConfig& config);

// The mel filter bank, [n_mels][n_fft / 2 + 1] row-major (Slaney scale and area normalisation,
// as in librosa's defaults).
std::vector<float> mel_filter_bank(const FeatureConfig& config);

}  // namespace sax
