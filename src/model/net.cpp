#include "model/net.h"

#include <map>

#include <fmt/format.h>

#include "common/error.h"

namespace sax {

namespace {

torch::nn::Sequential conv_blocks(const NetConfig& config) {
  torch::nn::Sequential blocks;
  int in_channels = 1;
  for (int b = 0; b < config.depth; ++b) {
    const int out = config.channels_of(b), k = config.kernel_of(b);
    blocks->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in_channels, out, k).padding(k / 2).bias(!config.batch_norm)));
    if (config.batch_norm) blocks->push_back(torch::nn::BatchNorm2d(out));
    blocks->push_back(torch::nn::ReLU());
    const std::vector<int64_t> pool{2, config.pools_time(b) ? 2 : 1};
    if (config.pool == "avg")
      blocks->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(pool)));
    else
      blocks->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(pool)));
    in_channels = out;
  }
  return blocks;
}

// The input size the head needs, found by running a zero input through the conv blocks (so any
// depth, kernel or resolution works without arithmetic by hand): the flattened output for the
// window head, the channels of one time step for the frame head.
int64_t dry_run_size(torch::nn::Sequential& blocks, const NetConfig& config, int rows, int cols) {
  torch::NoGradGuard no_grad;
  blocks->eval();  // leave batch-norm running statistics untouched
  int64_t size = 0;
  try {
    const auto out = blocks->forward(torch::zeros({1, 1, rows, cols}));
    size = config.head == "frames" ? out.size(1) * (out.numel() > 0) : out.numel();
  } catch (const c10::Error&) {
    size = 0;
  }
  blocks->train();
  if (size == 0)
    throw Error(
        fmt::format("net config: {} conv blocks are too deep for a {}x{} spectrogram "
                    "(each block halves it); use fewer blocks or more mel bands/frames",
                    config.depth, rows, cols));
  return size;
}

}  // namespace

CnnImpl::CnnImpl(const NetConfig& config, int rows, int cols)
    : frame_head_(config.head == "frames") {
  require_settled(config);
  features_ = register_module("features", conv_blocks(config));
  fc_inputs_ = dry_run_size(features_, config, rows, cols);
  if (config.gru > 0)
    gru_ = register_module(
        "gru",
        torch::nn::GRU(
            torch::nn::GRUOptions(fc_inputs_, config.gru).batch_first(true).bidirectional(true)));
  head_ = register_module("head", logit_head(config, gru_ ? 2 * config.gru : fc_inputs_));
}

torch::nn::Sequential logit_head(const NetConfig& config, int64_t inputs) {
  torch::nn::Sequential head;
  int64_t width = inputs;
  if (config.hidden > 0) {
    head->push_back(torch::nn::Dropout(config.dropout));
    head->push_back(torch::nn::Linear(width, config.hidden));
    head->push_back(torch::nn::ReLU());
    width = config.hidden;
  }
  head->push_back(torch::nn::Dropout(config.dropout));
  head->push_back(torch::nn::Linear(width, 1));
  return head;
}

torch::Tensor CnnImpl::forward(const torch::Tensor& input) {
  if (!frame_head_) return head_->forward(features_->forward(input).flatten(1)).squeeze(1);
  return pool_steps(step_probabilities(input));
}

// Linear softmax weighs each step by its own probability: loud steps decide, as max pooling
// would, but every step gets a gradient (DCASE's weakly labelled sound event detection).
torch::Tensor CnnImpl::pool_steps(const torch::Tensor& p) {
  const auto window = ((p * p).sum(1) / p.sum(1).clamp_min(1e-7)).clamp(1e-6, 1 - 1e-6);
  return torch::log(window) - torch::log1p(-window);
}

CnnImpl::Scores CnnImpl::forward_steps(const torch::Tensor& input) {
  if (!frame_head_) return {forward(input), {}};
  auto logits = step_logits(input);
  return {pool_steps(torch::sigmoid(logits)), logits};
}

torch::Tensor CnnImpl::step_probabilities(const torch::Tensor& input) {
  if (!frame_head_) throw Error("this CNN has a window head: it scores whole windows only");
  return torch::sigmoid(step_logits(input));
}

torch::Tensor CnnImpl::step_logits(const torch::Tensor& input) {
  auto steps = features_->forward(input).mean(2).transpose(1, 2);  // [B, steps, channels]
  if (gru_) steps = std::get<0>(gru_->forward(steps));             // [B, steps, 2 * gru]
  return head_->forward(steps).squeeze(2);
}

void kaiming_init(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* linear = m->as<torch::nn::Linear>()) {
      torch::nn::init::kaiming_normal_(linear->weight, 0.0, torch::kFanIn, torch::kReLU);
      linear->bias.zero_();
    }
  }
}

WeightsFile weights_of(torch::nn::Module& module) {
  std::map<std::string, WeightTensor> tensors;
  auto add = [&](const std::string& name, const torch::Tensor& tensor) {
    const auto values = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    WeightTensor& t = tensors[name];
    t.shape = values.sizes().vec();
    t.values.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  };
  for (const auto& p : module.named_parameters()) add(p.key(), p.value());
  for (const auto& b : module.named_buffers()) add(b.key(), b.value());
  return WeightsFile({}, std::move(tensors));
}

void save_weights(torch::nn::Module& module, const std::filesystem::path& file) {
  weights_of(module).write(file);
}

void load_weights(torch::nn::Module& module, const std::filesystem::path& file) {
  const auto weights = WeightsFile::read(file);
  size_t used = 0;
  torch::NoGradGuard no_grad;
  auto assign = [&](const std::string& name, torch::Tensor& tensor) {
    const auto& t = weights.at(name, tensor.sizes().vec());
    const auto values = torch::from_blob(const_cast<float*>(t.values.data()), tensor.sizes());
    tensor.copy_(values.to(tensor.dtype()));
    ++used;
  };
  for (auto& p : module.named_parameters()) assign(p.key(), p.value());
  for (auto& b : module.named_buffers()) assign(b.key(), b.value());
  if (used != weights.tensors().size())
    for (const auto& [name, t] : weights.tensors())
      if (!module.named_parameters().contains(name) && !module.named_buffers().contains(name))
        throw Error(fmt::format("{}: tensor {} is not part of this model's architecture",
                                file.string(), name));
}

torch::Device preferred_device() {
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

int64_t fc_input_size(const NetConfig& net, int rows, int cols) {
  return Cnn(settle_gru(net, 0), rows, cols)->fc_inputs();  // the GRU comes after this size
}

}  // namespace sax
