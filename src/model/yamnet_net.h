#pragma once
// YAMNet's network in LibTorch (internal to src/model): the zero-shot scorer (yamnet.cpp) and
// the backbone of fine-tuned models (backbone.cpp) share it.
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/yamnet.h"

namespace sax {

namespace yamnet {
constexpr int64_t kWindow = 400, kHop = 160, kFft = 512, kBins = 257, kBands = 64;
constexpr int64_t kPatchFrames = 96, kPatchHop = 48;

// Log-mel frames of `samples` audio samples, and the patches they make.
constexpr int64_t frames_of(int64_t samples) {
  return samples < kWindow ? 0 : (samples - kWindow) / kHop + 1;
}
constexpr int64_t patches_of(int64_t frames) {
  return frames < kPatchFrames ? 0 : (frames - kPatchFrames) / kPatchHop + 1;
}

// Scoring a long span: its patches are embedded once (every 0.48 s) and each window pools the
// patches that lie inside it, so the cost does not grow with the windows' overlap. The patches
// [first, last] of the window of `window` samples starting `start` samples into a span of
// `total` patches (at least one; a window's patches sit on the span's grid, not its own).
std::pair<int64_t, int64_t> patches_in_window(size_t start, int64_t window, int64_t total);
}  // namespace yamnet

class YamnetNetImpl : public torch::nn::Module {
 public:
  YamnetNetImpl();

  torch::Tensor log_mel(const torch::Tensor& audio);           // [B, samples] -> [B, frames, 64]
  static torch::Tensor patches(const torch::Tensor& log_mel);  // -> [B * P, 1, 96, 64]
  // The 14 layers and global average pooling: [N, 1, 96, 64] -> [N, 1024] embeddings.
  torch::Tensor embed(torch::Tensor x);
  // Log-mel [B, frames, 64] -> the embeddings of each item's patches [B, P, 1024].
  torch::Tensor embed_patches(const torch::Tensor& log_mel) {
    return embed(patches(log_mel)).view({log_mel.size(0), -1, kYamnetEmbedding});
  }
  // Every patch of one span of audio [samples] -> [P, 1024], in batches (bounded memory).
  torch::Tensor embed_span(const torch::Tensor& audio);
  torch::Tensor classify(const torch::Tensor& embedding);  // [N, 1024] -> [N, 521] logits

  // Convolutions in graph order: layer 1, then depthwise and pointwise of layers 2..14.
  std::vector<torch::nn::Conv2d>& convs() { return convs_; }
  // The convolutions that make up the first `layers` layers.
  static size_t convs_in_layers(int layers) { return layers <= 0 ? 0 : 2 * layers - 1; }
  torch::nn::Linear& dense() { return dense_; }
  torch::Tensor buffer(const std::string& name) { return named_buffers()[name]; }
  double threshold() const { return threshold_.item<double>(); }

 private:
  void add_conv(const torch::nn::Conv2dOptions& options);

  torch::Tensor window_, dft_real_, dft_imag_, mel_, mel_offset_, threshold_;
  std::vector<torch::nn::Conv2d> convs_;
  torch::nn::Linear dense_{nullptr};
};
TORCH_MODULE(YamnetNet);

// Reads a file written by save_yamnet; throws sax::Error naming it (and how to create it).
YamnetNet read_yamnet(const std::filesystem::path& file);

}  // namespace sax
