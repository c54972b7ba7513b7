#pragma once
// The training loop shared by train_model, train_arrays and cross-validation (LibTorch;
// internal to src/model).
#include <functional>
#include <string>

#include <torch/torch.h>

#include "model/kind.h"
#include "model/net.h"
#include "model/train.h"

namespace sax {

// Where a run's training data comes from: raw features [n, ...] as the kind's extractor makes
// them (for the CNN, log-mel [n, rows, cols], not normalised).
class FeatureSource {
 public:
  virtual ~FeatureSource() = default;
  virtual torch::Tensor get(const std::vector<size_t>& indices) const = 0;
};

class TensorSource : public FeatureSource {
 public:
  explicit TensorSource(torch::Tensor all) : all_(std::move(all)) {}
  torch::Tensor get(const std::vector<size_t>& indices) const override;

 private:
  torch::Tensor all_;
};

// The kind TrainConfig::kind names: efficientat.h's or the CNN.
std::unique_ptr<ModelKind> model_kind(const TrainConfig& config);

struct TrainedModel {
  TrainResult result;
  Network net;  // the best checkpoint, in eval mode
};

// Trains with desert restarts, keeps the best checkpoint, chooses the threshold on validation
// data and measures the test set. `frames` (empty, or one entry per item, empty where unknown)
// teaches the time steps too. Writes the model folder when model_dir is not empty.
TrainedModel train_core(const FeatureSource& data, const std::vector<int>& labels,
                        const FrameTargets& frames, const Split& split, const TrainConfig& config,
                        const std::filesystem::path& model_dir, const TrainOptions& options);

// An ArrayDataset's spectrograms as one tensor [n, n_mels, frames]; throws on a wrong shape.
torch::Tensor stack_spectrograms(const ArrayDataset& data, const FeatureConfig& features);

// Sax probabilities for the given samples (eval mode, batched).
std::vector<float> predict(const Network& net, const ModelKind& kind, const FeatureSource& data,
                           const std::vector<size_t>& indices);

}  // namespace sax
