// The trained CNN as a Scorer (LibTorch-free), opening model folders, finding the current one.
#include "infer/detector.h"

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "infer/cnn.h"
#include "infer/efficientat.h"

namespace sax {

namespace {

namespace fs = std::filesystem;

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

// The CNN scores through the LibTorch-free runtime (infer/cnn.h): the same numbers as the
// LibTorch module in eval mode, without its start-up and per-call overheads.
class CnnScorer : public Scorer {
 public:
  CnnScorer(std::string name, FeatureConfig features, const NetConfig& net, double threshold,
            double step_threshold, const WeightsFile& weights)
      : name_(std::move(name)),
        features_(std::move(features)),
        threshold_(threshold),
        step_threshold_(step_threshold),
        frame_step_(net.frame_step),
        cnn_(cnn_layout(net, features_), weights) {}

  std::string name() const override { return name_; }
  int sample_rate() const override { return features_.sample_rate; }
  size_t window_samples() const override { return features_.window_samples(); }
  double threshold() const override { return threshold_; }
  double step_threshold() const override { return step_threshold_; }

  double step_seconds() const override {
    return cnn_.steps_per_input() > 0
               ? static_cast<double>(frame_step_ * features_.hop()) / features_.sample_rate
               : 0.0;
  }

  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop_samples) override {
    return cnn_.probabilities(sliding_inputs(audio, count, hop_samples));
  }

  std::vector<float> score_sliding_steps(const float* audio, size_t count, size_t hop_samples,
                                         std::vector<float>& steps) override {
    steps.clear();
    return cnn_.probabilities(sliding_inputs(audio, count, hop_samples), 0,
                              cnn_.steps_per_input() > 0 ? &steps : nullptr);
  }

  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    return cnn_.probabilities(log_mel_batch(windows, features_));
  }

 private:
  // The windows starting at 0, hop, 2 hop, ... inside audio[0, count), normalised: one
  // spectrogram for the whole span, window i starting at frame round(i * hop / frame hop).
  std::vector<Spectrogram> sliding_inputs(const float* audio, size_t count,
                                          size_t hop_samples) const {
    const size_t window = window_samples();
    if (count < window || hop_samples == 0) return {};
    const Spectrogram whole = log_mel_raw(audio, count, features_);
    const int frames = features_.frames;
    const size_t n_windows = (count - window) / hop_samples + 1;
    std::vector<Spectrogram> inputs;
    inputs.reserve(n_windows);
    for (size_t i = 0; i < n_windows; ++i) {
      const double start = static_cast<double>(i * hop_samples) / features_.hop();
      const int first = static_cast<int>(
          std::clamp<long long>(std::llround(start), 0, std::max(0, whole.cols - frames)));
      // Normalised over the frames the span has; a span shorter than a window pads with zeros.
      Spectrogram s = columns(whole, first, std::min(frames, whole.cols - first));
      normalise(s, features_);
      inputs.push_back(columns(s, 0, frames));
    }
    return inputs;
  }

  std::string name_;
  FeatureConfig features_;
  double threshold_, step_threshold_;
  int frame_step_;  // input columns per step of a frame head
  CnnRuntime cnn_;
};

}  // namespace

std::unique_ptr<Scorer> cnn_scorer(const fs::path& model_dir, const nlohmann::json& description,
                                   const WeightsFile& weights) {
  const auto threshold = description.at("threshold").get<double>();
  return std::make_unique<CnnScorer>(description.value("name", model_dir.filename().string()),
                                     description.at("features").get<FeatureConfig>(),
                                     net_of_model(description), threshold,
                                     description.value("step_threshold", threshold), weights);
}

std::unique_ptr<Scorer> load_detector(const fs::path& model_dir) {
  const auto j = read_model_description(model_dir);
  const auto where = (model_dir / "model.json").string();
  try {
    const std::string kind = j.value("kind", "cnn");
    if (kind == "efficientat") return efficientat_scorer(model_dir, j);
    if (kind == "cnn" && fs::exists(model_dir / kWeightsFile))
      return cnn_scorer(model_dir, j, WeightsFile::read(model_dir / kWeightsFile));
    throw Error(fmt::format(
        "this saxdetect cannot load a \"{}\" model{}; train a new one with `saxdetect train`", kind,
        kind == "cnn" ? " without model.safetensors" : ""));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: incomplete model description ({})", where, e.what()));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
}

fs::path builtin_calibration_file(const fs::path& models_dir) {
  return models_dir / "builtin.json";
}

double builtin_threshold(const fs::path& models_dir) {
  const auto file = builtin_calibration_file(models_dir);
  std::ifstream in(file);
  if (!in) return kEfficientAtZeroShotThreshold;
  try {
    const double threshold = nlohmann::json::parse(in).at("threshold").get<double>();
    if (!(threshold >= 0 && threshold <= 1)) throw Error("threshold: not in [0, 1]");
    return threshold;
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: {}; run `saxdetect calibrate` again or delete it", file.string(),
                            e.what()));
  }
}

void save_builtin_threshold(const fs::path& models_dir, const nlohmann::json& calibration) {
  const double threshold = calibration.at("threshold").get<double>();
  if (!(threshold >= 0 && threshold <= 1)) throw Error("threshold: not in [0, 1]");
  fs::create_directories(models_dir);
  const std::string text = calibration.dump(2) + "\n";
  write_file_atomically(builtin_calibration_file(models_dir), text.data(), text.size());
}

std::unique_ptr<Scorer> open_home_detector(const fs::path& models_dir) {
  if (!fs::exists(models_dir / "current")) {
    const double threshold = builtin_threshold(models_dir);
    return builtin_efficientat_scorer(threshold, threshold);
  }
  return load_detector(current_model_dir(models_dir));
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
