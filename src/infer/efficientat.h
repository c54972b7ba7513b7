#pragma once
// EfficientAT's mn04_as (MobileNetV3, width 0.4, trained on AudioSet) without LibTorch: its front
// end (AugmentMelSTFT in eval mode), its body (batch norm folded into the convolutions at load,
// 1x1 convolutions as CBLAS products, depthwise convolutions by hand) and its classifier, plus an
// optional saxophone head that fine-tuning adds. The architecture follows EfficientAT's code
// (github.com/fschmid56/EfficientAT, models/mn); ../shared/models/efficientat/reference holds an
// independent numpy forward pass and its outputs, which the tests compare with.
//
//   EfficientAt net(builtin_efficientat_weights());
//   Spectrogram mel = efficientat_log_mel(audio.data(), audio.size());  // 32 kHz mono
//   std::vector<float> steps = net.step_embeddings(mel);                // steps x 384
//   std::vector<float> clip = EfficientAt::mean_of_steps(steps, net.embedding_size());
//   float logit = net.saxophone_logits(clip.data(), 1)[0];
//
// The scorer (EfficientAtScorer) runs the body once over a long span and scores every window and
// every time step from the per-step embeddings.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "infer/detector.h"
#include "infer/features.h"
#include "infer/weights.h"

namespace sax {

inline constexpr int kEfficientAtRate = 32000;
inline constexpr int kEfficientAtHop = 320;  // samples between log-mel frames (10 ms)
inline constexpr int kEfficientAtMels = 128;
// The body halves time five times: one embedding per 32 frames (0.32 s).
inline constexpr int kEfficientAtFramesPerStep = 32;

// EfficientAT's log-mel of mono 32 kHz audio: pre-emphasis y[n] = x[n+1] - 0.97 x[n], STFT (1024
// points, hop 320, a symmetric 800-point Hann window centred in the frame, reflect padding as
// torch.stft(center=True)), power, 128 Kaldi mel bands 0-15 kHz, (log(mel + 1e-5) + 4.5) / 5.
// 128 rows x 1 + (count - 1) / 320 columns; input shorter than 1024 samples is zero-padded to it.
Spectrogram efficientat_log_mel(const float* audio, size_t count);

class EfficientAt {
 public:
  // The network from a PyTorch state_dict's tensors (batch norm not folded). Tensors present in
  // `overrides` replace those of `weights` (a fine-tuned model saves only what it changed) and may
  // add the saxophone head: head.weight [1, hidden_size()] and head.bias [1] (none: zero).
  // Throws sax::Error naming the file and the tensor when one is missing or shaped differently,
  // or when `overrides` holds a tensor this network does not have.
  explicit EfficientAt(const WeightsFile& weights, const WeightsFile* overrides = nullptr);

  int embedding_size() const { return embedding_; }  // channels of the last map (384)
  int hidden_size() const { return hidden_; }        // the classifier's hidden layer (512)
  int classes() const { return classes_; }           // 527 AudioSet classes

  // Steps the body makes of `frames` log-mel frames (each stride-2 layer rounds up).
  static int steps_of(int frames);

  // The body on one log-mel (128 rows): per time step, the last map (features.16 after batch
  // norm and hardswish) averaged over frequency; steps_of(cols) x embedding_size(), row-major.
  // The squeeze-excitation layers gate channels by their mean over the whole input when
  // `se_frames` is 0 (EfficientAT's behaviour for one clip), else by their mean over about
  // `se_frames` frames centred on each column (a long span seen once then gates each place as a
  // clip of that length seen alone would). Runs on up to `threads` threads (0: every core).
  std::vector<float> step_embeddings(const Spectrogram& log_mel, int se_frames = 0,
                                     int threads = 0) const;

  // The mean of embeddings [first, first + count) of `steps` (each `size` long): the global
  // pooling of the part of the map they cover.
  static std::vector<float> mean_of_steps(const std::vector<float>& steps, int size, int first = 0,
                                          int count = -1);

  // For n embeddings (n x embedding_size(), row-major): the classifier's hidden vectors
  // (classifier.2 and hardswish, n x hidden_size()), all logits (n x classes()), or the
  // saxophone logit of each: AudioSet's Saxophone logit plus the head's.
  std::vector<float> hidden(const float* embeddings, int n) const;
  std::vector<float> logits(const float* embeddings, int n) const;
  std::vector<float> saxophone_logits(const float* embeddings, int n) const;

 private:
  struct Net;  // the layers, defined with the forward pass
  std::shared_ptr<const Net> net_;
  int embedding_ = 0, hidden_ = 0, classes_ = 0;
};

// The saxophone detector on EfficientAT: 5-s windows at 32 kHz, P(sax) = sigmoid of the
// saxophone logit of the mean of the window's step embeddings, and a probability per step
// (0.32 s) from the embeddings around it.
class EfficientAtScorer : public Scorer {
 public:
  EfficientAtScorer(std::string name, std::shared_ptr<const EfficientAt> net, double threshold,
                    double step_threshold);

  std::string name() const override { return name_; }
  int sample_rate() const override { return kEfficientAtRate; }
  size_t window_samples() const override { return 5 * kEfficientAtRate; }
  double threshold() const override { return threshold_; }
  double step_threshold() const override { return step_threshold_; }
  double step_seconds() const override;

  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop_samples) override;
  std::vector<float> score_sliding_steps(const float* audio, size_t count, size_t hop_samples,
                                         std::vector<float>& steps) override;
  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override;

  int steps_per_window() const;

  // Step s's probability is the classifier's on the mean of embeddings [s - 1, s + 3), 1.28 s
  // centred on the middle of the step's 0.32 s (embedding s is centred on its start: each
  // stride-2 layer centres output j on input 2j). On real mixes, a file's highest step ranked
  // files worse than its highest window when a step was scored alone (ROC-AUC 0.81 against
  // 0.87), better with these four (0.90).
  static constexpr int kStepPoolBefore = 1, kStepPoolAfter = 3;

 private:
  // score_sliding, filling `steps` when given.
  std::vector<float> score(const float* audio, size_t count, size_t hop_samples,
                           std::vector<float>* steps) const;
  // Every step's probability from the span's step embeddings.
  std::vector<float> step_probabilities(const std::vector<float>& embeddings) const;

  std::string name_;
  std::shared_ptr<const EfficientAt> net_;
  double threshold_, step_threshold_;
};

// The probability at which the zero-shot detector says "sax", chosen on real recordings (the
// mixes of ../shared/data/real-dev; docs/design.md): AudioSet's
// Saxophone output is cautious in a full band, so its best threshold lies well below 0.5.
inline constexpr double kEfficientAtZeroShotThreshold = 0.2;

// The built-in model, zero-shot (no head).
std::unique_ptr<Scorer> builtin_efficientat_scorer(
    double threshold = kEfficientAtZeroShotThreshold,
    double step_threshold = kEfficientAtZeroShotThreshold);

// A model folder of kind "efficientat": model.json (name, threshold, step_threshold when present)
// and model.safetensors holding head.weight, head.bias and any fine-tuned body tensors, applied
// over the built-in weights. Throws sax::Error naming the file.
std::unique_ptr<Scorer> efficientat_scorer(const std::filesystem::path& model_dir,
                                           const nlohmann::json& description);

}  // namespace sax
