#pragma once
// The CNN's forward pass without LibTorch, for inference: conv blocks (batch norm folded into
// the convolutions at load) as CBLAS sgemm products (Winograd's F(2x2, 3x3) for 3x3 kernels,
// im2col for others), ReLU, 2x2 pooling, flatten in
// LibTorch's [C, H, W] order (or, for a frame head, the mean over frequency, optionally through
// a bidirectional GRU, scored step by step), the fully connected head and a sigmoid. Dropout is
// the identity (eval mode). Equals LibTorch's Cnn (src/model/net.h) in eval mode within 1e-4
// (tests/model/cnn_runtime_test.cpp).
//
//   CnnRuntime cnn(layout, WeightsFile::read(dir / "model.safetensors"));
//   std::vector<float> p = cnn.probabilities(spectrograms);  // normalised log-mels
#include <string>
#include <vector>

#include "infer/features.h"
#include "infer/net_config.h"
#include "infer/weights.h"

namespace sax {

// A NetConfig resolved for one input size: what the forward pass needs to know.
struct CnnLayout {
  int rows = 0, cols = 0;  // input spectrogram
  struct Block {
    int channels = 0;       // output channels
    int kernel = 0;         // square, padding kernel / 2, stride 1
    bool pool_time = true;  // 2x2 pooling, else 2x1 (frequency only)
  };
  std::vector<Block> blocks;
  bool batch_norm = true;
  bool avg_pool = false;  // else max pooling
  int hidden = 64;        // 0: no hidden fully connected layer
  // NetConfig head "frames": frequency is averaged out after the blocks, the head scores every
  // time step and the window is their linear softmax.
  bool frame_head = false;
  int gru = 0;  // frame head: units per direction of the bidirectional GRU over the steps; 0: none
  // 3x3 convolutions by Winograd's F(2x2, 3x3), which cut predict's CPU time by a fifth; false:
  // im2col for every kernel, the plain method that tests and benchmarks compare it with.
  bool winograd = true;
};

// `net` resolved for inputs of `features`' shape: the same network as LibTorch's Cnn
// (src/model/net.h). Throws sax::Error for a pool other than "max" or "avg".
CnnLayout cnn_layout(const NetConfig& net, const FeatureConfig& features);

class CnnRuntime {
 public:
  // Reads the tensors the layout needs by their LibTorch names (the order of net.cpp's
  // Sequential modules); throws sax::Error naming the file and tensor when one is missing or
  // shaped differently, or when the input is too small for the depth.
  CnnRuntime(const CnnLayout& layout, const WeightsFile& weights);

  // One probability of saxophone per spectrogram (each rows x cols, normalised as trained),
  // computed on up to `threads` threads (0: every core). A frame head also fills `steps` (when
  // given) with steps_per_input() probabilities per spectrogram, input after input.
  std::vector<float> probabilities(const std::vector<Spectrogram>& inputs, int threads = 0,
                                   std::vector<float>* steps = nullptr) const;

  int64_t fc_inputs() const { return fc_inputs_; }
  int steps_per_input() const { return steps_; }  // 0: a window head

 private:
  struct Conv {
    int in_channels = 0, out_channels = 0, kernel = 0;
    int in_rows = 0, in_cols = 0, out_rows = 0, out_cols = 0;  // out: before pooling
    bool pool_time = true;                                     // else frequency only
    std::vector<float> weight;                                 // [out, in * k * k]
    std::vector<float> bias;                                   // [out]
    std::vector<float> winograd;  // 3x3 kernels: weight as Winograd's [16][out][in]; else empty
    int pooled_rows() const { return out_rows / 2; }
    int pooled_cols() const { return pool_time ? out_cols / 2 : out_cols; }
  };
  struct Linear {
    int inputs = 0, outputs = 0;
    std::vector<float> weight;  // [outputs, inputs]
    std::vector<float> bias;
  };
  // One direction of LibTorch's GRU: gates in the order reset, update, new.
  struct GruDirection {
    Linear input;   // [3 * hidden, inputs]
    Linear hidden;  // [3 * hidden, hidden]
  };
  struct Workspace;

  float probability(const Spectrogram& input, Workspace& work, float* steps) const;
  float head_logit(const float* x, Workspace& work) const;
  void step_features(const float* conv_out, Workspace& work) const;
  void run_gru(Workspace& work) const;
  void forward_conv(const Conv& conv, const float* input, float* output, Workspace& work) const;

  CnnLayout layout_;
  std::vector<Conv> convs_;
  std::vector<GruDirection> gru_;  // forward, backward; empty without a GRU
  std::vector<Linear> head_;       // [hidden, ] output
  int64_t fc_inputs_ = 0;
  int steps_ = 0;
};

}  // namespace sax
