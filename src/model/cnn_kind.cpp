// The CNN trained from scratch as a ModelKind.
#include <cmath>

#include "model/kind.h"
#include "model/mel.h"

namespace sax {

namespace {

const double kLn10 = std::log(10.0);

class CnnKind : public ModelKind {
 public:
  explicit CnnKind(TrainConfig config) : config_(std::move(config)) {}

  std::string name() const override { return "cnn"; }
  std::unique_ptr<FeatureExtractor> extractor() const override {
    return std::make_unique<LogMelExtractor>(config_.features);
  }
  Network create() const override {
    Cnn net(config_.net, config_.features.n_mels, config_.features.frames);
    kaiming_init(*net);
    return net.ptr();
  }
  torch::Tensor prepare(const torch::Tensor& raw) const override {
    return mel::normalise(raw, config_.features).unsqueeze(1);
  }
  std::pair<torch::Tensor, Targets> augment(torch::Tensor raw, Targets targets,
                                            std::mt19937_64& rng) const override;
  std::vector<ParameterGroup> parameter_groups(const Network& net) const override {
    return {{net->parameters(), 1.0}};
  }

 private:
  TrainConfig config_;
};

// Gain, spectral tilt and time shift on the raw log-mel, then normalisation,
// SpecAugment masks and mixup.
std::pair<torch::Tensor, Targets> CnnKind::augment(torch::Tensor x, Targets y,
                                                   std::mt19937_64& rng) const {
  const auto& a = config_.augment;
  if (!a.enabled) return {prepare(x), y};
  const int64_t b = x.size(0), rows = x.size(1), cols = x.size(2);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  // Gain and tilt act in dB on power, i.e. additively on the natural-log mel energies.
  const auto ramp = torch::linspace(-0.5, 0.5, rows).view({1, rows, 1});
  auto offsets = torch::empty({b, 1, 1}), tilts = torch::empty({b, 1, 1});
  for (int64_t i = 0; i < b; ++i) {
    offsets[i] = unit(rng) * a.gain_db * kLn10 / 10;
    tilts[i] = unit(rng) * a.tilt_db * kLn10 / 10;
  }
  x = x + offsets + tilts * ramp;
  if (a.max_shift > 0) {
    std::uniform_int_distribution<int> shift(-a.max_shift, a.max_shift);
    std::vector<torch::Tensor> rolled, rolled_frames;
    for (int64_t i = 0; i < b; ++i) {
      const int64_t by = shift(rng);
      rolled.push_back(torch::roll(x[i], {by}, {1}));
      if (y.has_frames()) rolled_frames.push_back(torch::roll(y.frames[i], {by}, {0}));
    }
    x = torch::stack(rolled);
    if (y.has_frames()) y.frames = torch::stack(rolled_frames);
  }
  x = mel::normalise(x, config_.features).clone();
  // SpecAugment: zero (the normalised mean) random spans of time and of mel bands.
  auto mask = [&](int64_t dim, int count, int widest, int64_t size) {
    std::uniform_int_distribution<int> width(
        0, std::max(0, std::min<int>(widest, static_cast<int>(size) - 1)));
    for (int64_t i = 0; i < b; ++i)
      for (int m = 0; m < count; ++m) {
        const int w = width(rng);
        const int start = std::uniform_int_distribution<int>(0, static_cast<int>(size) - w)(rng);
        if (w > 0) x[i].narrow(dim - 1, start, w).zero_();
      }
  };
  mask(2, a.time_masks, a.time_mask_max, cols);
  mask(1, a.freq_masks, a.freq_mask_max, rows);
  auto [mixed, targets] = mixup(x, y, a.mixup_alpha, rng);
  return {mixed.unsqueeze(1), targets};
}

}  // namespace

std::unique_ptr<ModelKind> cnn_kind(const TrainConfig& config) {
  return std::make_unique<CnnKind>(config);
}

}  // namespace sax
