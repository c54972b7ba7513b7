#pragma once
// A trained saxophone detector loaded for inference, without LibTorch in the header.
//
//   auto detector = sax::Detector::load(home.models() / "current");
//   std::vector<float> p = detector.probabilities(windows);   // one per window
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model/features.h"

namespace sax {

class Detector {
 public:
  // Loads a saved model (directory written by training). Throws sax::Error naming the path
  // and saying how to get a model when there is none.
  static Detector load(const std::filesystem::path& model_dir);
  // The home's current model (home/models/current), same errors.
  static std::filesystem::path current_model_dir(const std::filesystem::path& models_dir);

  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;
  ~Detector();

  const FeatureConfig& features() const;  // sample rate and window length to feed it
  double threshold() const;               // decision threshold chosen on validation data
  std::string name() const;

  // Windows of features().window_samples() mono samples -> probability of saxophone each.
  // Batched internally; runs on the device chosen at load time (CUDA when available).
  std::vector<float> probabilities(const std::vector<std::vector<float>>& windows);

 private:
  struct Impl;
  explicit Detector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sax
