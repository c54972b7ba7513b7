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
#include "model/result.h"
#include "model/split.h"

namespace sax {

class Store;
struct Home;
struct LabeledSample;

// ---- training ---------------------------------------------------------------------------

struct TrainOptions {
  std::string name;  // model folder under home/models (default: timestamp)
  // Continue from home/models/<name>/checkpoint as if never stopped (on the CPU, to the bit).
  bool resume = false;
  bool make_current = true;                 // write home/models/current
  bool predict_store = true;                // score every sample and Store::put_predictions
  bool quiet = false;                       // no progress line
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by Ctrl-C) to stop after this batch
};

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

// Grouped k-fold over the non-test samples (the fixed test set stays out of tuning).
CvResult cross_validate(Store& store, const Home& home, const TrainConfig& config, int folds,
                        bool quiet = false, const std::atomic<bool>* stop = nullptr);

}  // namespace sax
