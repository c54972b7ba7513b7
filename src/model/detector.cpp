// The trained CNN as a Scorer, and finding the current model.
#include "model/detector.h"

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/backbone.h"
#include "model/mel.h"
#include "model/net.h"

namespace sax {

namespace {

namespace fs = std::filesystem;

// Windows go through the network this many at a time (bounded memory on long songs).
constexpr int64_t kScoreBatch = 64;

const char* kHowToGetAModel = "train one with `saxdetect train` (or run `saxdetect demo`)";

}  // namespace

nlohmann::json read_model_description(const fs::path& model_dir) {
  const auto path = model_dir / "model.json";
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: no model here; {}", path.string(), kHowToGetAModel));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not a valid model description ({})", path.string(), e.what()));
  }
}

namespace {

class CnnScorer : public Scorer {
 public:
  CnnScorer(std::string name, FeatureConfig features, const NetConfig& net, double threshold,
            const fs::path& weights)
      : name_(std::move(name)),
        features_(std::move(features)),
        threshold_(threshold),
        device_(preferred_device()),
        net_(net, features_.n_mels, features_.frames) {
    load_weights(net_, weights);
    net_->to(device_);
    net_->eval();
  }

  std::string name() const override { return name_; }
  int sample_rate() const override { return features_.sample_rate; }
  size_t window_samples() const override { return features_.window_samples(); }
  double threshold() const override { return threshold_; }

  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop_samples) override {
    const size_t window = window_samples();
    if (count < window || hop_samples == 0) return {};
    torch::NoGradGuard no_grad;
    const auto signal = torch::from_blob(const_cast<float*>(audio),
                                         {1, static_cast<int64_t>(count)}, torch::kFloat32)
                            .to(device_);
    // One spectrogram for the whole span; window i starts at frame round(i * hop / frame hop).
    const auto whole = mel::log_mel_raw(signal, features_)[0];  // [n_mels, T]
    const int64_t total_frames = whole.size(1), frames = features_.frames;
    const size_t n_windows = (count - window) / hop_samples + 1;
    std::vector<float> out;
    out.reserve(n_windows);
    std::vector<torch::Tensor> batch;
    for (size_t i = 0; i < n_windows; ++i) {
      const double start = static_cast<double>(i * hop_samples) / features_.hop();
      const int64_t first =
          std::clamp<int64_t>(std::llround(start), 0, std::max<int64_t>(0, total_frames - frames));
      batch.push_back(whole.narrow(1, first, std::min(frames, total_frames - first)));
      if (static_cast<int64_t>(batch.size()) == kScoreBatch || i + 1 == n_windows) {
        append(out, torch::stack(batch));
        batch.clear();
      }
    }
    return out;
  }

  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    torch::NoGradGuard no_grad;
    std::vector<float> out;
    out.reserve(windows.size());
    const auto length = static_cast<int64_t>(window_samples());
    for (size_t first = 0; first < windows.size(); first += kScoreBatch) {
      const size_t n = std::min<size_t>(kScoreBatch, windows.size() - first);
      auto audio = torch::zeros({static_cast<int64_t>(n), length});
      for (size_t i = 0; i < n; ++i) {
        const auto& w = windows[first + i];
        std::copy_n(w.data(), std::min<size_t>(w.size(), length),
                    audio[static_cast<int64_t>(i)].data_ptr<float>());
      }
      append(out, mel::log_mel_windows(audio.to(device_), features_));
    }
    return out;
  }

 private:
  // Normalises raw log-mel windows [B, n_mels, frames], runs the net, appends probabilities.
  void append(std::vector<float>& out, const torch::Tensor& raw) {
    auto input = mel::normalise(raw, features_);
    if (input.size(2) < features_.frames)  // a span shorter than one window's frames
      input = torch::constant_pad_nd(input, {0, features_.frames - input.size(2)}, 0.0);
    const auto p = torch::sigmoid(net_->forward(input.unsqueeze(1))).to(torch::kCPU).contiguous();
    out.insert(out.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }

  std::string name_;
  FeatureConfig features_;
  double threshold_;
  torch::Device device_;
  Cnn net_;
};

}  // namespace

std::unique_ptr<Scorer> load_detector(const fs::path& model_dir) {
  const auto j = read_model_description(model_dir);
  const auto where = (model_dir / "model.json").string();
  try {
    if (j.value("kind", "cnn") == "backbone") return load_backbone_scorer(model_dir, j);
    const auto features = j.at("features").get<FeatureConfig>();
    const auto net = j.at("net").get<NetConfig>();
    const double threshold = j.at("threshold").get<double>();
    const std::string name = j.value("name", model_dir.filename().string());
    return std::make_unique<CnnScorer>(name, features, net, threshold, model_dir / "model.pt");
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: incomplete model description ({})", where, e.what()));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
}

fs::path current_model_dir(const fs::path& models_dir) {
  const auto pointer = models_dir / "current";
  std::ifstream in(pointer);
  std::string name;
  if (!in || !std::getline(in, name) || name.empty())
    throw Error(fmt::format("{}: no current model; {}", pointer.string(), kHowToGetAModel));
  const auto dir = models_dir / name;
  if (name.find('/') != std::string::npos || name == ".." || !fs::is_directory(dir))
    throw Error(fmt::format("{}: names \"{}\", which is not a model folder in {}", pointer.string(),
                            name, models_dir.string()));
  return dir;
}

}  // namespace sax
