#pragma once
// What a training run is told: TrainConfig and its parts. Its JSON holds the settings a user
// chooses (kUserSettings of them); the rest of the recipe is fixed in code, each part with the
// measurement behind it in docs/design.md. Strict: an unknown or invalid field is a sax::Error
// naming it. LibTorch-free.
//
//   sax::TrainConfig config = sax::load_train_config("config.json");   // or defaults
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "infer/features.h"
#include "infer/net_config.h"

namespace sax {

struct AugmentConfig {
  bool enabled = true;
  int time_masks = 2, time_mask_max = 12;  // SpecAugment: masks and their widest width (frames)
  int freq_masks = 2, freq_mask_max = 12;  // (mel bands)
  double gain_db = 6;                      // random gain +/- (log domain, before normalisation)
  double tilt_db = 6;        // random spectral tilt +/- across the bands (timbre robustness)
  int max_shift = 12;        // random circular time shift, frames
  double mixup_alpha = 0.2;  // 0: no mixup
};

// The 0.693 desert: the loss sits at ln 2 with chance-level predictions. Fixed recipe; tests
// tighten it to provoke a desert quickly.
struct DesertConfig {
  double tolerance = 0.02;  // |validation loss - ln 2| below this ...
  int epochs = 3;           // ... for this many consecutive epochs, with chance predictions
  int max_restarts = 3;     // new seeds tried before giving up
};

struct TrainConfig {
  // What trains: "efficientat" (EfficientAT mn04_as's AudioSet Saxophone output plus a head
  // learnt from the labels, starting at zero so that training begins from the zero-shot detector)
  // or "cnn" (the log-mel CNN from scratch: `net`, `features`).
  std::string kind = "efficientat";
  // efficientat: the last N of its 17 feature blocks (and classifier.2) train too, at a tenth of
  // lr, on cached log-mel with SpecAugment. 0: the body is frozen, its hidden vector is cached
  // and only the head trains (fast on a CPU).
  int unfreeze = 0;
  // The CNN's input. A user sets n_mels and frames (higher resolutions); the rate and window
  // length are the store's sample format (Store::sample_format), the rest is fixed.
  FeatureConfig features;
  // The CNN's architecture. A user sets depth, channels, hidden, dropout, head and gru.
  NetConfig net;
  AugmentConfig augment;  // a user switches it on or off ("augment": true / false)
  DesertConfig desert;
  int epochs = 30;
  int batch_size = 16;
  double lr = 1e-3;
  double weight_decay = 1e-4;  // L2 penalty (Adam's weight_decay)
  int patience = 8;            // early stopping: epochs without a better validation loss
  // Frame head: weight of the loss on each time step, for samples whose source has known sax
  // times (a synthetic library's truth, Store::sax_times), beside the window loss. 0: windows only.
  double step_weight = 1.0;
  uint64_t seed = 1;
  // Train this many runs, from seeds seed, seed + 1, ..., on the same split and keep the one
  // with the lowest validation loss: seeds of the CNN differ (docs/design.md). --resume skips
  // the finished seeds, and resuming with more seeds trains the new ones.
  int seeds = 1;
  // Learning curves: train on at most this many of the training samples (0: all), drawn at
  // random (split_seed); validation and test sets stay the same.
  int train_limit = 0;
  double validation_fraction = 0.15;
  double test_fraction = 0.2;  // the fixed test set: chosen by split_seed, never tuned on
  uint64_t split_seed = 7;
  int threads = 0;  // CPU threads; 0: all cores
  // Where the network trains: "auto" (a CUDA GPU when this LibTorch build has one, else the
  // CPU), "cpu" or "cuda". Losses and metrics stay on the CPU; the saved model runs anywhere.
  std::string device = "auto";

  bool trains_cnn() const { return kind == "cnn"; }
};

void to_json(nlohmann::json& j, const AugmentConfig& c);
void from_json(const nlohmann::json& j, AugmentConfig& c);
void to_json(nlohmann::json& j, const TrainConfig& c);
void from_json(const nlohmann::json& j, TrainConfig& c);
TrainConfig load_train_config(const std::filesystem::path& path);  // throws sax::Error
// How many settings the JSON holds (every leaf of to_json(TrainConfig{})).
inline constexpr int kUserSettings = 25;

// Flattened size after the conv blocks for this input (found by a dry forward pass); throws
// sax::Error when the input is too small for the depth.
int64_t fc_input_size(const NetConfig& net, int rows, int cols);

}  // namespace sax
