#pragma once
// The CNN (LibTorch). Internal to src/model: other modules use train.h and detector.h.
#include <filesystem>

#include <fmt/format.h>
#include <torch/torch.h>

#include "common/error.h"

#include "infer/cnn.h"
#include "infer/weights.h"
#include "model/train.h"

namespace sax {

// Any network the trainer trains: a prepared input batch -> one logit per item [B]. The CNN and
// EfficientAT with its head (efficientat.h) are the two kinds.
class NetworkImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;
  // The window logits and, for a network that scores time steps, each step's logit [B, steps]
  // (undefined otherwise): training teaches the steps where the sax times are known.
  struct Scores {
    torch::Tensor logits, step_logits;
  };
  virtual Scores forward_steps(const torch::Tensor& input) { return {forward(input), {}}; }
};
using Network = std::shared_ptr<NetworkImpl>;

// Window head: conv blocks -> flatten -> [dropout -> linear -> ReLU] -> dropout -> linear ->
// one logit. Frame head (NetConfig::head): conv blocks -> mean over frequency -> [bidirectional
// GRU over the steps] -> the same head on every time step -> step probabilities ->
// linear-softmax pooling -> one logit.
// Input [B, 1, rows, cols]; output logits [B].
class CnnImpl : public NetworkImpl {
 public:
  CnnImpl(const NetConfig& config, int rows, int cols);
  torch::Tensor forward(const torch::Tensor& input) override;
  Scores forward_steps(const torch::Tensor& input) override;
  // Frame head only: probability per time step [B, steps], each step NetConfig::frame_step input
  // columns.
  torch::Tensor step_probabilities(const torch::Tensor& input);
  // The window logits [B] of step probabilities [B, steps] (linear softmax).
  static torch::Tensor pool_steps(const torch::Tensor& steps);
  bool has_frame_head() const { return frame_head_; }
  int64_t fc_inputs() const { return fc_inputs_; }

 private:
  torch::Tensor step_logits(const torch::Tensor& input);

  torch::nn::Sequential features_{nullptr};
  torch::nn::GRU gru_{nullptr};  // frame head with NetConfig::gru > 0 only
  torch::nn::Sequential head_{nullptr};
  int64_t fc_inputs_ = 0;
  bool frame_head_ = false;
};
TORCH_MODULE(Cnn);

// The fully connected head shared by both kinds: [dropout -> linear -> ReLU] -> dropout ->
// linear -> one logit, from `inputs` features (config.hidden 0: no hidden layer).
torch::nn::Sequential logit_head(const NetConfig& config, int64_t inputs);

// Kaiming-normal (fan-in, ReLU gain) weights and zero biases for every conv and linear layer.
void kaiming_init(torch::nn::Module& module);

// A module's parameters and buffers by their LibTorch names, as float32 on the CPU (integer
// buffers such as batch norm's num_batches_tracked are exact in float32 below 2^24).
WeightsFile weights_of(torch::nn::Module& module);
// save_weights writes weights_of(module) as safetensors; load_weights reads such a file into the
// module. Every parameter and buffer must be in the file with its shape and nothing else may
// be: otherwise sax::Error names the file and the tensor.
void save_weights(torch::nn::Module& module, const std::filesystem::path& file);
void load_weights(torch::nn::Module& module, const std::filesystem::path& file);

// CUDA when this LibTorch build and a GPU are present, else the CPU.
torch::Device preferred_device();

}  // namespace sax
