// Training, cross-validation and store predictions over the sample store (LibTorch).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <numeric>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/progress.h"
#include "model/dataset.h"
#include "model/trainer.h"
#include "store/store.h"

namespace sax {

namespace fs = std::filesystem;

namespace {

// Fewer labelled samples than this cannot give a meaningful train/validation/test split.
constexpr size_t kMinimumLabelled = 20;

// Features of a list of store samples, read from the disk cache.
class CacheSource : public FeatureSource {
 public:
  CacheSource(const FeatureCache& cache, std::vector<const Sample*> samples)
      : cache_(cache), samples_(std::move(samples)) {}
  torch::Tensor get(const std::vector<size_t>& indices) const override {
    std::vector<const Sample*> chosen;
    chosen.reserve(indices.size());
    for (size_t i : indices) chosen.push_back(samples_.at(i));
    return cache_.get(chosen);
  }

 private:
  const FeatureCache& cache_;
  std::vector<const Sample*> samples_;
};

struct LabelledData {
  std::vector<LabeledSample> samples;
  std::vector<int> labels;  // 1 sax, 0 not_sax
  FrameTargets frames;      // where the source's sax times are known (frame head only)
  std::vector<const Sample*> pointers;
};

// The sax share of every spectrogram column of the samples whose source has known sax times;
// empty for the rest, and for models without time steps.
FrameTargets frame_targets(Store& store, const std::vector<LabeledSample>& samples,
                           const TrainConfig& config) {
  if (!config.trains_cnn() || config.net.head != "frames" || config.step_weight <= 0) return {};
  const auto times = store.sax_times();
  if (times.empty()) return {};
  FrameTargets frames(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i].sample;
    if (auto known = times.find(s.source_id); known != times.end())
      frames[i] = column_targets(known->second, s.start, config.features);
  }
  return frames;
}

LabelledData labelled_data(Store& store, FeatureCache& cache, const TrainConfig& config,
                           bool quiet) {
  LabelledData d;
  d.samples = store.labeled_samples();
  if (d.samples.size() < kMinimumLabelled)
    throw Error(
        fmt::format("only {} labelled samples (sax or not_sax); label at least {} with "
                    "`saxdetect serve`, or run `saxdetect demo`",
                    d.samples.size(), kMinimumLabelled));
  std::vector<Sample> plain;
  for (const auto& s : d.samples) {
    d.labels.push_back(s.label == Label::sax ? 1 : 0);
    plain.push_back(s.sample);
  }
  const int sax = std::count(d.labels.begin(), d.labels.end(), 1);
  if (sax == 0 || sax == static_cast<int>(d.labels.size()))
    throw Error(fmt::format("all {} labelled samples are {}; both sax and not_sax are needed",
                            d.samples.size(), sax ? "sax" : "not_sax"));
  cache.ensure(plain, quiet);
  for (const auto& s : d.samples) d.pointers.push_back(&s.sample);
  d.frames = frame_targets(store, d.samples, config);
  return d;
}

// <kind>-<UTC time>, e.g. cnn-20261125-221500.
std::string default_model_name(const std::string& kind) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "-%Y%m%d-%H%M%S", &utc);
  return kind + text;
}

// home/models/<name>, refusing names that are not a plain folder name and, unless resuming,
// a model that exists.
fs::path new_model_folder(const Home& home, const std::string& name, bool resume) {
  if (name.find('/') != std::string::npos || name == "." || name == ".." || name == "current")
    throw Error(fmt::format("model name \"{}\" cannot be used as a folder name", name));
  const auto dir = home.models() / name;
  if (!resume && fs::exists(dir / "model.json"))
    throw Error(fmt::format(
        "{}: a model with this name exists; choose another --out or pass --resume", dir.string()));
  return dir;
}

void make_current(const Home& home, const std::string& name) {
  const auto pointer = home.models() / "current";
  const fs::path tmp = pointer.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << name << "\n";
    if (!out) throw Error(fmt::format("{}: cannot write", tmp.string()));
  }
  fs::rename(tmp, pointer);
}

// Scores every non-silent sample in the store so the labelling app can ask about the most
// uncertain ones first (active learning).
void predict_store(Store& store, FeatureCache& cache, const Network& net, const ModelKind& kind,
                   const std::string& model, double threshold, bool quiet) {
  const auto samples = store.samples(/*include_silent=*/false);
  if (samples.empty()) return;
  cache.ensure(samples, quiet);
  std::vector<const Sample*> pointers;
  for (const auto& s : samples) pointers.push_back(&s);
  std::vector<size_t> all(samples.size());
  std::iota(all.begin(), all.end(), 0);
  const auto p = predict(net, kind, CacheSource(cache, pointers), all);
  std::vector<std::pair<int64_t, double>> rows;
  for (size_t i = 0; i < samples.size(); ++i)
    rows.emplace_back(samples[i].id, uncertainty_score(p[i], threshold));
  store.put_predictions(model, rows);
  spdlog::info("stored predictions of model {} for {} samples", model, rows.size());
}

const std::vector<std::pair<const char*, double Metrics::*>>& metric_fields() {
  static const std::vector<std::pair<const char*, double Metrics::*>> fields{
      {"threshold", &Metrics::threshold},
      {"accuracy", &Metrics::accuracy},
      {"balanced_accuracy", &Metrics::balanced_accuracy},
      {"precision", &Metrics::precision},
      {"recall", &Metrics::recall},
      {"f1", &Metrics::f1},
      {"roc_auc", &Metrics::roc_auc},
      {"pr_auc", &Metrics::pr_auc},
      {"loss", &Metrics::loss}};
  return fields;
}

// Mean and spread of every metric over folds; the confusion counts are summed.
void summarise(const std::vector<Metrics>& folds, Metrics& mean, Metrics& spread) {
  const double n = static_cast<double>(folds.size());
  for (const auto& [name, field] : metric_fields()) {
    double sum = 0, sq = 0;
    for (const auto& m : folds) sum += m.*field, sq += (m.*field) * (m.*field);
    mean.*field = sum / n;
    spread.*field = std::sqrt(std::max(0.0, sq / n - (sum / n) * (sum / n)));
  }
  for (const auto& m : folds) mean.tp += m.tp, mean.fp += m.fp, mean.tn += m.tn, mean.fn += m.fn;
}

// The config with the features' rate and window length of the store's samples (a store from
// before the format was recorded keeps the defaults, which its ingest used too).
TrainConfig in_sample_format(TrainConfig config, Store& store) {
  if (const auto format = store.sample_format()) {
    config.features.sample_rate = format->sample_rate;
    config.features.seconds = format->seconds;
  }
  return config;
}

}  // namespace

std::vector<float> column_targets(const std::vector<TimeRange>& sax, double start,
                                  const FeatureConfig& features) {
  const double frame = static_cast<double>(features.hop()) / features.sample_rate;
  return coverage(sax, start - frame / 2, frame * features.frames, features.frames);
}

TrainResult train_model(Store& store, const Home& home, const TrainConfig& given,
                        const TrainOptions& options) {
  home.create();
  const TrainConfig config = in_sample_format(given, store);
  const auto kind = model_kind(config);
  FeatureCache cache(home, kind->extractor());
  const auto data = labelled_data(store, cache, config, options.quiet);
  const auto split = grouped_split(data.samples, config.validation_fraction, config.test_fraction,
                                   config.split_seed);
  const std::string name = options.name.empty() ? default_model_name(kind->name()) : options.name;
  const auto dir = new_model_folder(home, name, options.resume);
  spdlog::info("training on {} samples, validating on {}, testing on {} (grouped by source)",
               split.train.size(), split.validation.size(), split.test.size());
  if (const auto timed = std::count_if(data.frames.begin(), data.frames.end(),
                                       [](const auto& f) { return !f.empty(); }))
    spdlog::info("{} of them have known sax times: their time steps are trained too", timed);
  auto trained = train_core(CacheSource(cache, data.pointers), data.labels, data.frames, split,
                            config, dir, options);
  if (trained.result.worse_than_zero_shot())
    spdlog::warn(
        "the trained model is worse than zero-shot on the validation samples (ROC-AUC {:.3f} "
        "against {:.3f}, loss {:.4f} against {:.4f}); {} is kept but not made current",
        trained.result.validation.roc_auc, trained.result.zero_shot->validation.roc_auc,
        trained.result.zero_shot->trained_validation_loss,
        trained.result.zero_shot->validation_loss, dir.string());
  else if (options.make_current && !trained.result.stopped)
    make_current(home, name);
  if (options.predict_store && !trained.result.stopped)
    predict_store(store, cache, trained.net, *kind, name, trained.result.validation.threshold,
                  options.quiet);
  return trained.result;
}

CvResult cross_validate(Store& store, const Home& home, const TrainConfig& given, int folds,
                        bool quiet, const std::atomic<bool>* stop) {
  home.create();
  const TrainConfig config = in_sample_format(given, store);
  FeatureCache cache(home, model_kind(config)->extractor());
  const auto data = labelled_data(store, cache, config, quiet);
  // The fixed test set stays out: folds are drawn from the rest only.
  const auto fixed = grouped_split(data.samples, config.validation_fraction, config.test_fraction,
                                   config.split_seed);
  std::vector<size_t> pool = fixed.train;
  pool.insert(pool.end(), fixed.validation.begin(), fixed.validation.end());
  const auto parts = grouped_folds(data.samples, pool, folds, config.split_seed + 2);
  const CacheSource source(cache, data.pointers);
  CvResult cv;
  for (int k = 0; k < folds; ++k) {
    if (stop && stop->load()) throw Error("cross-validation interrupted");
    Split split;
    split.test = parts[k];
    // Early stopping watches one other fold; the remaining folds train.
    split.validation = parts[(k + 1) % folds];
    for (int other = 0; other < folds; ++other)
      if (other != k && other != (k + 1) % folds)
        split.train.insert(split.train.end(), parts[other].begin(), parts[other].end());
    if (split.train.empty()) throw Error("cross-validation needs at least 3 folds");
    spdlog::info("fold {}/{}: train {}, validation {}, test {}", k + 1, folds, split.train.size(),
                 split.validation.size(), split.test.size());
    TrainOptions options;
    options.quiet = quiet;
    options.stop = stop;
    const auto trained = train_core(source, data.labels, data.frames, split, config, {}, options);
    if (trained.result.stopped) throw Error("cross-validation interrupted");
    cv.folds.push_back(trained.result.test);
    if (trained.result.zero_shot) cv.zero_shot_folds.push_back(trained.result.zero_shot->test);
    cv.desert_restarts += trained.result.desert_restarts;
    spdlog::info("fold {}/{}: balanced accuracy {:.3f}, ROC-AUC {:.3f}", k + 1, folds,
                 trained.result.test.balanced_accuracy, trained.result.test.roc_auc);
  }
  summarise(cv.folds, cv.mean, cv.spread);
  if (!cv.zero_shot_folds.empty())
    summarise(cv.zero_shot_folds, cv.zero_shot_mean, cv.zero_shot_spread);
  return cv;
}

TrainResult train_arrays(const ArrayDataset& data, const Split& split, const TrainConfig& config,
                         const fs::path& model_dir, const TrainOptions& options) {
  if (!data.frames.empty() && data.frames.size() != data.inputs.size())
    throw Error(
        fmt::format("{} frame targets for {} inputs", data.frames.size(), data.inputs.size()));
  TrainConfig cnn = config;
  cnn.kind = "cnn";
  return train_core(TensorSource(stack_spectrograms(data, config.features)), data.labels,
                    data.frames, split, cnn, model_dir, options)
      .result;
}

}  // namespace sax
