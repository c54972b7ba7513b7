#pragma once
// What differs between the kinds of model the trainer trains (LibTorch; internal to src/model):
// EfficientAT with a correction to its Saxophone output (efficientat.h, the default) or the CNN
// from scratch. Each kind says
// which features are cached, builds its network, prepares and augments batches, and gives each
// parameter group its learning rate. The training loop (trainer.cpp) is the same for all.
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "model/dataset.h"
#include "model/net.h"
#include "model/train.h"

namespace sax {

// What a batch is trained towards: window labels [B] and, where the sax times of the source are
// known (Store::sax_times), every spectrogram column's sax share [B, cols], with `known` [B]
// 1 for those items and 0 for the rest. `frames` and `known` are undefined when no item has them.
struct Targets {
  torch::Tensor windows, frames, known;
  bool has_frames() const { return frames.defined(); }
};

struct ParameterGroup {
  std::vector<torch::Tensor> parameters;
  double lr_scale = 1;  // of TrainConfig::lr
};

class ModelKind {
 public:
  virtual ~ModelKind() = default;

  virtual std::string name() const = 0;  // model.json "kind"
  virtual std::unique_ptr<FeatureExtractor> extractor() const = 0;
  // A fresh network, initialised from torch's current seed (and the pretrained weights).
  virtual Network create() const = 0;
  // Cached raw features [B, ...] -> the network's input, for evaluation.
  virtual torch::Tensor prepare(const torch::Tensor& raw) const = 0;
  // The same for training, with augmentation; returns the input and its targets (mixed and
  // shifted in time with it).
  virtual std::pair<torch::Tensor, Targets> augment(torch::Tensor raw, Targets targets,
                                                    std::mt19937_64& rng) const = 0;
  virtual std::vector<ParameterGroup> parameter_groups(const Network& net) const = 0;
  // True when create() is a working detector before any training (a pretrained classifier's own
  // output): the trainer measures it on the validation samples and flags a trained model that
  // ends below it.
  virtual bool starts_zero_shot() const { return false; }
  // Writes the model folder's weights file (default: every parameter and buffer).
  virtual void save(const Network& net, const std::filesystem::path& file) const;
  // Adds what a loader needs beyond the common fields to model.json.
  virtual void describe(nlohmann::json& /*model*/) const {}
};

// The CNN whatever TrainConfig::kind says (spectrograms in memory).
std::unique_ptr<ModelKind> cnn_kind(const TrainConfig& config);

// Mixup of a batch with a shuffled copy of itself (Beta(alpha, alpha) weight); shared by kinds.
// Column targets stay known where both mixed items have them.
std::pair<torch::Tensor, Targets> mixup(torch::Tensor x, Targets y, double alpha,
                                        std::mt19937_64& rng);

}  // namespace sax
