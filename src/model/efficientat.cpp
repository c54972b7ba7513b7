// EfficientAT mn04_as as a training kind: the network with its Saxophone output and a zero head,
// the features cached for it, and reading a saved folder back.
#include "model/efficientat.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "infer/builtin_model.h"
#include "infer/detector.h"
#include "infer/efficientat.h"
#include "model/net.h"

namespace sax {

namespace {

// The head starts at zero on features that do not change: it takes larger steps than a network
// trained from scratch. Ten times lr ranked real recordings and synthetic songs better than lr
// itself (docs/design.md).
constexpr double kHeadLrScale = 10;
// Unfrozen blocks move slowly: they start from AudioSet's features, which the labels refine.
constexpr double kBodyLrScale = 0.1;

namespace fs = std::filesystem;
using namespace efficientat;

constexpr int kSampleRate = kEfficientAtRate;
// Clips through the body at once while caching h (bounded memory at 5 s per clip).
constexpr int64_t kHiddenBatch = 16;

int64_t window_samples_of(double seconds) {
  return static_cast<int64_t>(std::llround(seconds * kSampleRate));
}

// Log-mel frames of a window: pre-emphasis drops one sample, centred STFT frames every hop.
int64_t frames_of(int64_t samples) { return 1 + (samples - 1) / kEfficientAtHop; }

// What is cached per sample: h when the body is frozen, else the log-mel it trains on.
class EfficientatExtractor : public FeatureExtractor {
 public:
  EfficientatExtractor(double seconds, bool hidden)
      : window_(window_samples_of(seconds)), hidden_(hidden) {
    if (hidden_) body_ = efficientat_net(efficientat_weights());
  }

  std::string key() const override {
    return fmt::format("efficientat-mn04as-{}-{}", hidden_ ? "hidden" : "logmel", window_);
  }
  nlohmann::json describe() const override {
    return {{"model", "EfficientAT mn04_as (built in)"},
            {"sample_rate", kSampleRate},
            {"window_samples", window_},
            {"features", hidden_ ? "classifier.2 hidden vector h" : "log-mel"}};
  }
  int sample_rate() const override { return kSampleRate; }
  size_t window_samples() const override { return static_cast<size_t>(window_); }
  std::vector<int64_t> shape() const override {
    if (hidden_) return {kHidden};
    return {kBands, frames_of(window_)};
  }
  torch::Tensor compute(const torch::Tensor& audio) override {
    torch::NoGradGuard no_grad;
    const auto log_mel = efficientat_log_mels(audio);
    if (!hidden_) return log_mel;
    std::vector<torch::Tensor> parts;
    for (int64_t first = 0; first < log_mel.size(0); first += kHiddenBatch)
      parts.push_back(
          body_->hidden(log_mel.narrow(0, first, std::min(kHiddenBatch, log_mel.size(0) - first))));
    return torch::cat(parts);
  }

 private:
  int64_t window_;
  bool hidden_;
  EfficientatNet body_{nullptr};
};

// SpecAugment on EfficientAT's log-mel: zero random spans of time and of mel bands.
torch::Tensor spec_augment(torch::Tensor x, const AugmentConfig& a, std::mt19937_64& rng) {
  x = x.clone();
  auto mask = [&](int64_t dim, int count, int widest) {
    const int64_t size = x.size(dim);
    std::uniform_int_distribution<int64_t> width(
        0, std::max<int64_t>(0, std::min<int64_t>(widest, size - 1)));
    for (int64_t i = 0; i < x.size(0); ++i)
      for (int m = 0; m < count; ++m) {
        const int64_t w = width(rng);
        const int64_t start = std::uniform_int_distribution<int64_t>(0, size - w)(rng);
        if (w > 0) x[i].narrow(dim - 1, start, w).zero_();
      }
  };
  mask(2, a.time_masks, a.time_mask_max);
  mask(1, a.freq_masks, a.freq_mask_max);
  return x;
}

class EfficientatKind : public ModelKind {
 public:
  explicit EfficientatKind(TrainConfig config) : config_(std::move(config)) {}

  std::string name() const override { return "efficientat"; }
  std::unique_ptr<FeatureExtractor> extractor() const override {
    return std::make_unique<EfficientatExtractor>(config_.features.seconds, config_.unfreeze == 0);
  }
  Network create() const override {
    return EfficientatSaxNet(efficientat_weights(), config_.unfreeze).ptr();
  }
  torch::Tensor prepare(const torch::Tensor& raw) const override { return raw; }
  std::pair<torch::Tensor, Targets> augment(torch::Tensor raw, Targets targets,
                                            std::mt19937_64& rng) const override {
    const auto& a = config_.augment;
    if (!a.enabled) return {raw, targets};
    if (config_.unfreeze > 0) raw = spec_augment(raw, a, rng);
    return mixup(raw, targets, a.mixup_alpha, rng);
  }
  std::vector<ParameterGroup> parameter_groups(const Network& net) const override {
    ParameterGroup head{{}, kHeadLrScale}, body{{}, kBodyLrScale};
    for (const auto& item : net->named_parameters()) {
      if (!item.value().requires_grad()) continue;
      (item.key().rfind("head.", 0) == 0 ? head : body).parameters.push_back(item.value());
    }
    std::vector<ParameterGroup> groups{head};
    if (!body.parameters.empty()) groups.push_back(body);
    return groups;
  }
  bool starts_zero_shot() const override { return true; }
  void save(const Network& net, const fs::path& file) const override {
    std::dynamic_pointer_cast<EfficientatSaxNetImpl>(net)->trained_weights().write(file);
  }
  void describe(nlohmann::json& model) const override {
    model["efficientat"] = {{"model", "mn04_as"},
                            {"sample_rate", kSampleRate},
                            {"window_samples", window_samples_of(config_.features.seconds)},
                            {"saxophone_index", kAudioSetSaxophone},
                            {"unfreeze", config_.unfreeze}};
  }

 private:
  TrainConfig config_;
};

}  // namespace

EfficientatSaxNetImpl::EfficientatSaxNetImpl(const WeightsFile& weights, int unfreeze)
    : body_(efficientat_net(weights)), unfreeze_(unfreeze) {
  // Registered as this module's own children, so names are the state_dict's (features.*,
  // classifier.*) beside head.*.
  for (const auto& child : body_->named_children()) register_module(child.key(), child.value());
  head_ = register_module("head", torch::nn::Linear(kHidden, 1));
  torch::NoGradGuard no_grad;
  head_->weight.zero_();
  head_->bias.zero_();
  for (auto& item : named_parameters())
    item.value().requires_grad_(item.key().rfind("head.", 0) == 0 || trained_name(item.key()));
  train(false);
}

// features.<i>.* for the last `unfreeze_` blocks, and classifier.2.* when any block trains.
bool EfficientatSaxNetImpl::trained_name(const std::string& name) const {
  if (unfreeze_ <= 0) return false;
  if (name.rfind("classifier.2.", 0) == 0) return true;
  if (name.rfind("features.", 0) != 0) return false;
  const int block = std::stoi(name.substr(9));
  return block >= kFeatureBlocks - unfreeze_;
}

// The Saxophone logit is taken from all 527 (not a dot product of its own) so that, with the
// head at zero, it is the zero-shot logit to the bit.
torch::Tensor EfficientatSaxNetImpl::logits_of_hidden(const torch::Tensor& hidden) {
  return body_->classify(hidden).select(1, kAudioSetSaxophone) + head_(hidden).squeeze(1);
}

torch::Tensor EfficientatSaxNetImpl::forward(const torch::Tensor& input) {
  if (input.dim() == 2 && input.size(1) == kHidden) return logits_of_hidden(input);
  if (unfreeze_ == 0) {
    torch::NoGradGuard no_grad;  // a frozen body: nothing below h needs a graph
    return logits_of_hidden(body_->hidden(input));
  }
  return logits_of_hidden(body_->hidden(input));
}

void EfficientatSaxNetImpl::train(bool on) {
  torch::nn::Module::train(on);
  body_->eval();
}

WeightsFile EfficientatSaxNetImpl::trained_weights() {
  std::map<std::string, WeightTensor> kept;
  const auto all = weights_of(*this);
  for (const auto& [name, tensor] : all.tensors())
    if ((name.rfind("head.", 0) == 0 || trained_name(name)) &&
        name.find("num_batches_tracked") == std::string::npos)
      kept.emplace(name, tensor);
  return WeightsFile({}, std::move(kept));
}

std::unique_ptr<ModelKind> efficientat_kind(const TrainConfig& config) {
  return std::make_unique<EfficientatKind>(config);
}

const WeightsFile& efficientat_weights() { return builtin_efficientat_weights(); }

EfficientatSaxNet read_efficientat_model(const fs::path& model_dir) {
  const auto description = read_model_description(model_dir);
  const int unfreeze = description.at("efficientat").value("unfreeze", 0);
  EfficientatSaxNet net(efficientat_weights(), unfreeze);
  const auto saved = WeightsFile::read(model_dir / kWeightsFile);
  auto ours = net->named_parameters();
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : saved.tensors()) {
    torch::Tensor target;
    if (ours.contains(name))
      target = ours[name];
    else if (net->named_buffers().contains(name))
      target = net->named_buffers()[name];
    else
      throw Error(fmt::format("{}: unknown tensor \"{}\"", saved.file().string(), name));
    const auto& source = saved.at(name, target.sizes().vec());
    target.copy_(torch::from_blob(const_cast<float*>(source.values.data()), target.sizes(),
                                  torch::kFloat32));
  }
  net->eval();
  return net;
}

// One front end in the project: the runtime's (infer/efficientat.h), clip by clip.
torch::Tensor efficientat_log_mels(const torch::Tensor& audio) {
  const auto clips = audio.to(torch::kCPU, torch::kFloat32).contiguous();
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < clips.size(0); ++i) {
    auto mel = efficientat_log_mel(clips[i].data_ptr<float>(), static_cast<size_t>(clips.size(1)));
    out.push_back(torch::from_blob(mel.values.data(), {mel.rows, mel.cols}).clone());
  }
  return torch::stack(out);
}

}  // namespace sax
