#pragma once
// LibTorch side of features.h, shared by training, the dataset cache and the scorer.
// Internal to src/model: never include it from a header other modules see.
#include <torch/torch.h>

#include "model/features.h"

namespace sax::mel {

// Log-mel of a batch of mono signals [B, N] (any N >= 1) -> [B, n_mels, T] with T = 1 + N / hop
// frames (centred STFT), NOT normalised and NOT cut to config.frames. The dataset cache stores
// this form so that augmentation (gain, shifts) happens before normalisation.
torch::Tensor log_mel_raw(const torch::Tensor& audio, const FeatureConfig& config);

// [B, N] audio cut or zero-padded to window_samples() -> [B, n_mels, frames], not normalised.
torch::Tensor log_mel_windows(const torch::Tensor& audio, const FeatureConfig& config);

// Applies config.normalise to [B, rows, cols] (per-sample zero mean, unit variance, or none).
torch::Tensor normalise(const torch::Tensor& spectrograms, const FeatureConfig& config);

// The mel filter bank [n_fft / 2 + 1, n_mels] (Slaney scale and area normalisation, as in
// librosa's defaults), computed once per config.
torch::Tensor filter_bank(const FeatureConfig& config);

// [B, rows, cols] float tensor <-> spectrograms.
std::vector<Spectrogram> to_spectrograms(const torch::Tensor& batch);

}  // namespace sax::mel
