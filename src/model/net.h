#pragma once
// The CNN (LibTorch). Internal to src/model: other modules use train.h and detector.h.
#include <filesystem>

#include <fmt/format.h>
#include <torch/torch.h>

#include "common/error.h"

#include "model/train.h"

namespace sax {

// Any network the trainer trains: a prepared input batch -> one logit per item [B]. The CNN and
// the backbone-with-head (backbone.h) are the two kinds.
class NetworkImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;
};
using Network = std::shared_ptr<NetworkImpl>;

// conv blocks -> flatten -> [dropout -> linear -> ReLU] -> dropout -> linear -> one logit.
// Input [B, 1, rows, cols]; output logits [B].
class CnnImpl : public NetworkImpl {
 public:
  CnnImpl(const NetConfig& config, int rows, int cols);
  torch::Tensor forward(const torch::Tensor& input) override;
  int64_t fc_inputs() const { return fc_inputs_; }
  // The conv blocks' output, flattened: [B, fc_inputs()] (what contrastive pretraining shapes).
  torch::Tensor embed(const torch::Tensor& input) { return features_->forward(input).flatten(1); }

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential head_{nullptr};
  int64_t fc_inputs_ = 0;
};
TORCH_MODULE(Cnn);

// The fully connected head shared by both kinds: [dropout -> linear -> ReLU] -> dropout ->
// linear -> one logit, from `inputs` features (config.hidden 0: no hidden layer).
torch::nn::Sequential logit_head(const NetConfig& config, int64_t inputs);

// Kaiming-normal (fan-in, ReLU gain) weights and zero biases for every conv and linear layer.
void kaiming_init(torch::nn::Module& module);

// torch::load of a model file; throws sax::Error naming the file when it cannot be read.
template <typename Net>
void load_weights(Net& net, const std::filesystem::path& file) {
  try {
    torch::load(net, file.string());
  } catch (const c10::Error& e) {
    throw Error(
        fmt::format("{}: cannot load the weights ({})", file.string(), e.what_without_backtrace()));
  }
}

// CUDA when this LibTorch build and a GPU are present, else the CPU.
torch::Device preferred_device();

}  // namespace sax
