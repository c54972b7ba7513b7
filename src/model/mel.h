#pragma once
// LibTorch adapters of infer/features.h for training (batches of windows as tensors).
// Internal to src/model: never include it from a header other modules see.
#include <torch/torch.h>

#include "infer/features.h"

namespace sax::mel {

// [B, N] CPU audio -> [B, n_mels, frames]: log_mel_window of each row (rows in parallel), NOT
// normalised. The dataset cache stores this form so that augmentation (gain, shifts) happens
// before normalisation.
torch::Tensor log_mel_windows(const torch::Tensor& audio, const FeatureConfig& config);

// Applies config.normalise to [B, rows, cols] on any device: infer's normalise() as tensor
// arithmetic, for augmented training batches.
torch::Tensor normalise(const torch::Tensor& spectrograms, const FeatureConfig& config);

}  // namespace sax::mel
