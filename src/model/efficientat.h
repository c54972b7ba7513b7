#pragma once
// The "efficientat" training kind (LibTorch; internal to src/model): EfficientAT's mn04_as with
// its AudioSet Saxophone output kept and a new correction on top,
//
//   logit = classifier.5.weight[197] . h + classifier.5.bias[197] + head.weight . h + head.bias
//
// where h = hardswish(classifier.2(pooled features)) is the classifier's 512-d hidden vector and
// `head` a Linear(512 -> 1) that starts at zero: before training the model is the zero-shot
// Saxophone detector exactly, and weight decay pulls the correction back towards it. With the body
// frozen (TrainConfig::unfreeze 0, the default) h itself is cached and only the head trains;
// otherwise EfficientAT's log-mel is cached and the last `unfreeze` feature blocks and
// classifier.2 train at a tenth of the learning rate.
//
// A saved model folder holds model.json ("kind": "efficientat") and model.safetensors with
// head.weight, head.bias and the body tensors that were trained, under their state_dict names;
// every other tensor is the built-in model's (infer/builtin_model.h).
#include <filesystem>
#include <memory>

#include "infer/weights.h"
#include "model/efficientat_net.h"
#include "model/kind.h"

namespace sax {

class EfficientatSaxNetImpl : public NetworkImpl {
 public:
  // The released network (`weights`) with a zero head; the last `unfreeze` feature blocks and
  // classifier.2 (when unfreeze > 0) require gradients, nothing else does.
  EfficientatSaxNetImpl(const WeightsFile& weights, int unfreeze);

  // Cached h [B, 512] (frozen body) or EfficientAT log-mel [B, 128, frames] -> logits [B].
  torch::Tensor forward(const torch::Tensor& input) override;
  torch::Tensor logits_of_hidden(const torch::Tensor& hidden);
  // Batch norm keeps the released statistics: the body stays in eval mode whatever `on` is.
  void train(bool on = true) override;

  EfficientatNet& body() { return body_; }
  int unfreeze() const { return unfreeze_; }
  // The tensors a saved model folder holds: the head's and those of the trained blocks.
  WeightsFile trained_weights();

 private:
  bool trained_name(const std::string& name) const;

  EfficientatNet body_;
  torch::nn::Linear head_{nullptr};
  int unfreeze_;
};
TORCH_MODULE(EfficientatSaxNet);

std::unique_ptr<ModelKind> efficientat_kind(const TrainConfig& config);

// The EfficientAT weights the kind starts from: the built-in mn04_as.
const WeightsFile& efficientat_weights();

// A saved "efficientat" model folder as a network (the built-in weights overlaid with its
// model.safetensors), in eval mode. Throws sax::Error naming the file.
EfficientatSaxNet read_efficientat_model(const std::filesystem::path& model_dir);

// EfficientAT's log-mel (infer/efficientat.h) of audio [B, samples] at 32 kHz -> [B, 128, frames].
torch::Tensor efficientat_log_mels(const torch::Tensor& audio);

}  // namespace sax
