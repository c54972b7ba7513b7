#pragma once
// YAMNet (Google's AudioSet classifier, 521 classes) in LibTorch: its log-mel front end, the
// MobileNetV1 body (layer 1 a 3x3 convolution, layers 2-14 depthwise-separable, batch norm
// folded in), global average pooling and the 521-way dense layer. LibTorch-free header.
//
//   sax::save_yamnet(weights, home.models() / "yamnet.pt");     // weights from src/transfer
//   sax::YamnetModel yamnet(home.models() / "yamnet.pt");
//   auto scores = yamnet.class_scores(audio_16k);                 // [patches][521]
//   auto scorer = sax::load_yamnet_scorer(home.models() / "yamnet.pt");   // zero-shot sax
//
// Audio is 16 kHz mono. Frames: 25 ms window, 10 ms hop; 64 mel bands 125-7500 Hz;
// log(mel + 0.001); patches of 96 frames (0.96 s) every 48 frames (0.48 s).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "infer/detector.h"

namespace sax {

constexpr int kYamnetSampleRate = 16000;
constexpr size_t kYamnetPatchSamples = 15600;  // the shortest input: one 0.96 s patch
constexpr int kYamnetClasses = 521;
constexpr int kYamnetEmbedding = 1024;
constexpr int kYamnetSaxophone = 192;  // yamnet_class_map.csv: /m/06ncr Saxophone
constexpr int kYamnetLayers = 14;

// A float array in the layout it has in the TFLite file.
struct WeightArray {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// YAMNet's constants and weights as the TFLite file holds them (src/transfer/yamnet_import.h
// extracts them): convolutions [out, kh, kw, in], depthwise [1, kh, kw, channels], dense
// [out, in]. Convolutions in graph order: layer 1, then depthwise and pointwise of 2..14.
struct YamnetWeights {
  WeightArray window;              // [400] periodic Hann
  WeightArray dft_real, dft_imag;  // [257, 512]: the window centred in 512 points, cos / sin
  WeightArray mel;                 // [64, 257] mel filterbank
  WeightArray mel_offset;          // [64] added before the log (0.001)
  std::vector<WeightArray> conv_weights, conv_biases;  // 27 each
  std::vector<int64_t> conv_strides;                   // 27: checked against the architecture
  WeightArray dense_weight, dense_bias;                // [521, 1024], [521]
};

// Writes the LibTorch model file; `threshold` is the zero-shot decision threshold stored with
// it. Throws sax::Error when a shape does not match YAMNet's architecture or writing fails.
void save_yamnet(const YamnetWeights& weights, const std::filesystem::path& file,
                 double threshold = 0.5);

// Rewrites the zero-shot threshold stored in a model file (chosen on labelled data).
void set_yamnet_threshold(const std::filesystem::path& file, double threshold);

// The network loaded from a file written by save_yamnet, on the GPU when there is one.
class YamnetModel {
 public:
  // Throws sax::Error naming the file (and how to create it) when missing or unreadable.
  explicit YamnetModel(const std::filesystem::path& file);
  ~YamnetModel();
  YamnetModel(YamnetModel&&) noexcept;
  YamnetModel& operator=(YamnetModel&&) noexcept;

  double threshold() const;

  // 16 kHz mono, at least kYamnetPatchSamples long (shorter input is zero-padded).
  std::vector<std::vector<float>> log_mel(const std::vector<float>& audio);       // [frames][64]
  std::vector<std::vector<float>> class_scores(const std::vector<float>& audio);  // [patches][521]
  std::vector<std::vector<float>> embeddings(const std::vector<float>& audio);    // [patches][1024]

  // Scores of one class pooled (max) over the patches of each window; windows all one length.
  std::vector<float> pooled_class_score(const std::vector<std::vector<float>>& windows,
                                        int class_index);
  // The same for the windows of `window` samples every `hop` over one span of `count` samples,
  // whose patches are scored once (see yamnet_net.h: patches_in_window).
  std::vector<float> sliding_class_score(const float* audio, size_t count, size_t window,
                                         size_t hop, int class_index);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The weights of YAMNet layer `layer` (1..14; depthwise then pointwise, flattened) as stored in
// `file`: a model from `backbone import`, or a fine-tuned model's model.safetensors (or model.pt
// from before it; its backbone lives under "body"). For inspection and tests. Throws sax::Error
// naming the file.
std::vector<float> yamnet_layer_weights(const std::filesystem::path& file, int layer);

// Where `saxdetect backbone import` puts the model by default: <models>/yamnet.pt.
std::filesystem::path default_yamnet_file(const std::filesystem::path& models_dir);

// The zero-shot detector: P(saxophone) = YAMNet's class 192 score, max-pooled over the 0.96 s
// patches of each 5 s window (16 kHz), threshold stored in the file (0.5 until calibrated).
std::unique_ptr<Scorer> load_yamnet_scorer(const std::filesystem::path& model_file);

}  // namespace sax
