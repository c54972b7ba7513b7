// Real (small) training runs: learning a synthetic task, save and reload, the desert restart.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/time_ranges.h"
#include "infer/detector.h"
#include "model/train.h"
#include "model/trainer.h"
#include "store/store.h"
#include "support/testing.h"

namespace sax {
namespace {

// Small and fast: 2 s at 16 kHz as 48 mel bands x 48 frames.
FeatureConfig small_features() {
  FeatureConfig f;
  f.sample_rate = 16000;
  f.seconds = 2.0;
  f.n_mels = 48;
  f.frames = 48;
  f.n_fft = 512;
  return f;
}

// The CNN: train_core (the resume tests) trains the kind the config names.
TrainConfig small_config() {
  TrainConfig c;
  c.kind = "cnn";
  c.features = small_features();
  c.net.depth = 3;
  c.net.channels = 8;
  c.net.max_channels = 16;
  c.net.kernels = {3};
  c.net.hidden = 32;
  c.net.dropout = 0.1;
  c.epochs = 12;
  c.batch_size = 16;
  c.lr = 2e-3;
  c.patience = 4;
  c.seed = 3;
  c.threads = 2;
  return c;
}

// Class 0: a soft sine plus noise. Class 1: the same plus a harmonic-rich ("reedy") tone
// whose pitch wanders, the kind of band a saxophone adds to a mix.
std::vector<float> synthetic_clip(bool sax, std::mt19937_64& rng, const FeatureConfig& f) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t n = f.window_samples();
  std::vector<float> audio(n);
  const double bed_hz = 150 + 600 * u(rng), reed_hz = 200 + 300 * u(rng), vibrato = 4 + 3 * u(rng);
  std::normal_distribution<double> noise(0.0, 0.02);
  double phase = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / f.sample_rate;
    double v = 0.3 * std::sin(2 * M_PI * bed_hz * t) + noise(rng);
    if (sax) {
      phase += 2 * M_PI * reed_hz * (1 + 0.01 * std::sin(2 * M_PI * vibrato * t)) / f.sample_rate;
      for (int h = 1; h <= 8; ++h) v += 0.15 / h * std::sin(h * phase);
    }
    audio[i] = static_cast<float>(v);
  }
  return audio;
}

struct SyntheticTask {
  std::vector<std::vector<float>> audio;
  ArrayDataset data;
  Split split;
};

// ArrayDataset holds raw log-mel, like the disk cache.
std::vector<Spectrogram> raw_log_mel(const std::vector<std::vector<float>>& audio,
                                     FeatureConfig features) {
  features.normalise = "none";
  return log_mel_batch(audio, features);
}

// 24 "sources" of 6 clips each; every source holds both classes.
SyntheticTask make_task(const FeatureConfig& features, bool random_labels = false) {
  SyntheticTask task;
  std::mt19937_64 rng(42);
  std::vector<LabeledSample> listing;
  for (int source = 0; source < 24; ++source)
    for (int k = 0; k < 6; ++k) {
      const bool sax = k % 2 == 1;
      task.audio.push_back(synthetic_clip(sax, rng, features));
      task.data.labels.push_back(random_labels ? static_cast<int>(rng() % 2) : sax);
      task.data.groups.push_back(source);
      LabeledSample s;
      s.sample.source_id = source;
      s.label = task.data.labels.back() ? Label::sax : Label::not_sax;
      listing.push_back(s);
    }
  task.data.inputs = raw_log_mel(task.audio, features);
  task.split = grouped_split(listing, 0.2, 0.25, 1);
  return task;
}

TrainOptions quietly() {
  TrainOptions options;
  options.quiet = true;
  return options;
}

std::vector<int> labels_at(const SyntheticTask& task, const std::vector<size_t>& idx) {
  std::vector<int> out;
  for (size_t i : idx) out.push_back(task.data.labels[i]);
  return out;
}

TEST(Train, SmallModelLearnsASyntheticTaskSavesAndReloadsIdentically) {
  auto config = small_config();
  config.net.head = "window";
  const auto task = make_task(config.features);
  testing::TempDir dir;
  TrainOptions options = quietly();
  const auto result = train_arrays(task.data, task.split, config, dir / "m", options);
  EXPECT_GE(result.test.balanced_accuracy, 0.9);
  EXPECT_GE(result.test.roc_auc, 0.95);
  EXPECT_EQ(result.desert_restarts, 0);
  EXPECT_FALSE(result.history.empty());
  for (const char* file : {"model.safetensors", "model.json", "training.svg", "roc.svg"})
    EXPECT_TRUE(std::filesystem::exists(dir / "m" / file)) << file;
  const auto description = read_model_description(dir / "m");
  EXPECT_EQ(description.at("samples").at("test").get<size_t>(), result.test_samples);
  EXPECT_EQ(description.at("metrics").at("test").at("confusion").at("tp").get<int64_t>(),
            result.test.tp);
  EXPECT_FALSE(description.contains("step_threshold"));  // no sax times: no step metrics
  EXPECT_FALSE(description.at("metrics").contains("test_steps"));

  // The reloaded model, fed the test clips' audio, reproduces the test metrics exactly.
  auto scorer = load_detector(dir / "m");
  EXPECT_EQ(scorer->sample_rate(), 16000);
  EXPECT_DOUBLE_EQ(scorer->threshold(), result.validation.threshold);
  std::vector<std::vector<float>> test_audio;
  for (size_t i : task.split.test) test_audio.push_back(task.audio[i]);
  const auto p = scorer->score_windows(test_audio);
  const auto again = compute_metrics(p, labels_at(task, task.split.test), scorer->threshold());
  EXPECT_NEAR(again.roc_auc, result.test.roc_auc, 1e-9);
  EXPECT_EQ(again.tp, result.test.tp);
  EXPECT_EQ(again.tn, result.test.tn);
  EXPECT_EQ(load_detector(dir / "m")->score_windows(test_audio), p);
  EXPECT_EQ(scorer->step_seconds(), 0.0);  // a window model: no steps
  std::vector<float> steps{1.0f};
  scorer->score_sliding_steps(test_audio[0].data(), test_audio[0].size(), 800, steps);
  EXPECT_TRUE(steps.empty());

  // Sliding over two clips joined: the first window scores like the first clip alone.
  std::vector<float> joined = test_audio[0];
  joined.insert(joined.end(), test_audio[1].begin(), test_audio[1].end());
  const auto sliding =
      scorer->score_sliding(joined.data(), joined.size(), scorer->window_samples() / 2);
  ASSERT_EQ(sliding.size(), 3u);
  EXPECT_NEAR(sliding[0], p[0], 0.1);
  EXPECT_NEAR(sliding[2], p[1], 0.1);
}

// The clip's first half without the reed, its second half with it.
std::vector<float> reed_enters_halfway(const FeatureConfig& f) {
  std::mt19937_64 rng(7);
  auto clip = synthetic_clip(false, rng, f);
  const auto with_reed = synthetic_clip(true, rng, f);
  std::copy(with_reed.begin() + clip.size() / 2, with_reed.end(), clip.begin() + clip.size() / 2);
  return clip;
}

TEST(Train, FrameHeadLearnsFromWindowLabelsAndPlacesTheSaxInsideTheWindow) {
  auto config = small_config();
  config.net.head = "frames";
  config.net.frame_step = 4;  // 12 steps (FinerFrameStepsAreTaughtAndTimedToo takes 2)
  EXPECT_EQ(fc_input_size(config.net, 48, 48), 16);  // one step's channels
  const auto task = make_task(config.features);
  testing::TempDir dir;
  TrainOptions options = quietly();
  const auto result = train_arrays(task.data, task.split, config, dir / "m", options);
  EXPECT_GE(result.test.balanced_accuracy, 0.9);

  auto scorer = load_detector(dir / "m");
  const double step = 4.0 * config.features.hop() / config.features.sample_rate;
  EXPECT_DOUBLE_EQ(scorer->step_seconds(), step);
  const auto clip = reed_enters_halfway(config.features);
  std::vector<float> steps;
  const auto windows = scorer->score_sliding_steps(clip.data(), clip.size(), clip.size(), steps);
  ASSERT_EQ(windows.size(), 1u);
  ASSERT_EQ(steps.size(), 12u);  // 48 frames / 4
  double first_half = 0, second_half = 0, squares = 0, sum = 0;
  for (size_t j = 0; j < steps.size(); ++j) {
    (j < 6 ? first_half : second_half) += steps[j] / 6;
    squares += steps[j] * steps[j];
    sum += steps[j];
  }
  EXPECT_GT(second_half, first_half + 0.3);
  EXPECT_NEAR(windows[0], squares / sum, 1e-4);  // the window is its steps' linear softmax
  EXPECT_EQ(scorer->score_sliding(clip.data(), clip.size(), clip.size()), windows);
}

// Sax clips hold the reed for a random 20-45 % of the clip only; the frame targets say where.
SyntheticTask make_partial_task(const FeatureConfig& features) {
  auto task = make_task(features);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t n = features.window_samples();
  const double seconds = static_cast<double>(n) / features.sample_rate;
  for (size_t i = 0; i < task.audio.size(); ++i) {
    std::vector<TimeRange> sax;
    if (task.data.labels[i]) {
      const double length = seconds * (0.2 + 0.25 * u(rng)), start = (seconds - length) * u(rng);
      sax.emplace_back(start, start + length);
      auto plain = synthetic_clip(false, rng, features);
      const auto from = static_cast<size_t>(start * features.sample_rate),
                 to = std::min(n, static_cast<size_t>((start + length) * features.sample_rate));
      std::copy(task.audio[i].begin() + from, task.audio[i].begin() + to, plain.begin() + from);
      task.audio[i] = plain;
    }
    task.data.frames.push_back(column_targets(sax, 0, features));
  }
  task.data.inputs = raw_log_mel(task.audio, features);
  return task;
}

// The frame head, four columns per step: window labels alone place 24 finer steps nearly as
// well (F1 0.91 against 0.95 taught), 12 coarser ones clearly worse. FinerFrameSteps... trains 2.
TrainConfig four_column_steps() {
  auto config = small_config();
  config.net.head = "frames";
  config.net.frame_step = 4;
  return config;
}

TEST(Train, FrameTargetsTeachEachStepWhereTheSaxSounds) {
  auto config = four_column_steps();
  const auto task = make_partial_task(config.features);
  testing::TempDir dir;
  const auto taught = train_arrays(task.data, task.split, config, dir / "taught", quietly());
  config.step_weight = 0;  // window labels only
  const auto weak = train_arrays(task.data, task.split, config, dir / "weak", quietly());
  std::cerr << "steps balanced accuracy: taught " << taught.test_steps.balanced_accuracy << " (F1 "
            << taught.test_steps.f1 << "), window labels only " << weak.test_steps.balanced_accuracy
            << " (F1 " << weak.test_steps.f1 << ")\n";
  EXPECT_EQ(taught.timed_samples, task.audio.size());
  EXPECT_GT(taught.test_steps.tp + taught.test_steps.fn, 0);
  EXPECT_GE(taught.test_steps.balanced_accuracy, 0.9);
  EXPECT_GT(taught.test_steps.f1, weak.test_steps.f1 + 0.05);

  // The step threshold chosen on validation steps travels with the model.
  const auto description = read_model_description(dir / "taught");
  EXPECT_DOUBLE_EQ(description.at("step_threshold").get<double>(),
                   taught.validation_steps.threshold);
  EXPECT_DOUBLE_EQ(load_detector(dir / "taught")->step_threshold(),
                   taught.validation_steps.threshold);
}

TEST(Train, FinerFrameStepsAreTaughtAndTimedToo) {
  auto config = small_config();
  config.net.head = "frames";
  config.net.frame_step = 2;  // steps of two columns: the first block alone halves time
  const auto task = make_partial_task(config.features);
  testing::TempDir dir;
  const auto result = train_arrays(task.data, task.split, config, dir / "fine", quietly());
  EXPECT_GT(result.test_steps.tp + result.test_steps.fn, 0);
  EXPECT_GE(result.test_steps.balanced_accuracy, 0.9);
  EXPECT_DOUBLE_EQ(load_detector(dir / "fine")->step_seconds(),
                   2.0 * config.features.hop() / config.features.sample_rate);
}

TEST(Train, AGruFrameHeadIsTaughtAndDetectsWithoutLibTorch) {
  auto config = small_config();
  config.net.head = "frames";
  config.net.gru = 16;
  const auto task = make_partial_task(config.features);
  testing::TempDir dir;
  const auto result = train_arrays(task.data, task.split, config, dir / "crnn", quietly());
  EXPECT_GE(result.test_steps.balanced_accuracy, 0.9);
  // The model folder names its GRU, and the LibTorch-free detector runs it: the sax half of a
  // clip scores higher than the plain half.
  EXPECT_EQ(read_model_description(dir / "crnn").at("net").at("gru"), 16);
  auto scorer = load_detector(dir / "crnn");
  const auto clip = reed_enters_halfway(config.features);
  std::vector<float> steps;
  scorer->score_sliding_steps(clip.data(), clip.size(), clip.size(), steps);
  ASSERT_FALSE(steps.empty());
  const size_t half = steps.size() / 2;
  double first_half = 0, second_half = 0;
  for (size_t j = 0; j < steps.size(); ++j) (j < half ? first_half : second_half) += steps[j];
  EXPECT_GT(second_half / (steps.size() - half), first_half / half + 0.3);
}

TEST(Train, AFrameStepMustBeAPowerOfTwoTheBlocksCanPool) {
  nlohmann::json j = NetConfig{};
  for (int bad : {0, 3, 6, 64}) {  // 64 > 2^5, more than five blocks can halve
    j["frame_step"] = bad;
    try {
      j.get<NetConfig>();
      ADD_FAILURE() << "frame_step " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("frame_step"), std::string::npos) << e.what();
    }
  }
}

TEST(Train, AGruNeedsTheFrameHeadAndASizeOfZeroOrMore) {
  nlohmann::json j = NetConfig{};
  j["gru"] = 16;
  EXPECT_EQ(j.get<NetConfig>().gru, 16);
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, nlohmann::json>>{{"gru", -1}, {"head", "window"}}) {
    auto bad = j;
    bad[field] = value;
    try {
      bad.get<NetConfig>();
      ADD_FAILURE() << field << " " << value << " accepted with a GRU";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("gru"), std::string::npos) << e.what();
    }
  }
}

TEST(Train, TheGruIsAutoByDefaultAndSettledByTheLibrarySize) {
  const nlohmann::json j = NetConfig{};
  EXPECT_EQ(j.at("gru"), "auto");
  EXPECT_EQ(j.get<NetConfig>().gru, kGruAuto);
  for (const nlohmann::json& bad : {nlohmann::json("some"), nlohmann::json(2.5)}) {
    auto wrong = j;
    wrong["gru"] = bad;
    EXPECT_THROW(wrong.get<NetConfig>(), Error) << bad;
  }
  NetConfig frames;
  frames.head = "frames";
  EXPECT_EQ(settle_gru(frames, kAutoGruFromSamples - 1).gru, 0);
  EXPECT_EQ(settle_gru(frames, kAutoGruFromSamples).gru, kAutoGruUnits);
  NetConfig window;
  window.head = "window";
  EXPECT_EQ(settle_gru(window, 100000).gru, 0);
  frames.gru = 16;  // a number is kept
  EXPECT_EQ(settle_gru(frames, 0).gru, 16);
}

TEST(Train, AnAutoGruIsSettledByTheSizeOfTheTrainingSet) {
  auto config = small_config();
  config.epochs = 1;
  ASSERT_EQ(config.net.gru, kGruAuto);
  const auto task = make_task(config.features);
  testing::TempDir dir;
  const auto gru_of = [&](const char* model) {
    const auto described = read_model_description(dir / model);
    EXPECT_EQ(described.at("config").at("net").at("gru"), described.at("net").at("gru"));
    return described.at("net").at("gru").get<int>();
  };
  train_arrays(task.data, task.split, config, dir / "small", quietly());
  EXPECT_EQ(gru_of("small"), 0);
  // The same clips drawn often enough: a training set of the size that gets a GRU.
  auto large = task.split;
  while (large.train.size() < kAutoGruFromSamples)
    large.train.insert(large.train.end(), task.split.train.begin(), task.split.train.end());
  train_arrays(task.data, large, config, dir / "large", quietly());
  EXPECT_EQ(gru_of("large"), kAutoGruUnits);
}

TEST(Train, AnUnknownHeadIsRejected) {
  EXPECT_THROW(
      {
        NetConfig net;
        nlohmann::json j = net;
        j["head"] = "pixels";
        j.get<NetConfig>();
      },
      Error);
}

TEST(Train, SameSeedSameResultOnCpu) {
  auto config = small_config();
  config.epochs = 2;
  const auto task = make_task(config.features);
  TrainOptions options = quietly();
  const auto a = train_arrays(task.data, task.split, config, {}, options);
  const auto b = train_arrays(task.data, task.split, config, {}, options);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t e = 0; e < a.history.size(); ++e)
    EXPECT_DOUBLE_EQ(a.history[e].validation_loss, b.history[e].validation_loss)
        << "epoch " << e + 1;
  EXPECT_DOUBLE_EQ(a.test.roc_auc, b.test.roc_auc);
}

// Seeds 4, 5 and 6: on make_task the middle one has the lowest validation loss.
TrainConfig three_seeds(int epochs) {
  auto config = small_config();
  config.epochs = epochs;
  config.seed = 4;
  config.seeds = 3;
  return config;
}

TEST(Train, SeedsAreEachTrainedAndTheLowestValidationLossIsKept) {
  const auto config = three_seeds(3);
  const auto task = make_task(config.features);
  testing::TempDir dir;
  TrainOptions options = quietly();
  const auto result = train_arrays(task.data, task.split, config, dir / "m", options);
  ASSERT_EQ(result.seed_runs.size(), 3u);
  const SeedRun* lowest = &result.seed_runs.front();
  for (size_t k = 0; k < 3; ++k) {
    const auto& run = result.seed_runs[k];
    EXPECT_EQ(run.seed, config.seed + k);
    EXPECT_EQ(run.epochs, 3);
    if (run.best_validation_loss < lowest->best_validation_loss) lowest = &run;
  }
  // Seeds 4..6 here put the lowest loss in the middle, so keeping the first or the last seed
  // (or the last one trained) cannot pass.
  ASSERT_TRUE(lowest != &result.seed_runs.front() && lowest != &result.seed_runs.back())
      << "the lowest validation loss is the first or last seed's; pick seeds that put it between";
  EXPECT_EQ(result.seed, lowest->seed);
  EXPECT_EQ(result.best_epoch, lowest->best_epoch);
  double history_best = INFINITY;
  for (const auto& e : result.history) history_best = std::min(history_best, e.validation_loss);
  EXPECT_DOUBLE_EQ(history_best, lowest->best_validation_loss);  // the kept run's history
  // The kept network is that seed's: trained alone, it scores the test set the same.
  auto alone = config;
  alone.seeds = 1;
  alone.seed = lowest->seed;
  const auto single = train_arrays(task.data, task.split, alone, {}, options);
  EXPECT_DOUBLE_EQ(single.test.roc_auc, result.test.roc_auc);
  EXPECT_EQ(single.test.tp, result.test.tp);
  EXPECT_EQ(single.test.fp, result.test.fp);
  const auto description = read_model_description(dir / "m");
  EXPECT_EQ(description.at("seed").get<uint64_t>(), lowest->seed);
  EXPECT_EQ(description.at("seed_runs").size(), 3u);
  EXPECT_EQ(description.at("config").at("seeds").get<int>(), 3);
}

// Serves the training data as train_arrays does and raises the stop flag, as Ctrl-C does, once
// it has served `stop_after` batches: an interruption at the same point on every run.
class StoppingSource : public FeatureSource {
 public:
  StoppingSource(const SyntheticTask& task, const FeatureConfig& features, size_t stop_after)
      : source_(stack_spectrograms(task.data, features)), stop_after_(stop_after) {}
  torch::Tensor get(const std::vector<size_t>& indices) const override {
    if (++served_ >= stop_after_) stop.store(true);
    return source_.get(indices);
  }
  size_t served() const { return served_; }
  mutable std::atomic<bool> stop{false};

 private:
  TensorSource source_;
  size_t stop_after_;
  mutable size_t served_ = 0;
};

TrainResult train_from(const StoppingSource& source, const SyntheticTask& task,
                       const TrainConfig& config, const std::filesystem::path& dir,
                       TrainOptions options) {
  return train_core(source, task.data.labels, task.data.frames, task.split, config, dir, options)
      .result;
}

void expect_same_training(const TrainResult& a, const TrainResult& b) {
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t e = 0; e < a.history.size(); ++e) {
    EXPECT_DOUBLE_EQ(a.history[e].train_loss, b.history[e].train_loss) << "epoch " << e + 1;
    EXPECT_DOUBLE_EQ(a.history[e].validation_loss, b.history[e].validation_loss)
        << "epoch " << e + 1;
  }
  ASSERT_EQ(a.seed_runs.size(), b.seed_runs.size());
  for (size_t k = 0; k < a.seed_runs.size(); ++k) {
    EXPECT_EQ(a.seed_runs[k].seed, b.seed_runs[k].seed);
    EXPECT_DOUBLE_EQ(a.seed_runs[k].best_validation_loss, b.seed_runs[k].best_validation_loss);
    EXPECT_EQ(a.seed_runs[k].epochs, b.seed_runs[k].epochs);
  }
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.best_epoch, b.best_epoch);
  EXPECT_EQ(a.desert_restarts, b.desert_restarts);
  EXPECT_DOUBLE_EQ(a.test.roc_auc, b.test.roc_auc);
  EXPECT_EQ(a.test.tp, b.test.tp);
  EXPECT_EQ(a.test.fp, b.test.fp);
}

// Trains without a stop, then stops after `share` of the same batches and resumes: the resumed
// run must end where the unstopped one did. Returns the interrupted result for the caller's
// preconditions on where the stop landed.
TrainResult expect_resume_matches_unstopped(const SyntheticTask& task, const TrainConfig& config,
                                            double share) {
  testing::TempDir dir;
  TrainOptions options = quietly();
  const StoppingSource whole(task, config.features, SIZE_MAX);
  const auto unstopped = train_from(whole, task, config, dir / "whole", options);

  const StoppingSource stopping(task, config.features, static_cast<size_t>(share * whole.served()));
  options.stop = &stopping.stop;
  const auto interrupted = train_from(stopping, task, config, dir / "m", options);
  EXPECT_TRUE(interrupted.stopped);

  options.stop = nullptr;
  options.resume = true;
  const StoppingSource rest(task, config.features, SIZE_MAX);
  const auto resumed = train_from(rest, task, config, dir / "m", options);
  EXPECT_FALSE(resumed.stopped);
  EXPECT_LT(rest.served(), whole.served()) << "the finished epochs were trained again";
  expect_same_training(unstopped, resumed);
  return interrupted;
}

TEST(Train, AnInterruptedRunResumesToTheResultOfARunNeverStopped) {
  auto config = small_config();
  config.epochs = 4;
  const auto task = make_task(config.features);
  const auto interrupted = expect_resume_matches_unstopped(task, config, 0.6);
  EXPECT_GE(interrupted.history.size(), 1u);
  EXPECT_LT(interrupted.history.size(), 4u);
}

TEST(Train, InterruptedSeedsResumeFromTheSeedInProgressKeepingTheFinishedOnes) {
  const auto config = three_seeds(3);
  const auto task = make_task(config.features);
  const auto interrupted = expect_resume_matches_unstopped(task, config, 0.5);
  ASSERT_EQ(interrupted.seed_runs.size(), 2u) << "the stop should land in the second seed";
  EXPECT_EQ(interrupted.seed_runs[1].seed, 5u);
  EXPECT_LT(interrupted.seed_runs[1].epochs, 3);
}

// Every input identical: nothing separates the classes, so the best the net can do is a
// constant 0.5; the class-balanced loss settles at ln 2 with chance-level predictions. The
// config detects that in two epochs and restarts once.
TrainConfig desert_config() {
  auto config = small_config();
  config.epochs = 6;
  config.patience = 6;
  config.desert.epochs = 2;
  config.desert.tolerance = 0.05;
  config.desert.max_restarts = 1;
  return config;
}
SyntheticTask stuck_task(const FeatureConfig& features) {
  auto task = make_task(features);
  for (auto& input : task.data.inputs) input = task.data.inputs.front();
  return task;
}

TEST(Train, ARunInterruptedInADesertRestartResumesThatRestart) {
  const auto config = desert_config();
  const auto task = stuck_task(config.features);
  const auto interrupted = expect_resume_matches_unstopped(task, config, 0.75);
  EXPECT_EQ(interrupted.desert_restarts, 1) << "the stop should land in the restart";
}

TEST(Train, ResumingWithMoreSeedsTrainsOnlyTheNewOnes) {
  const auto config = three_seeds(2);
  const auto task = make_task(config.features);
  testing::TempDir dir;
  TrainOptions options = quietly();
  const StoppingSource whole(task, config.features, SIZE_MAX);
  const auto three = train_from(whole, task, config, dir / "three", options);
  auto two = config;
  two.seeds = 2;
  const StoppingSource first(task, config.features, SIZE_MAX);
  train_from(first, task, two, dir / "m", options);
  options.resume = true;
  const StoppingSource more(task, config.features, SIZE_MAX);
  const auto extended = train_from(more, task, config, dir / "m", options);
  EXPECT_LT(more.served(), first.served()) << "seeds 4 and 5 were trained again";
  expect_same_training(three, extended);
}

TEST(Train, SeedsMustBeOneOrMoreAndResumeTheSameSeeds) {
  nlohmann::json j = TrainConfig{};
  j["seeds"] = 0;
  const auto zero = testing::error_of([&] { j.get<TrainConfig>(); });
  EXPECT_NE(zero.find("seeds"), std::string::npos) << zero;
  auto config = small_config();
  config.epochs = 1;
  config.seeds = 2;
  const auto task = make_task(config.features);
  testing::TempDir dir;
  TrainOptions options = quietly();
  train_arrays(task.data, task.split, config, dir / "m", options);
  options.resume = true;
  auto expect_refused = [&](const TrainConfig& changed, const std::string& message) {
    const auto error = testing::error_of(
        [&] { train_arrays(task.data, task.split, changed, dir / "m", options); });
    EXPECT_NE(error.find(message), std::string::npos) << error;
  };
  auto other_seed = config;
  other_seed.seed = config.seed + 1;
  expect_refused(other_seed, fmt::format("changed: seed ({} -> {})", config.seed, other_seed.seed));
  auto fewer = config;
  fewer.seeds = 1;
  expect_refused(fewer, "(\"seeds\")");

  // A damaged record is an error naming it, and leaves it for the user to look at.
  const auto record = dir / "m" / "checkpoint" / "seeds.json";
  ASSERT_TRUE(std::filesystem::exists(record));
  std::ofstream(record) << "{\"first_seed\": 3, \"ru";
  const auto damaged =
      testing::error_of([&] { train_arrays(task.data, task.split, config, dir / "m", options); });
  EXPECT_NE(damaged.find(record.string()), std::string::npos) << damaged;
  EXPECT_TRUE(std::filesystem::exists(record));
}

// "auto" trains on a CUDA GPU where there is one; "cuda" without one is refused before any
// work, naming the field; the device used is recorded.
TEST(Train, TheDeviceIsChosenAtRunTimeCheckedAndRecorded) {
  nlohmann::json j = TrainConfig{};
  j["device"] = "tpu";
  const auto tpu = testing::error_of([&] { j.get<TrainConfig>(); });
  EXPECT_NE(tpu.find("device"), std::string::npos) << tpu;
  auto config = small_config();
  config.epochs = 1;
  const auto task = make_task(config.features);
  testing::TempDir dir;
  TrainOptions options = quietly();
  config.device = "cpu";
  const auto on_cpu = train_arrays(task.data, task.split, config, dir / "cpu", options);
  EXPECT_EQ(on_cpu.device, "cpu");
  EXPECT_EQ(read_model_description(dir / "cpu").at("device"), "cpu");
  const bool gpu = torch::cuda::is_available();
  config.device = "auto";
  EXPECT_EQ(train_arrays(task.data, task.split, config, {}, options).device, gpu ? "cuda" : "cpu");
  config.device = "cuda";
  if (gpu) {
    config.epochs = small_config().epochs;
    const auto on_gpu = train_arrays(task.data, task.split, config, dir / "gpu", options);
    EXPECT_EQ(on_gpu.device, "cuda");
    EXPECT_GE(on_gpu.test.roc_auc, 0.95);  // as SmallModelLearnsASyntheticTask... on the CPU
    return;
  }
  const auto no_gpu =
      testing::error_of([&] { train_arrays(task.data, task.split, config, {}, options); });
  EXPECT_NE(no_gpu.find("\"cuda\""), std::string::npos) << no_gpu;
}

TEST(Train, TrainLimitTrainsOnThatManySamplesOnly) {
  auto config = small_config();
  config.epochs = 1;
  config.train_limit = 20;
  const auto task = make_task(config.features);
  ASSERT_GT(task.split.train.size(), 20u);
  TrainOptions options = quietly();
  const auto limited = train_arrays(task.data, task.split, config, {}, options);
  EXPECT_EQ(limited.train_samples, 20u);
  EXPECT_EQ(limited.validation_samples, task.split.validation.size());  // the same sets
  EXPECT_EQ(limited.test_samples, task.split.test.size());
}

TEST(Train, DesertDetectedAndRestartedOnAStuckRun) {
  const auto config = desert_config();
  const auto task = stuck_task(config.features);
  TrainOptions options = quietly();
  const auto result = train_arrays(task.data, task.split, config, {}, options);
  EXPECT_EQ(result.desert_restarts, 2);  // the first run and its one restart both stuck
  ASSERT_FALSE(result.history.empty());
  EXPECT_NEAR(result.history.back().validation_loss, std::log(2.0), 0.05);
  EXPECT_NEAR(result.test.balanced_accuracy, 0.5, 0.05);
}

TEST(Train, MissingModelSaysHowToGetOne) {
  testing::TempDir dir;
  try {
    load_detector(dir.path());
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("saxdetect train"), std::string::npos) << e.what();
  }
  EXPECT_THROW(current_model_dir(dir.path()), std::exception);
  std::filesystem::create_directories(dir / "m1");
  std::ofstream(dir / "current") << "m1\n";
  EXPECT_EQ(current_model_dir(dir.path()), dir / "m1");
}

}  // namespace
}  // namespace sax
