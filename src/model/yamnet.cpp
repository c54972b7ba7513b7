// YAMNet in LibTorch: the network, its model file, and the zero-shot saxophone scorer.
#include "model/yamnet.h"
#include "model/yamnet_net.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "model/net.h"

namespace sax {

namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

using namespace yamnet;
constexpr double kZeroShotSeconds = 5.0;  // one decision per 5 s window, like the samples
constexpr int64_t kWindowBatch = 8;       // windows through the network at once

// MobileNetV1 as YAMNet configures it: stride and output channels of layers 1..14.
struct LayerSpec {
  int64_t stride, channels;
};
constexpr LayerSpec kLayers[kYamnetLayers] = {{2, 32},  {1, 64},  {2, 128},  {1, 128}, {2, 256},
                                              {1, 256}, {2, 512}, {1, 512},  {1, 512}, {1, 512},
                                              {1, 512}, {1, 512}, {2, 1024}, {1, 1024}};

// TFLite's SAME padding: the odd padded row/column goes after, unlike torch's symmetric padding.
torch::Tensor pad_same(const torch::Tensor& x, int64_t kernel, int64_t stride) {
  auto amount = [&](int64_t size) {
    const int64_t out = (size + stride - 1) / stride;
    return std::max<int64_t>(0, (out - 1) * stride + kernel - size);
  };
  const int64_t h = amount(x.size(2)), w = amount(x.size(3));
  if (h == 0 && w == 0) return x;
  return F::pad(x, F::PadFuncOptions({w / 2, w - w / 2, h / 2, h - h / 2}));
}

// Copies a TFLite-layout array into `target` after permuting it to torch's layout.
void assign(torch::Tensor target, const WeightArray& source, const std::vector<int64_t>& permute,
            const std::string& what) {
  auto tensor =
      torch::from_blob(const_cast<float*>(source.values.data()), source.shape, torch::kFloat32);
  if (!permute.empty()) tensor = tensor.permute(permute);
  if (tensor.sizes() != target.sizes() ||
      static_cast<int64_t>(source.values.size()) != target.numel())
    throw Error(fmt::format("YAMNet {}: shape {} in the TFLite file, {} expected", what,
                            fmt::join(source.shape, "x"),
                            fmt::join(std::vector<int64_t>(target.sizes().vec()), "x")));
  torch::NoGradGuard no_grad;
  target.copy_(tensor);
}

void copy_tflite_weights(YamnetNet& net, const YamnetWeights& w) {
  assign(net->buffer("window"), w.window, {}, "window");
  assign(net->buffer("dft_real"), w.dft_real, {}, "DFT (real)");
  assign(net->buffer("dft_imag"), w.dft_imag, {}, "DFT (imaginary)");
  assign(net->buffer("mel"), w.mel, {}, "mel matrix");
  assign(net->buffer("mel_offset"), w.mel_offset, {}, "mel offset");
  auto& convs = net->convs();
  if (w.conv_weights.size() != convs.size() || w.conv_biases.size() != convs.size() ||
      w.conv_strides.size() != convs.size())
    throw Error(fmt::format("YAMNet: {} convolutions in the TFLite file, {} expected",
                            w.conv_weights.size(), convs.size()));
  for (size_t i = 0; i < convs.size(); ++i) {
    const bool depthwise = convs[i]->options.groups() > 1;
    // TFLite: convolution [out, kh, kw, in], depthwise [1, kh, kw, channels]; torch: [out, in, kh,
    // kw].
    assign(convs[i]->weight, w.conv_weights[i],
           depthwise ? std::vector<int64_t>{3, 0, 1, 2} : std::vector<int64_t>{0, 3, 1, 2},
           fmt::format("convolution {} weights", i));
    assign(convs[i]->bias, w.conv_biases[i], {}, fmt::format("convolution {} bias", i));
    if (w.conv_strides[i] != (*convs[i]->options.stride())[0])
      throw Error(fmt::format("YAMNet convolution {}: stride {} in the TFLite file, {} expected", i,
                              w.conv_strides[i], (*convs[i]->options.stride())[0]));
  }
  assign(net->dense()->weight, w.dense_weight, {}, "dense weights");
  assign(net->dense()->bias, w.dense_bias, {}, "dense bias");
}

void write_net(YamnetNet& net, const fs::path& file) {
  try {
    if (file.has_parent_path()) fs::create_directories(file.parent_path());
    torch::save(net, file.string());
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: cannot write the YAMNet model ({})", file.string(), e.what()));
  }
}

std::vector<std::vector<float>> rows(const torch::Tensor& matrix) {
  const auto cpu = matrix.to(torch::kCPU).contiguous();
  std::vector<std::vector<float>> out(cpu.size(0));
  for (int64_t i = 0; i < cpu.size(0); ++i) {
    const float* row = cpu[i].data_ptr<float>();
    out[i].assign(row, row + cpu.size(1));
  }
  return out;
}

class YamnetScorer : public Scorer {
 public:
  explicit YamnetScorer(const fs::path& file) : model_(file) {}

  std::string name() const override { return "yamnet-zero-shot"; }
  int sample_rate() const override { return kYamnetSampleRate; }
  size_t window_samples() const override {
    return static_cast<size_t>(kZeroShotSeconds * kYamnetSampleRate);
  }
  double threshold() const override { return model_.threshold(); }

  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop_samples) override {
    const size_t window = window_samples();
    if (count < window || hop_samples == 0) return {};
    return model_.sliding_class_score(audio, count, window, hop_samples, kYamnetSaxophone);
  }

  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    std::vector<float> out;
    out.reserve(windows.size());
    for (size_t first = 0; first < windows.size(); first += kWindowBatch) {
      std::vector<std::vector<float>> batch;
      for (size_t i = first; i < std::min(windows.size(), first + kWindowBatch); ++i) {
        batch.push_back(windows[i]);
        batch.back().resize(window_samples(), 0.0f);
      }
      const auto scores = model_.pooled_class_score(batch, kYamnetSaxophone);
      out.insert(out.end(), scores.begin(), scores.end());
    }
    return out;
  }

 private:
  YamnetModel model_;
};

}  // namespace

YamnetNetImpl::YamnetNetImpl() {
  window_ = register_buffer("window", torch::zeros({kWindow}));
  dft_real_ = register_buffer("dft_real", torch::zeros({kBins, kFft}));
  dft_imag_ = register_buffer("dft_imag", torch::zeros({kBins, kFft}));
  mel_ = register_buffer("mel", torch::zeros({kBands, kBins}));
  mel_offset_ = register_buffer("mel_offset", torch::zeros({kBands}));
  threshold_ = register_buffer("threshold", torch::full({1}, 0.5, torch::kFloat64));
  int64_t channels = 1;
  for (int layer = 0; layer < kYamnetLayers; ++layer) {
    const auto [stride, out] = kLayers[layer];
    if (layer == 0) {
      add_conv(torch::nn::Conv2dOptions(channels, out, 3).stride(stride));
    } else {
      add_conv(torch::nn::Conv2dOptions(channels, channels, 3).stride(stride).groups(channels));
      add_conv(torch::nn::Conv2dOptions(channels, out, 1));
    }
    channels = out;
  }
  dense_ = register_module("dense", torch::nn::Linear(kYamnetEmbedding, kYamnetClasses));
}

torch::Tensor YamnetNetImpl::log_mel(const torch::Tensor& audio) {
  auto frames = audio.unfold(1, kWindow, kHop) * window_;
  const int64_t before = (kFft - kWindow) / 2;
  frames = F::pad(frames, F::PadFuncOptions({before, kFft - kWindow - before}));
  const auto real = torch::matmul(frames, dft_real_.t());
  const auto imag = torch::matmul(frames, dft_imag_.t());
  const auto magnitude = torch::sqrt(real * real + imag * imag);
  return torch::log(torch::matmul(magnitude, mel_.t()) + mel_offset_);
}

torch::Tensor YamnetNetImpl::patches(const torch::Tensor& log_mel) {
  const auto p = log_mel.unfold(1, kPatchFrames, kPatchHop);  // [B, P, 64, 96]
  return p.transpose(2, 3).reshape({-1, 1, kPatchFrames, kBands});
}

torch::Tensor YamnetNetImpl::embed(torch::Tensor x) {
  for (size_t i = 0; i < convs_.size(); ++i) {
    const auto& options = convs_[i]->options;
    x = torch::relu(
        convs_[i]->forward(pad_same(x, (*options.kernel_size())[0], (*options.stride())[0])));
  }
  return x.mean({2, 3});
}

torch::Tensor YamnetNetImpl::embed_span(const torch::Tensor& audio) {
  constexpr int64_t kPatchBatch = 256;
  const auto all = patches(log_mel(audio.unsqueeze(0)));
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < all.size(0); first += kPatchBatch)
    parts.push_back(embed(all.narrow(0, first, std::min(kPatchBatch, all.size(0) - first))));
  return torch::cat(parts);
}

std::pair<int64_t, int64_t> yamnet::patches_in_window(size_t start, int64_t window, int64_t total) {
  const double first_frame = static_cast<double>(start) / kHop;
  const double last_start = first_frame + static_cast<double>(frames_of(window) - kPatchFrames);
  auto first = static_cast<int64_t>(std::ceil(first_frame / kPatchHop));
  auto last = static_cast<int64_t>(std::floor(last_start / kPatchHop));
  first = std::clamp<int64_t>(first, 0, total - 1);
  return {first, std::clamp<int64_t>(last, first, total - 1)};
}

torch::Tensor YamnetNetImpl::classify(const torch::Tensor& embedding) {
  return dense_->forward(embedding);
}

void YamnetNetImpl::add_conv(const torch::nn::Conv2dOptions& options) {
  convs_.push_back(
      register_module(fmt::format("conv{}", convs_.size()), torch::nn::Conv2d(options)));
}

YamnetNet read_yamnet(const fs::path& file) {
  if (!fs::exists(file))
    throw Error(fmt::format(
        "{}: no YAMNet model; create it with `saxdetect backbone import yamnet.tflite --out {}`",
        file.string(), file.string()));
  YamnetNet net;
  try {
    torch::load(net, file.string());
  } catch (const c10::Error& e) {
    throw Error(
        fmt::format("{}: not a YAMNet model file ({})", file.string(), e.what_without_backtrace()));
  }
  return net;
}

struct YamnetModel::Impl {
  YamnetNet net;
  torch::Device device;

  torch::Tensor audio_tensor(const std::vector<float>& audio) const {
    auto t = torch::tensor(audio, torch::kFloat32);
    if (t.size(0) < static_cast<int64_t>(kYamnetPatchSamples))
      t = F::pad(t, F::PadFuncOptions({0, static_cast<int64_t>(kYamnetPatchSamples) - t.size(0)}));
    return t.unsqueeze(0).to(device);
  }
  torch::Tensor embed(const torch::Tensor& audio) {
    return net->embed(YamnetNetImpl::patches(net->log_mel(audio)));
  }
};

YamnetModel::YamnetModel(const fs::path& file)
    : impl_(std::make_unique<Impl>(Impl{read_yamnet(file), preferred_device()})) {
  impl_->net->to(impl_->device);
  impl_->net->eval();
}
YamnetModel::~YamnetModel() = default;
YamnetModel::YamnetModel(YamnetModel&&) noexcept = default;
YamnetModel& YamnetModel::operator=(YamnetModel&&) noexcept = default;

double YamnetModel::threshold() const { return impl_->net->threshold(); }

std::vector<std::vector<float>> YamnetModel::log_mel(const std::vector<float>& audio) {
  torch::NoGradGuard no_grad;
  return rows(impl_->net->log_mel(impl_->audio_tensor(audio))[0]);
}

std::vector<std::vector<float>> YamnetModel::class_scores(const std::vector<float>& audio) {
  torch::NoGradGuard no_grad;
  const auto embedding = impl_->embed(impl_->audio_tensor(audio));
  return rows(torch::sigmoid(impl_->net->classify(embedding)));
}

std::vector<std::vector<float>> YamnetModel::embeddings(const std::vector<float>& audio) {
  torch::NoGradGuard no_grad;
  return rows(impl_->embed(impl_->audio_tensor(audio)));
}

std::vector<float> YamnetModel::pooled_class_score(const std::vector<std::vector<float>>& windows,
                                                   int class_index) {
  if (windows.empty()) return {};
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> rows_in;
  for (const auto& w : windows) rows_in.push_back(impl_->audio_tensor(w)[0]);
  const auto audio = torch::stack(rows_in);  // all one length: [W, samples]
  const auto logits = impl_->net->classify(impl_->embed(audio));
  const auto per_patch = torch::sigmoid(logits.select(1, class_index)).view({audio.size(0), -1});
  const auto pooled = std::get<0>(per_patch.max(1)).to(torch::kCPU).contiguous();
  return {pooled.data_ptr<float>(), pooled.data_ptr<float>() + pooled.numel()};
}

std::vector<float> YamnetModel::sliding_class_score(const float* audio, size_t count, size_t window,
                                                    size_t hop, int class_index) {
  torch::NoGradGuard no_grad;
  const auto signal =
      torch::from_blob(const_cast<float*>(audio), {static_cast<int64_t>(count)}, torch::kFloat32)
          .to(impl_->device);
  const auto embeddings = impl_->net->embed_span(signal);
  const auto per_patch = torch::sigmoid(impl_->net->classify(embeddings).select(1, class_index))
                             .to(torch::kCPU)
                             .contiguous();
  const float* p = per_patch.data_ptr<float>();
  std::vector<float> out;
  for (size_t start = 0; start + window <= count; start += hop) {
    const auto [first, last] =
        patches_in_window(start, static_cast<int64_t>(window), per_patch.size(0));
    out.push_back(*std::max_element(p + first, p + last + 1));
  }
  return out;
}

void save_yamnet(const YamnetWeights& weights, const fs::path& file, double threshold) {
  YamnetNet net;
  copy_tflite_weights(net, weights);
  net->buffer("threshold").fill_(threshold);
  write_net(net, file);
}

void set_yamnet_threshold(const fs::path& file, double threshold) {
  auto net = read_yamnet(file);
  net->buffer("threshold").fill_(threshold);
  write_net(net, file);
}

namespace {

// Layer weights from a model folder's model.safetensors (a fine-tuned model: "body.conv<i>").
std::vector<float> safetensors_layer_weights(const fs::path& file, int layer) {
  const auto weights = WeightsFile::read(file);
  std::vector<float> out;
  for (size_t conv = YamnetNetImpl::convs_in_layers(layer - 1);
       conv < YamnetNetImpl::convs_in_layers(layer); ++conv) {
    const auto name = fmt::format("body.conv{}.weight", conv);
    if (!weights.contains(name))
      throw Error(fmt::format("{}: no YAMNet convolution {} in this model", file.string(), conv));
    const auto& values = weights.tensors().at(name).values;
    out.insert(out.end(), values.begin(), values.end());
  }
  return out;
}

}  // namespace

std::vector<float> yamnet_layer_weights(const fs::path& file, int layer) {
  if (layer < 1 || layer > kYamnetLayers)
    throw Error(fmt::format("YAMNet has layers 1..{}, not {}", kYamnetLayers, layer));
  if (file.extension() == ".safetensors") return safetensors_layer_weights(file, layer);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const c10::Error& e) {
    throw Error(
        fmt::format("{}: cannot read the model ({})", file.string(), e.what_without_backtrace()));
  }
  torch::serialize::InputArchive body;
  auto& net = archive.try_read("body", body) ? body : archive;  // fine-tuned model or YAMNet
  const size_t first = YamnetNetImpl::convs_in_layers(layer - 1);
  std::vector<float> out;
  for (size_t conv = first; conv < YamnetNetImpl::convs_in_layers(layer); ++conv) {
    torch::serialize::InputArchive module;
    torch::Tensor weight;
    if (!net.try_read(fmt::format("conv{}", conv), module) || !module.try_read("weight", weight))
      throw Error(fmt::format("{}: no YAMNet convolution {} in this model", file.string(), conv));
    weight = weight.contiguous().to(torch::kFloat32);
    out.insert(out.end(), weight.data_ptr<float>(), weight.data_ptr<float>() + weight.numel());
  }
  return out;
}

fs::path default_yamnet_file(const fs::path& models_dir) { return models_dir / "yamnet.pt"; }

std::unique_ptr<Scorer> load_yamnet_scorer(const fs::path& model_file) {
  return std::make_unique<YamnetScorer>(model_file);
}

}  // namespace sax
