#pragma once
// EfficientAT's mn04_as (MobileNetV3, width 0.4, trained on AudioSet) in LibTorch (internal to
// src/model): the body of the "efficientat" training kind (efficientat.h). Parameter and buffer
// names are those of the PyTorch state_dict (features.0.0.weight,
// features.4.block.2.conc_se_layers.0.fc1.weight, classifier.2.weight, ...), so a WeightsFile of
// the released checkpoint loads into it as it is and a trained model's tensors keep their names.
//
// Input: EfficientAT's log-mel [B, 128, frames] (32 kHz, infer/efficientat.h). Batch norm always
// uses the released running statistics (eps 1e-3): fine-tuning on a few hundred clips must not
// move them.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "infer/weights.h"

namespace sax {

namespace efficientat {
constexpr int64_t kBands = 128;
constexpr int64_t kFeatureChannels = 384;  // features.16's output: the pooled embedding
constexpr int64_t kHidden = 512;           // classifier.2's output: what the head reads
constexpr int64_t kClasses = 527;
constexpr int kFeatureBlocks = 17;  // features.0 .. features.16
}  // namespace efficientat

// One bneck block of MobileNetV3 (features.1 .. features.15): [1x1 expansion] -> depthwise ->
// [squeeze-and-excitation] -> 1x1 projection, with a residual when the shape is kept.
struct EfficientatBlockSpec {
  int64_t in, expanded, out, kernel, stride;
  bool hardswish;       // else ReLU
  int64_t squeeze = 0;  // SE's hidden width; 0: no SE
};

class EfficientatNetImpl : public torch::nn::Module {
 public:
  // The architecture with default-initialised tensors; load() fills them.
  EfficientatNetImpl();

  // Copies every parameter and running statistic from `weights` (num_batches_tracked is not
  // needed); throws sax::Error naming the file and the tensor when one is missing or mis-shaped.
  void load(const WeightsFile& weights);

  // Log-mel [B, 128, T] -> features.16's output [B, 384, F', T'].
  torch::Tensor feature_map(torch::Tensor log_mel);
  // The blocks from features.`first` on, applied to a map entering that block.
  torch::Tensor feature_map_from(int first, torch::Tensor x);
  torch::Tensor embedding(const torch::Tensor& log_mel);    // [B, 384]: mean over F' and T'
  torch::Tensor hidden_of(const torch::Tensor& embedding);  // h = hardswish(classifier.2(e))
  torch::Tensor hidden(const torch::Tensor& log_mel) { return hidden_of(embedding(log_mel)); }
  torch::Tensor classify(const torch::Tensor& hidden);  // classifier.5: [B, 512] -> [B, 527]
  torch::Tensor forward(const torch::Tensor& log_mel) { return classify(hidden(log_mel)); }
  // Per time step: features.16's output averaged over frequency, [B, T', 384].
  torch::Tensor step_embeddings(const torch::Tensor& log_mel);

  // The modules of features.i (0..16), for freezing all but the last blocks.
  torch::nn::Module& feature_block(int i) { return *blocks_.at(static_cast<size_t>(i)); }
  torch::nn::Linear& classifier2() { return hidden_layer_; }
  torch::nn::Linear& classifier5() { return output_layer_; }

  static const std::vector<EfficientatBlockSpec>& block_specs();

 private:
  torch::Tensor block_forward(size_t i, torch::Tensor x);

  std::vector<std::shared_ptr<torch::nn::Module>> blocks_;  // features.0 .. features.16
  torch::nn::Linear hidden_layer_{nullptr}, output_layer_{nullptr};
};
TORCH_MODULE(EfficientatNet);

// EfficientatNet with `weights` loaded, in eval mode.
EfficientatNet efficientat_net(const WeightsFile& weights);

}  // namespace sax
