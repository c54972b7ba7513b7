// YAMNet as a backbone: the network with a new head, its cached features, its training kind and
// its Scorer.
#include "model/backbone.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "common/hash.h"

namespace sax {

namespace {

namespace fs = std::filesystem;
using namespace yamnet;

// Windows through score_windows at once.
constexpr size_t kWindowBatch = 16;

int64_t window_samples_of(double seconds) {
  return static_cast<int64_t>(std::llround(seconds * kYamnetSampleRate));
}

// Features computed by the pretrained body from 16 kHz audio: its log-mel (when some layers
// train) or its patch embeddings (when all are frozen).
class YamnetExtractor : public FeatureExtractor {
 public:
  YamnetExtractor(const fs::path& file, double seconds, bool embeddings)
      : body_(read_yamnet(file)),
        file_hash_(sha256_file(file).substr(0, 12)),
        window_(window_samples_of(seconds)),
        embeddings_(embeddings) {
    body_->eval();
  }

  std::string key() const override {
    return fmt::format("yamnet-{}-{}-{}", embeddings_ ? "embeddings" : "logmel", file_hash_,
                       window_);
  }
  nlohmann::json describe() const override {
    return {{"backbone_sha256_prefix", file_hash_},
            {"sample_rate", kYamnetSampleRate},
            {"window_samples", window_},
            {"features", embeddings_ ? "patch embeddings" : "log-mel"}};
  }
  int sample_rate() const override { return kYamnetSampleRate; }
  size_t window_samples() const override { return static_cast<size_t>(window_); }
  std::vector<int64_t> shape() const override {
    const int64_t frames = frames_of(window_);
    if (embeddings_) return {patches_of(frames), kYamnetEmbedding};
    return {frames, kBands};
  }
  torch::Tensor compute(const torch::Tensor& audio) override {
    torch::NoGradGuard no_grad;
    const auto log_mel = body_->log_mel(audio);
    if (!embeddings_) return log_mel;
    return body_->embed_patches(log_mel);
  }

 private:
  YamnetNet body_;
  std::string file_hash_;
  int64_t window_;
  bool embeddings_;
};

class BackboneKind : public ModelKind {
 public:
  explicit BackboneKind(TrainConfig config) : config_(std::move(config)) {
    if (!fs::exists(config_.backbone.file))
      throw Error(fmt::format(
          "{}: no backbone model; create it with `saxdetect backbone import yamnet.tflite`",
          config_.backbone.file));
  }

  std::string name() const override { return "backbone"; }
  std::unique_ptr<FeatureExtractor> extractor() const override {
    return std::make_unique<YamnetExtractor>(config_.backbone.file, config_.features.seconds,
                                             all_frozen());
  }
  Network create() const override {
    BackboneNet net(read_yamnet(config_.backbone.file), config_.net);
    auto& convs = net->body()->convs();
    const size_t frozen = YamnetNetImpl::convs_in_layers(config_.backbone.freeze);
    for (size_t i = 0; i < convs.size(); ++i)
      for (auto& p : convs[i]->parameters()) p.requires_grad_(i >= frozen);
    for (auto& p : net->body()->dense()->parameters()) p.requires_grad_(false);  // unused
    return net.ptr();
  }
  torch::Tensor prepare(const torch::Tensor& raw) const override { return raw; }
  std::pair<torch::Tensor, Targets> augment(torch::Tensor raw, Targets targets,
                                            std::mt19937_64& rng) const override {
    if (!config_.augment.enabled) return {raw, targets};
    return mixup(raw, targets, config_.augment.mixup_alpha, rng);
  }
  std::vector<ParameterGroup> parameter_groups(const Network& net) const override {
    ParameterGroup head{{}, 1.0}, body{{}, config_.backbone.lr_scale};
    for (const auto& item : net->named_parameters()) {
      if (!item.value().requires_grad()) continue;
      (item.key().rfind("body.", 0) == 0 ? body : head).parameters.push_back(item.value());
    }
    std::vector<ParameterGroup> groups{head};
    if (!body.parameters.empty()) groups.push_back(body);
    return groups;
  }

 private:
  bool all_frozen() const { return config_.backbone.freeze >= kYamnetLayers; }

  TrainConfig config_;
};

class BackboneScorer : public Scorer {
 public:
  BackboneScorer(std::string name, const NetConfig& head, double seconds, double threshold,
                 const fs::path& model_dir)
      : name_(std::move(name)),
        window_(window_samples_of(seconds)),
        threshold_(threshold),
        device_(preferred_device()),
        net_(YamnetNet(), head) {
    load_model_weights(net_, model_dir);
    net_->to(device_);
    net_->eval();
  }

  std::string name() const override { return name_; }
  int sample_rate() const override { return kYamnetSampleRate; }
  size_t window_samples() const override { return static_cast<size_t>(window_); }
  double threshold() const override { return threshold_; }

  // The span's patches are embedded once; each window pools those inside it (yamnet_net.h).
  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop_samples) override {
    const auto window = static_cast<size_t>(window_);
    if (count < window || hop_samples == 0) return {};
    torch::NoGradGuard no_grad;
    const auto signal =
        torch::from_blob(const_cast<float*>(audio), {static_cast<int64_t>(count)}, torch::kFloat32)
            .to(device_);
    const auto embeddings = net_->body()->embed_span(signal);  // [P, 1024]
    std::vector<torch::Tensor> pooled;
    for (size_t start = 0; start + window <= count; start += hop_samples) {
      const auto [first, last] = patches_in_window(start, window_, embeddings.size(0));
      pooled.push_back(
          BackboneNetImpl::pool(embeddings.narrow(0, first, last - first + 1).unsqueeze(0)));
    }
    return probabilities(net_->logits(torch::cat(pooled)));
  }

  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    torch::NoGradGuard no_grad;
    std::vector<float> out;
    for (size_t first = 0; first < windows.size(); first += kWindowBatch) {
      const size_t n = std::min(kWindowBatch, windows.size() - first);
      auto audio = torch::zeros({static_cast<int64_t>(n), window_});
      for (size_t i = 0; i < n; ++i) {
        const auto& w = windows[first + i];
        std::copy_n(w.data(), std::min<size_t>(w.size(), window_),
                    audio[static_cast<int64_t>(i)].data_ptr<float>());
      }
      const auto p = probabilities(net_->forward(net_->body()->log_mel(audio.to(device_))));
      out.insert(out.end(), p.begin(), p.end());
    }
    return out;
  }

 private:
  static std::vector<float> probabilities(const torch::Tensor& logits) {
    const auto p = torch::sigmoid(logits).to(torch::kCPU).contiguous();
    return {p.data_ptr<float>(), p.data_ptr<float>() + p.numel()};
  }

  std::string name_;
  int64_t window_;
  double threshold_;
  torch::Device device_;
  BackboneNet net_;
};

}  // namespace

BackboneNetImpl::BackboneNetImpl(YamnetNet body, const NetConfig& head)
    : body_(register_module("body", std::move(body))),
      head_(register_module("head", logit_head(head, 2 * kYamnetEmbedding))) {
  kaiming_init(*head_);
}

torch::Tensor BackboneNetImpl::forward(const torch::Tensor& input) {
  return classify(input.size(-1) == kYamnetEmbedding ? input : body_->embed_patches(input));
}

torch::Tensor BackboneNetImpl::pool(const torch::Tensor& embeddings) {
  return torch::cat({embeddings.mean(1), std::get<0>(embeddings.max(1))}, 1);
}

torch::Tensor BackboneNetImpl::logits(const torch::Tensor& pooled) {
  return head_->forward(pooled).squeeze(1);
}

torch::Tensor BackboneNetImpl::classify(const torch::Tensor& embeddings) {
  return logits(pool(embeddings));
}

std::unique_ptr<ModelKind> backbone_kind(const TrainConfig& config) {
  return std::make_unique<BackboneKind>(config);
}

std::unique_ptr<Scorer> load_backbone_scorer(const fs::path& model_dir,
                                             const nlohmann::json& description) {
  const auto net = net_of_model(description);
  const auto features = description.at("features").get<FeatureConfig>();
  const double threshold = description.at("threshold").get<double>();
  const std::string name = description.value("name", model_dir.filename().string());
  return std::make_unique<BackboneScorer>(name, net, features.seconds, threshold, model_dir);
}

}  // namespace sax
