// EfficientAT mn04_as in LibTorch; mirrors the reference forward pass in
// ../shared/models/efficientat/reference/mn04_reference.py.
#include "model/efficientat_net.h"

#include <fmt/format.h>

#include "common/error.h"

namespace sax {

namespace {

namespace nn = torch::nn;
using namespace efficientat;

constexpr double kBatchNormEps = 1e-3;

// Conv (no bias, "same" padding) -> batch norm, named "0" and "1" as in EfficientAT.
nn::Sequential conv_bn(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                                       .stride(stride)
                                       .padding((kernel - 1) / 2)
                                       .groups(groups)
                                       .bias(false)),
                        nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(kBatchNormEps)));
}

torch::Tensor activate(const torch::Tensor& x, bool hardswish) {
  return hardswish ? torch::hardswish(x) : torch::relu(x);
}

// EfficientAT's channel squeeze-and-excitation: mean over the map -> fc1 -> ReLU -> fc2 ->
// sigmoid gate per channel.
class ChannelSeImpl : public nn::Module {
 public:
  ChannelSeImpl(int64_t channels, int64_t squeeze)
      : fc1_(register_module("fc1", nn::Linear(channels, squeeze))),
        fc2_(register_module("fc2", nn::Linear(squeeze, channels))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const auto gate = torch::sigmoid(fc2_(torch::relu(fc1_(x.mean({2, 3})))));
    return x * gate.unsqueeze(2).unsqueeze(3);
  }

 private:
  nn::Linear fc1_, fc2_;
};
TORCH_MODULE(ChannelSe);

// block.<i>.conc_se_layers.0: EfficientAT's wrapper around the one SE layer mn04 uses.
class ConcurrentSeImpl : public nn::Module {
 public:
  ConcurrentSeImpl(int64_t channels, int64_t squeeze) : se_(channels, squeeze) {
    nn::ModuleList layers;
    layers->push_back(se_);
    register_module("conc_se_layers", layers);
  }
  torch::Tensor forward(const torch::Tensor& x) { return se_(x); }

 private:
  ChannelSe se_;
};
TORCH_MODULE(ConcurrentSe);

class InvertedResidualImpl : public nn::Module {
 public:
  explicit InvertedResidualImpl(const EfficientatBlockSpec& s) : spec_(s) {
    nn::ModuleList block;
    if (s.expanded != s.in) block->push_back(expand_ = conv_bn(s.in, s.expanded, 1, 1, 1));
    block->push_back(depthwise_ = conv_bn(s.expanded, s.expanded, s.kernel, s.stride, s.expanded));
    if (s.squeeze > 0) block->push_back(se_ = ConcurrentSe(s.expanded, s.squeeze));
    block->push_back(project_ = conv_bn(s.expanded, s.out, 1, 1, 1));
    register_module("block", block);
  }

  torch::Tensor forward(const torch::Tensor& input) {
    auto x = input;
    if (expand_) x = activate(expand_->forward(x), spec_.hardswish);
    x = activate(depthwise_->forward(x), spec_.hardswish);
    if (se_) x = se_(x);
    x = project_->forward(x);
    return spec_.stride == 1 && spec_.in == spec_.out ? x + input : x;
  }

 private:
  EfficientatBlockSpec spec_;
  nn::Sequential expand_{nullptr}, depthwise_{nullptr}, project_{nullptr};
  ConcurrentSe se_{nullptr};
};
TORCH_MODULE(InvertedResidual);

// classifier.2 and classifier.5 (the pooling, flatten, activation and dropout between them hold
// no tensors).
class ClassifierImpl : public nn::Module {
 public:
  ClassifierImpl(nn::Linear hidden, nn::Linear output) {
    register_module("2", std::move(hidden));
    register_module("5", std::move(output));
  }
};
TORCH_MODULE(Classifier);

}  // namespace

const std::vector<EfficientatBlockSpec>& EfficientatNetImpl::block_specs() {
  // MobileNetV3-Large's bneck table at width 0.4 (channels rounded to multiples of 8).
  static const std::vector<EfficientatBlockSpec> specs{
      {8, 8, 8, 3, 1, false},        {8, 24, 16, 3, 2, false},      {16, 32, 16, 3, 1, false},
      {16, 32, 16, 5, 2, false, 8},  {16, 48, 16, 5, 1, false, 16}, {16, 48, 16, 5, 1, false, 16},
      {16, 96, 32, 3, 2, true},      {32, 80, 32, 3, 1, true},      {32, 72, 32, 3, 1, true},
      {32, 72, 32, 3, 1, true},      {32, 192, 48, 3, 1, true, 48}, {48, 272, 48, 3, 1, true, 72},
      {48, 272, 64, 5, 2, true, 72}, {64, 384, 64, 5, 1, true, 96}, {64, 384, 64, 5, 1, true, 96}};
  return specs;
}

EfficientatNetImpl::EfficientatNetImpl() {
  nn::ModuleList features;
  blocks_.push_back(conv_bn(1, 8, 3, 2, 1).ptr());
  for (const auto& spec : block_specs()) blocks_.push_back(InvertedResidual(spec).ptr());
  blocks_.push_back(conv_bn(64, kFeatureChannels, 1, 1, 1).ptr());
  for (const auto& block : blocks_) features->push_back(block);
  register_module("features", features);
  hidden_layer_ = nn::Linear(kFeatureChannels, kHidden);
  output_layer_ = nn::Linear(kHidden, kClasses);
  register_module("classifier", Classifier(hidden_layer_, output_layer_));
}

void EfficientatNetImpl::load(const WeightsFile& weights) {
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor& target) {
    const auto& source = weights.at(name, target.sizes().vec());
    target.copy_(torch::from_blob(const_cast<float*>(source.values.data()), target.sizes(),
                                  torch::kFloat32));
  };
  for (auto& item : named_parameters()) copy(item.key(), item.value());
  for (auto& item : named_buffers())
    if (item.key().find("num_batches_tracked") == std::string::npos) copy(item.key(), item.value());
}

torch::Tensor EfficientatNetImpl::block_forward(size_t i, torch::Tensor x) {
  if (i == 0) return torch::hardswish(blocks_[0]->as<nn::Sequential>()->forward(x));
  if (i + 1 == blocks_.size())
    return torch::hardswish(blocks_[i]->as<nn::Sequential>()->forward(x));
  return blocks_[i]->as<InvertedResidual>()->forward(x);
}

torch::Tensor EfficientatNetImpl::feature_map_from(int first, torch::Tensor x) {
  for (size_t i = static_cast<size_t>(first); i < blocks_.size(); ++i) x = block_forward(i, x);
  return x;
}

torch::Tensor EfficientatNetImpl::feature_map(torch::Tensor log_mel) {
  if (log_mel.dim() == 3) log_mel = log_mel.unsqueeze(1);
  if (log_mel.dim() != 4 || log_mel.size(1) != 1 || log_mel.size(2) != kBands)
    throw Error(fmt::format("EfficientAT takes log-mel [B, {}, frames], got {}", kBands,
                            shape_text(log_mel.sizes().vec())));
  return feature_map_from(0, log_mel);
}

torch::Tensor EfficientatNetImpl::embedding(const torch::Tensor& log_mel) {
  return feature_map(log_mel).mean({2, 3});
}

torch::Tensor EfficientatNetImpl::hidden_of(const torch::Tensor& embedding) {
  return torch::hardswish(hidden_layer_(embedding));
}

torch::Tensor EfficientatNetImpl::classify(const torch::Tensor& hidden) {
  return output_layer_(hidden);
}

torch::Tensor EfficientatNetImpl::step_embeddings(const torch::Tensor& log_mel) {
  return feature_map(log_mel).mean(2).transpose(1, 2);
}

EfficientatNet efficientat_net(const WeightsFile& weights) {
  EfficientatNet net;
  net->load(weights);
  net->eval();
  return net;
}

}  // namespace sax
