#pragma once
// What training reports: per epoch, per seed, the comparison with zero-shot, the whole run and
// cross-validation, each with the JSON that model.json, checkpoints and --json print.
// LibTorch-free.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/metrics.h"

namespace sax {

// train_loss adds the step loss (times step_weight) where sax times are known; the validation
// loss is the window loss alone, so the desert still sits at ln 2.
struct EpochRecord {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0, validation_loss = 0, validation_accuracy = 0;
  double validation_balanced_accuracy = 0, lr = 0, seconds = 0;
};

void to_json(nlohmann::json& j, const EpochRecord& e);
void from_json(const nlohmann::json& j, EpochRecord& e);

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

}  // namespace sax
