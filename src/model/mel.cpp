#include "model/mel.h"

#include <algorithm>

namespace sax::mel {

torch::Tensor log_mel_windows(const torch::Tensor& audio, const FeatureConfig& config) {
  const auto rows = audio.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t batch = rows.size(0), length = rows.size(1);
  auto out = torch::empty({batch, config.n_mels, config.frames});
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const auto s = log_mel_window(rows[i].data_ptr<float>(), static_cast<size_t>(length), config);
      std::copy(s.values.begin(), s.values.end(), out[i].data_ptr<float>());
    }
  });
  return out.to(audio.device());
}

torch::Tensor normalise(const torch::Tensor& spectrograms, const FeatureConfig& config) {
  if (config.normalise == "none") return spectrograms;
  const auto mean = spectrograms.mean({-2, -1}, /*keepdim=*/true);
  const auto std = spectrograms.std({-2, -1}, /*unbiased=*/false, /*keepdim=*/true);
  // The epsilon keeps a silent (constant) clip finite: it normalises to all zeros.
  return (spectrograms - mean) / (std + 1e-5);
}

}  // namespace sax::mel
