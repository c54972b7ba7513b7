// The CNN trained from scratch as a ModelKind, and choosing the kind from the config.
#include "model/kind.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <fmt/format.h>

#include "common/error.h"
#include "infer/detector.h"
#include "model/backbone.h"
#include "model/efficientat.h"
#include "model/mel.h"

namespace sax {

namespace {

const double kLn10 = std::log(10.0);

double beta_sample(std::mt19937_64& rng, double alpha) {
  std::gamma_distribution<double> gamma(alpha, 1.0);
  const double a = gamma(rng), b = gamma(rng);
  return a + b > 0 ? a / (a + b) : 0.5;
}

// Loads the weights of a CNN trained earlier (our own pretraining, e.g. on synth music); its
// architecture and features must be the ones this run trains.
void start_from(Cnn& net, const std::string& model_dir, const TrainConfig& config) {
  const auto description_file = std::filesystem::path(model_dir) / "model.json";
  const auto description = read_model_description(model_dir);
  if (description.value("kind", "cnn") != "cnn")
    throw Error(fmt::format("{}: init needs a CNN model, this one is a {}",
                            description_file.string(), description.value("kind", "")));
  if (!description.contains("net") ||
      nlohmann::json(net_of_model(description)) != nlohmann::json(config.net) ||
      description.value("features", nlohmann::json()) != nlohmann::json(config.features))
    throw Error(fmt::format(
        "{}: its net and features differ from this run's; init needs the same architecture",
        description_file.string()));
  load_model_weights(net, std::filesystem::path(model_dir));
}

// A smooth random EQ per item [b, rows, 1]: gains drawn in +/- `most` at 4 bands spread evenly,
// linear between them. Another soundfont's instrument differs from ours in its formants, which
// a single tilt cannot imitate.
torch::Tensor random_eq(int64_t b, int64_t rows, double most, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  constexpr int64_t kAnchors = 4;
  auto anchors = torch::empty({b, 1, kAnchors});
  auto* gains = anchors.data_ptr<float>();
  for (int64_t i = 0; i < b * kAnchors; ++i) gains[i] = static_cast<float>(unit(rng) * most);
  namespace F = torch::nn::functional;
  const auto curve = F::interpolate(anchors, F::InterpolateFuncOptions()
                                                 .size(std::vector<int64_t>{rows})
                                                 .mode(torch::kLinear)
                                                 .align_corners(true));
  return curve.view({b, rows, 1});
}

// Moves each item's spectrum up or down by up to `most` mel bands (the edge band fills in): the
// same phrase a little higher or lower, with its formants moved too.
torch::Tensor shift_bands(const torch::Tensor& x, int most, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> shift(-most, most);
  const int64_t rows = x.size(1);
  std::vector<torch::Tensor> shifted;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const auto rows_from = (torch::arange(rows) - shift(rng)).clamp(0, rows - 1);
    shifted.push_back(x[i].index_select(0, rows_from));
  }
  return torch::stack(shifted);
}

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
    if (!config_.init.empty()) start_from(net, config_.init, config_);
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

// Gain, spectral tilt, EQ, band shift and time shift on the raw log-mel, then normalisation,
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
  if (a.eq_db > 0) x = x + random_eq(b, rows, a.eq_db * kLn10 / 10, rng);
  if (a.mel_shift > 0) x = shift_bands(x, a.mel_shift, rng);
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

std::pair<torch::Tensor, Targets> mixup(torch::Tensor x, Targets y, double alpha,
                                        std::mt19937_64& rng) {
  if (alpha <= 0) return {x, y};
  const double lambda = beta_sample(rng, alpha);
  std::vector<int64_t> order(static_cast<size_t>(x.size(0)));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const auto perm = torch::tensor(order);
  auto mix = [&](const torch::Tensor& t) {
    return lambda * t + (1 - lambda) * t.index_select(0, perm);
  };
  Targets mixed{mix(y.windows), {}, {}};
  if (y.has_frames())
    mixed.frames = mix(y.frames), mixed.known = y.known * y.known.index_select(0, perm);
  return {mix(x), mixed};
}

void ModelKind::save(const Network& net, const std::filesystem::path& file) const {
  save_weights(*net, file);
}

std::unique_ptr<ModelKind> model_kind(const TrainConfig& config) {
  if (config.backbone.enabled()) return backbone_kind(config);
  if (config.kind == "efficientat") return efficientat_kind(config);
  return cnn_kind(config);
}

std::unique_ptr<ModelKind> cnn_kind(const TrainConfig& config) {
  return std::make_unique<CnnKind>(config);
}

}  // namespace sax
