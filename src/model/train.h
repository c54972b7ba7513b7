#pragma once
// Training, cross-validation and hyper-parameter search for the saxophone detector: EfficientAT
// with a correction learnt from the labels (the default) or the CNN from scratch.
// LibTorch-free header: the CLI, the demo and the web app include it.
//
//   sax::TrainConfig config = sax::load_train_config("config.json");   // or defaults
//   auto result = sax::train_model(*store, home, config, {.name = "m1"});
//   fmt::print("test balanced accuracy {}\n", result.test.balanced_accuracy);
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/time_ranges.h"
#include "model/config.h"
#include "model/metrics.h"
#include "model/split.h"

namespace sax {

class Store;
struct Home;
struct LabeledSample;

// ---- training ---------------------------------------------------------------------------

// train_loss adds the step loss (times step_weight) where sax times are known; the validation
// loss is the window loss alone, so the desert still sits at ln 2.
struct EpochRecord {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0, validation_loss = 0, validation_accuracy = 0;
  double validation_balanced_accuracy = 0, lr = 0, seconds = 0;
};

void to_json(nlohmann::json& j, const EpochRecord& e);
void from_json(const nlohmann::json& j, EpochRecord& e);

struct TrainOptions {
  std::string name;  // model folder under home/models (default: timestamp)
  // Continue from home/models/<name>/checkpoint as if never stopped (on the CPU, to the bit).
  bool resume = false;
  bool make_current = true;                 // write home/models/current
  bool predict_store = true;                // score every sample and Store::put_predictions
  bool quiet = false;                       // no progress line
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by Ctrl-C) to stop after this batch
};

// One seed's run of TrainConfig::seeds, desert restarts included.
struct SeedRun {
  uint64_t seed = 0;
  double best_validation_loss = 0;
  int best_epoch = 0, epochs = 0;
};
void to_json(nlohmann::json& j, const SeedRun& s);
void from_json(const nlohmann::json& j, SeedRun& s);

// A kind that starts as a working detector (efficientat) is measured on the validation samples
// before training; a trained model that ranks them worse (lower ROC-AUC) or fits them worse
// (higher class-weighted loss) is flagged and never made current: labels must not make it worse.
struct ZeroShotCheck {
  Metrics validation;                  // of the untrained model, at its own best threshold
  Metrics test;                        // of the untrained model, at that threshold
  double validation_loss = 0;          // class-weighted, as training's validation loss
  double trained_validation_loss = 0;  // the same for the trained model
  bool worse = false;
};
void to_json(nlohmann::json& j, const ZeroShotCheck& z);

struct TrainResult {
  std::filesystem::path model_dir;
  Metrics validation, test;
  std::optional<ZeroShotCheck> zero_shot;
  // Per time step (frame head), over the validation and test samples with known sax times; the
  // step threshold is chosen on validation steps. All zero when no sample has them.
  Metrics validation_steps, test_steps;
  size_t timed_samples = 0;          // samples with known sax times, over all three sets
  std::vector<EpochRecord> history;  // of the kept run
  int best_epoch = 0;
  std::vector<SeedRun> seed_runs;  // every seed trained, in order; the kept one is `seed`
  uint64_t seed = 0;
  int desert_restarts = 0;  // runs abandoned in the desert, over all seeds
  bool stopped = false;     // interrupted; the best checkpoint so far was kept
  size_t train_samples = 0, validation_samples = 0, test_samples = 0;
  double seconds = 0, samples_per_second = 0;
  std::string device;  // where it trained: "cpu" or "cuda"

  // Validation steps with a saxophone were scored, so the step threshold means something.
  bool steps_measured() const { return validation_steps.tp + validation_steps.fn > 0; }
  bool worse_than_zero_shot() const { return zero_shot && zero_shot->worse; }
};
// The result half of model.json: thresholds, "metrics" (validation, test and, when measured,
// validation_steps and test_steps), history, samples, timing, and for a kind with a zero-shot
// start "zero_shot" and "worse_than_zero_shot". save_model_folder adds the model.
void to_json(nlohmann::json& j, const TrainResult& r);

// Trains on the store's reconciled labels, evaluates on the fixed test set, saves the model
// folder (see detector.h) and makes it current unless it is worse than zero-shot. Throws
// sax::Error when there is too little labelled data.
TrainResult train_model(Store& store, const Home& home, const TrainConfig& config,
                        const TrainOptions& options = {});

// Per sample, the sax share of each spectrogram column (empty when the sax times are unknown).
using FrameTargets = std::vector<std::vector<float>>;
// The sax share of each column of the spectrogram of a window starting `start` seconds into a
// song with these sax times; column j is centred on j frame hops.
std::vector<float> column_targets(const std::vector<TimeRange>& sax, double start,
                                  const FeatureConfig& features);

// In-memory data for training without a store (tests, benchmarks): spectrograms already
// computed (not normalised) with `config.features`, labels 0/1, group = source, and optionally
// frame targets (empty, or one entry per input).
struct ArrayDataset {
  std::vector<Spectrogram> inputs;
  std::vector<int> labels;
  std::vector<int64_t> groups;
  FrameTargets frames;
};
// Trains the CNN (whatever config.kind says: these are its spectrograms) on train/validation
// indices and evaluates on test; saves to `model_dir` when not empty.
TrainResult train_arrays(const ArrayDataset& data, const Split& split, const TrainConfig& config,
                         const std::filesystem::path& model_dir, const TrainOptions& options = {});

// ---- cross-validation ---------------------------------------------------------------------

struct CvResult {
  std::vector<Metrics> folds;
  Metrics mean, spread;  // spread: standard deviation of each metric over the folds
  int desert_restarts = 0;
  // A kind that starts as a detector: the untrained model on each fold's test samples, so that
  // what the labels bought is read fold by fold.
  std::vector<Metrics> zero_shot_folds;
  Metrics zero_shot_mean, zero_shot_spread;
};
void to_json(nlohmann::json& j, const CvResult& r);
// Grouped k-fold over the non-test samples (the fixed test set stays out of tuning).
CvResult cross_validate(Store& store, const Home& home, const TrainConfig& config, int folds,
                        bool quiet = false, const std::atomic<bool>* stop = nullptr);

}  // namespace sax
