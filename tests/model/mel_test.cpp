// The LibTorch-free log-mel (infer/features.h) against torch::stft, and the tensor adapters
// training uses (model/mel.h) against it.
#include "model/mel.h"

#include <gtest/gtest.h>

#include "support/testing.h"

namespace sax {
namespace {

// Log-mel through torch::stft (centred, zero-padded, periodic Hann), the implementation the
// FFmpeg-based one replaced: [n_mels, 1 + N / hop].
torch::Tensor torch_log_mel(const std::vector<float>& audio, const FeatureConfig& c) {
  auto bank = mel_filter_bank(c);
  const auto bank_t = torch::from_blob(bank.data(), {c.n_mels, c.n_fft / 2 + 1});
  const auto signal =
      torch::from_blob(const_cast<float*>(audio.data()), {static_cast<int64_t>(audio.size())});
  const auto spectrum = torch::stft(signal, c.n_fft, c.hop(), c.n_fft, torch::hann_window(c.n_fft),
                                    /*center=*/true, "constant", false, true, true);
  const auto power = torch::view_as_real(spectrum).pow(2).sum(-1);
  return torch::matmul(bank_t, power).clamp_min(c.log_floor).log();
}

std::vector<float> noisy_tones(double seconds, int rate) {
  auto audio = testing::tone(seconds, rate, 1, 311.0, 0.3);
  const auto other = testing::tone(seconds, rate, 1, 1760.0, 0.1);
  uint32_t state = 3;
  for (size_t i = 0; i < audio.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    audio[i] += other[i] + 0.05f * (static_cast<float>(state >> 8) / 16777216.0f - 0.5f);
  }
  return audio;
}

// `tolerance` on log values: both FFTs round in float32, which shows most in narrow low bands
// of few bins with little energy.
void expect_agrees_with_torch(const FeatureConfig& config, double seconds, double tolerance) {
  const auto audio = noisy_tones(seconds, config.sample_rate);
  const Spectrogram ours = log_mel_raw(audio.data(), audio.size(), config);
  const auto theirs = torch_log_mel(audio, config).contiguous();
  ASSERT_EQ(theirs.size(0), ours.rows);
  ASSERT_EQ(theirs.size(1), ours.cols);
  const float* t = theirs.data_ptr<float>();
  double worst = 0;
  for (size_t i = 0; i < ours.values.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(ours.values[i] - t[i])));
  EXPECT_LT(worst, tolerance) << "n_mels " << config.n_mels << ", frames " << config.frames;
}

TEST(Mel, AgreesWithTorchStftAtTheDefaultResolution) {
  expect_agrees_with_torch(FeatureConfig{}, 7.3, 1e-4);
}

TEST(Mel, AgreesWithTorchStftAt256By216) {
  FeatureConfig config;
  config.n_mels = 256;
  config.frames = 216;
  config.fmin = 50;
  config.fmax = 8000;
  expect_agrees_with_torch(config, 5.0, 5e-4);
}

TEST(Mel, TensorAdaptersEqualTheLibTorchFreeFeatures) {
  const FeatureConfig config;
  const std::vector<std::vector<float>> windows{noisy_tones(5.0, config.sample_rate),
                                                noisy_tones(2.0, config.sample_rate)};
  auto audio = torch::zeros({2, static_cast<int64_t>(config.window_samples())});
  for (int i = 0; i < 2; ++i)
    std::copy(windows[i].begin(), windows[i].end(), audio[i].data_ptr<float>());
  const auto tensors = mel::normalise(mel::log_mel_windows(audio, config), config).contiguous();
  const auto expected = log_mel_batch(windows, config);
  for (int i = 0; i < 2; ++i) {
    const float* t = tensors[i].data_ptr<float>();
    for (size_t k = 0; k < expected[i].values.size(); ++k)
      ASSERT_NEAR(t[k], expected[i].values[k], 1e-4) << "window " << i << ", value " << k;
  }
}

}  // namespace
}  // namespace sax
