#pragma once
// The CNN (LibTorch). Internal to src/model: other modules use train.h and detector.h.
#include <torch/torch.h>

#include "model/train.h"

namespace sax {

// conv blocks -> flatten -> [dropout -> linear -> ReLU] -> dropout -> linear -> one logit.
// Input [B, 1, rows, cols]; output logits [B].
class CnnImpl : public torch::nn::Module {
 public:
  CnnImpl(const NetConfig& config, int rows, int cols);
  torch::Tensor forward(const torch::Tensor& input);
  int64_t fc_inputs() const { return fc_inputs_; }

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential head_{nullptr};
  int64_t fc_inputs_ = 0;
};
TORCH_MODULE(Cnn);

// Kaiming-normal (fan-in, ReLU gain) weights and zero biases for every conv and linear layer.
void kaiming_init(torch::nn::Module& module);

// CUDA when this LibTorch build and a GPU are present, else the CPU.
torch::Device preferred_device();

}  // namespace sax
