#pragma once
// Anything that scores audio windows for saxophone: the built-in EfficientAT detector, a trained
// model, or a fake in tests; and opening model folders. LibTorch-free: the CNN runs through
// infer/cnn.h, EfficientAT through infer/efficientat.h.
//
//   auto scorer = sax::load_detector(sax::current_model_dir(home.models()));
//   auto p = scorer->score_sliding(audio.data(), audio.size(), scorer->sample_rate() * 1);
//
// Model directory layout (written by `saxdetect train`, read by predict and the web app):
//   home/models/<name>/model.safetensors  weights (infer/weights.h)
//   home/models/<name>/model.json      architecture, FeatureConfig, threshold, metrics, history
//   home/models/<name>/training.svg    loss and accuracy per epoch
//   home/models/<name>/roc.svg         ROC curve on the test set
//   home/models/current                text file holding the name of the current model folder
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "infer/weights.h"

namespace sax {

class Scorer {
 public:
  virtual ~Scorer() = default;

  virtual std::string name() const = 0;
  virtual int sample_rate() const = 0;        // audio must be mono at this rate
  virtual size_t window_samples() const = 0;  // one decision covers this many samples
  virtual double threshold() const = 0;       // probability at or above which we say "sax"

  // Probability of saxophone for the windows starting at 0, hop, 2*hop, ... that lie fully
  // inside audio[0, count). Implementations compute the spectrogram once for the whole span
  // and batch the windows, which is far faster than scoring windows one by one.
  virtual std::vector<float> score_sliding(const float* audio, size_t count,
                                           size_t hop_samples) = 0;

  // Frame models also place the saxophone inside each window: step_seconds() > 0, and this
  // call fills `steps` with every window's probabilities per step of step_seconds(), window
  // after window (the first step starts with its window). Window models leave `steps` empty.
  virtual double step_seconds() const { return 0; }
  // The probability at or above which a step is sax: chosen on validation steps when training
  // knew where the saxophone sounds (model.json "step_threshold"), else threshold().
  virtual double step_threshold() const { return threshold(); }
  virtual std::vector<float> score_sliding_steps(const float* audio, size_t count,
                                                 size_t hop_samples, std::vector<float>& steps) {
    steps.clear();
    return score_sliding(audio, count, hop_samples);
  }

  // One probability per window (each window_samples() long; shorter ones are zero-padded).
  virtual std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) = 0;
};

// model_dir/model.json parsed. Throws sax::Error naming it; when it is missing, the message says
// how to get a model.
nlohmann::json read_model_description(const std::filesystem::path& model_dir);

// Loads a model folder written by training: a CNN (model.safetensors) or an EfficientAT head
// ("kind": "efficientat", infer/efficientat.h). Throws sax::Error naming the path; when there is
// no model, or it is a kind this version no longer runs (a YAMNet backbone, a CNN saved as
// model.pt), the message says how to get one.
std::unique_ptr<Scorer> load_detector(const std::filesystem::path& model_dir);

// The CNN described by a model.json (features, net, threshold, step_threshold when present,
// name) with these weights.
std::unique_ptr<Scorer> cnn_scorer(const std::filesystem::path& model_dir,
                                   const nlohmann::json& description, const WeightsFile& weights);

// The detector a data home uses: its current trained model, else the built-in EfficientAT
// detector zero-shot (with the threshold `saxdetect calibrate` chose, when it ran). Throws
// sax::Error when the current model cannot be loaded.
std::unique_ptr<Scorer> open_home_detector(const std::filesystem::path& models_dir);

// The built-in detector's threshold in a home (infer/efficientat.h: builtin_efficientat_scorer):
// what `saxdetect calibrate` chose on the home's labels, stored in builtin_calibration_file(),
// else kEfficientAtZeroShotThreshold. Throws sax::Error naming a broken file.
double builtin_threshold(const std::filesystem::path& models_dir);
std::filesystem::path builtin_calibration_file(const std::filesystem::path& models_dir);
// Writes the calibration (an object with "threshold" in [0, 1]) atomically.
void save_builtin_threshold(const std::filesystem::path& models_dir,
                            const nlohmann::json& calibration);

// home/models/current resolved to the model folder it names (throws sax::Error if none).
std::filesystem::path current_model_dir(const std::filesystem::path& models_dir);

}  // namespace sax
