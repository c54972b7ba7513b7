#pragma once
// Training, cross-validation and hyper-parameter search for the saxophone detector: EfficientAT
// with a correction learnt from the labels (the default), the CNN from scratch, or YAMNet.
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
#include "infer/features.h"
#include "infer/net_config.h"

namespace sax {

class Store;
struct Home;
struct LabeledSample;

// ---- configuration ----------------------------------------------------------------------

struct AugmentConfig {
  bool enabled = true;
  int time_masks = 2, time_mask_max = 12;  // SpecAugment: masks and their widest width (frames)
  int freq_masks = 2, freq_mask_max = 12;  // (mel bands)
  double gain_db = 6;                      // random gain +/- (log domain, before normalisation)
  double tilt_db = 6;        // random spectral tilt +/- across the bands (timbre robustness)
  double eq_db = 0;          // random smooth EQ +/-: gains at 4 bands, linear between (timbre)
  int mel_shift = 0;         // random shift of the spectrum by up to this many mel bands
  int max_shift = 12;        // random circular time shift, frames
  double mixup_alpha = 0.2;  // 0: no mixup
};

// The 0.693 desert: the loss sits at ln 2 with chance-level predictions.
struct DesertConfig {
  double tolerance = 0.02;  // |validation loss - ln 2| below this ...
  int epochs = 3;           // ... for this many consecutive epochs, with chance predictions
  int max_restarts = 3;     // new seeds tried before giving up
};

// Transfer learning: a pretrained network (YAMNet, written by `saxdetect backbone import`) whose
// 1024-d patch embeddings feed a new binary head (NetConfig's hidden and dropout) instead of the
// CNN. Its input is its own log-mel front end (16 kHz); `features.seconds` is still the window.
struct BackboneConfig {
  std::string file;       // the backbone model file; empty: train the CNN from scratch
  int freeze = 14;        // first layers kept fixed; 14 (all): only the head trains
  double lr_scale = 0.1;  // learning rate of the unfrozen backbone layers, relative to lr
  bool enabled() const { return !file.empty(); }
};

struct TrainConfig {
  // What trains: "efficientat" (EfficientAT mn04_as's AudioSet Saxophone output plus a head
  // learnt from the labels, starting at zero so that training begins from the zero-shot detector)
  // or "cnn" (the log-mel CNN from scratch: `net`, `features`, `init`). A backbone overrides both.
  std::string kind = "efficientat";
  // efficientat: the last N of its 17 feature blocks (and classifier.2) train too, at
  // unfreeze_lr_scale times lr, on cached log-mel with SpecAugment. 0: the body is frozen, its
  // hidden vector is cached and only the head trains (fast on a CPU).
  int unfreeze = 0;
  double unfreeze_lr_scale = 0.1;
  FeatureConfig features;
  NetConfig net;
  BackboneConfig backbone;
  AugmentConfig augment;
  DesertConfig desert;
  int epochs = 30;  // with patience 8: the run that met issue 5 (docs/detection.md)
  int batch_size = 16;
  double lr = 1e-3;
  double weight_decay = 1e-4;       // L2 penalty (Adam's weight_decay)
  std::string schedule = "cosine";  // "cosine", "step" (x0.5 every 8 epochs) or "constant"
  int patience = 8;                 // early stopping: epochs without a better validation loss
  double clip_norm = 5.0;           // gradient norm clipping (0: off)
  // Frame head: weight of the loss on each time step, for samples whose source has known sax
  // times (a synthetic library's truth, Store::sax_times), beside the window loss. 0: windows only.
  double step_weight = 1.0;
  // The step threshold: the lowest one whose validation step F1 is within this of the best (0:
  // the best). F1 is flat near its best, and seeds' best points lay 0.69-0.81; at 0.01 three
  // seeds on 300 songs placed 68-69 % of unseen passages instead of 66-71 %, but at 1,020 songs
  // a seed placed 78.6 % instead of 82.0 %, so it stays off (docs/detection.md).
  double step_plateau = 0;
  uint64_t seed = 1;
  // Train this many runs, from seeds seed, seed + 1, ..., on the same split and keep the one
  // with the lowest validation loss: the GRU's seeds spread 5 points of placed passages on
  // unseen timbres, and on two sets of three seeds that rule kept a model meeting issue 6's
  // targets each time, the best of one set and the second of the other (detection.md).
  // --resume skips the finished seeds, and resuming with more seeds trains the new ones.
  int seeds = 1;
  // Learning curves: train on at most this many of the training samples (0: all), drawn at
  // random (split_seed); validation and test sets stay the same.
  int train_limit = 0;
  // Transfer from our own pretraining: start the CNN from this model folder's weights (same
  // architecture), e.g. a model trained on `saxdetect synth` music. Empty: Kaiming init.
  std::string init;
  double validation_fraction = 0.15;
  double test_fraction = 0.2;  // the fixed test set: chosen by split_seed, never tuned on
  uint64_t split_seed = 7;
  int threads = 0;  // CPU threads; 0: all cores
  // Where the network trains: "auto" (a CUDA GPU when this LibTorch build has one, else the
  // CPU), "cpu" or "cuda". Losses and metrics stay on the CPU; the saved model runs anywhere.
  std::string device = "auto";

  bool trains_cnn() const { return !backbone.enabled() && kind == "cnn"; }
};

void to_json(nlohmann::json& j, const AugmentConfig& c);
void from_json(const nlohmann::json& j, AugmentConfig& c);
void to_json(nlohmann::json& j, const DesertConfig& c);
void from_json(const nlohmann::json& j, DesertConfig& c);
void to_json(nlohmann::json& j, const BackboneConfig& c);
void from_json(const nlohmann::json& j, BackboneConfig& c);
void to_json(nlohmann::json& j, const TrainConfig& c);
void from_json(const nlohmann::json& j, TrainConfig& c);
TrainConfig load_train_config(const std::filesystem::path& path);  // throws sax::Error

// Flattened size after the conv blocks for this input (found by a dry forward pass); throws
// sax::Error when the input is too small for the depth.
int64_t fc_input_size(const NetConfig& net, int rows, int cols);

// ---- metrics ----------------------------------------------------------------------------

struct Metrics {
  double threshold = 0.5;
  double accuracy = 0, balanced_accuracy = 0, precision = 0, recall = 0, f1 = 0;
  double roc_auc = 0, pr_auc = 0, loss = 0;
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
};
void to_json(nlohmann::json& j, const Metrics& m);

// labels: 1 sax, 0 not; probabilities in [0, 1].
Metrics compute_metrics(const std::vector<float>& probabilities, const std::vector<int>& labels,
                        double threshold);
// The threshold maximising balanced accuracy (a window's verdict) or F1 (time steps, whose
// rarer sax steps should not buy recall with many false alarms); ties: nearest 0.5. With a
// plateau above 0: the lowest threshold whose score is within `plateau` of the best.
enum class ThresholdGoal { balanced_accuracy, f1 };
double choose_threshold(const std::vector<float>& probabilities, const std::vector<int>& labels,
                        ThresholdGoal goal = ThresholdGoal::balanced_accuracy, double plateau = 0);
// ROC curve points (false positive rate, true positive rate), from (0,0) to (1,1).
std::vector<std::pair<double, double>> roc_curve(const std::vector<float>& probabilities,
                                                 const std::vector<int>& labels);

// ---- splits -----------------------------------------------------------------------------

struct Split {
  std::vector<size_t> train, validation, test;  // indices into the sample list
};
// Grouped by recording (LabeledSample::group(): all samples of a song, and of excerpts or
// copies of it with the same tags, land on one side), stratified by label (groups
// are dealt so each side gets about its share of sax samples). Deterministic for a seed.
Split grouped_split(const std::vector<LabeledSample>& samples, double validation_fraction,
                    double test_fraction, uint64_t seed);
// k folds of indices, grouped and stratified the same way; every index in exactly one fold.
std::vector<std::vector<size_t>> grouped_folds(const std::vector<LabeledSample>& samples,
                                               const std::vector<size_t>& indices, int folds,
                                               uint64_t seed);

// ---- the desert -------------------------------------------------------------------------

// Fed once per epoch; fires after `epochs` consecutive epochs with the validation loss within
// tolerance of ln 2 AND chance-level predictions (balanced accuracy within 0.05 of 0.5), in a
// run that has never got below ln 2 - tolerance. A run that learned and then drifted back is not
// in the desert: a restart would throw away a useful best checkpoint (early stopping ends it).
class DesertDetector {
 public:
  explicit DesertDetector(DesertConfig config) : config_(config) {}
  bool update(double validation_loss, double balanced_accuracy);
  int stuck_epochs() const { return stuck_; }

 private:
  DesertConfig config_;
  int stuck_ = 0;
  bool learned_ = false;
};

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

// ---- self-supervised pretraining ---------------------------------------------------------

struct PretrainResult {
  std::filesystem::path model_dir;
  std::vector<double> losses;  // contrastive loss per epoch
  size_t samples = 0;
  double seconds = 0;
};

// Contrastive pretraining (SimCLR's NT-Xent loss, temperature 0.2) of the CNN's conv blocks on
// two augmented views (config.augment without mixup) of every non-silent sample in the store,
// labelled or not. Saves a model folder whose conv blocks a later `train` starts from with
// {"init": "<home>/models/NAME"}; its head is untrained, so it is never made current.
PretrainResult pretrain_model(Store& store, const Home& home, const TrainConfig& config,
                              const TrainOptions& options = {});
// The same on spectrograms in memory (`data.labels` unused); saves to model_dir when not empty.
PretrainResult pretrain_arrays(const ArrayDataset& data, const TrainConfig& config,
                               const std::filesystem::path& model_dir,
                               const TrainOptions& options = {});

// ---- cross-validation and search --------------------------------------------------------

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

// A search space: JSON object of dotted TrainConfig paths -> lists of values (grid) or, for
// random search, either lists (uniform choice) or {"min":a,"max":b[,"log":true][,"int":true]}.
//   {"lr": [1e-3, 3e-4], "net.depth": [3, 4], "features.n_mels": [64, 128]}
struct SearchPoint {
  std::string overrides;  // the point of the space, as compact JSON {"lr":0.001,...}
  TrainConfig config;     // base with the overrides applied
};
std::vector<SearchPoint> grid_points(const TrainConfig& base, const nlohmann::json& space);
std::vector<SearchPoint> random_points(const TrainConfig& base, const nlohmann::json& space,
                                       int trials, uint64_t seed);

struct SearchTrial {
  SearchPoint point;
  CvResult cv;
};
// Scores every point by cross-validation; best first (balanced accuracy, then ROC-AUC).
std::vector<SearchTrial> search(Store& store, const Home& home,
                                const std::vector<SearchPoint>& points, int folds,
                                bool quiet = false, const std::atomic<bool>* stop = nullptr);

// Ctrl-C for long training: the first SIGINT sets the returned flag (pass it as
// TrainOptions::stop; training stops after the current batch, keeping the best checkpoint),
// a second one ends the program at once.
const std::atomic<bool>* stop_on_interrupt();

}  // namespace sax
