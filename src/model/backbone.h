#pragma once
// Transfer learning (LibTorch; internal to src/model): YAMNet's body as a backbone, a new binary
// head on its patch embeddings, the features cached for training it, and the Scorer that runs
// the result.
//
// The head pools a window's 1024-d patch embeddings (mean and max, concatenated) into a logit.
// With every layer frozen (BackboneConfig::freeze = 14, the default) the embeddings themselves
// are cached and only the head trains (fast on a CPU); otherwise YAMNet's log-mel is cached and
// the unfrozen top layers train with a lower learning rate.
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "infer/detector.h"
#include "model/kind.h"
#include "model/yamnet_net.h"

namespace sax {

class BackboneNetImpl : public NetworkImpl {
 public:
  BackboneNetImpl(YamnetNet body, const NetConfig& head);

  // Embeddings [B, P, 1024] (precomputed by a frozen body) or YAMNet log-mel [B, frames, 64].
  torch::Tensor forward(const torch::Tensor& input) override;
  // [B, P, 1024] -> logits [B]: pool, then the head.
  torch::Tensor classify(const torch::Tensor& embeddings);
  // [B, P, 1024] -> [B, 2048]: mean and max over the patches.
  static torch::Tensor pool(const torch::Tensor& embeddings);
  torch::Tensor logits(const torch::Tensor& pooled);  // [B, 2048] -> [B]

  YamnetNet& body() { return body_; }

 private:
  YamnetNet body_{nullptr};
  torch::nn::Sequential head_{nullptr};
};
TORCH_MODULE(BackboneNet);

std::unique_ptr<ModelKind> backbone_kind(const TrainConfig& config);

// The Scorer of a model folder whose model.json says "kind": "backbone".
std::unique_ptr<Scorer> load_backbone_scorer(const std::filesystem::path& model_dir,
                                             const nlohmann::json& description);

}  // namespace sax
