// Active learning from the first label: scoring the store's samples for the labelling order.
#include "web/label_order.h"

#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

#include "audio/audio.h"
#include "common/error.h"
#include "infer/detector.h"
#include "store/store.h"
#include "web/app.h"

namespace sax::web {

namespace {

// The sample's probability, or nullopt (with a warning) when its clip cannot be decoded.
std::optional<double> score_sample(const Home& home, Scorer& scorer, const Sample& sample) {
  try {
    const auto audio = decode_mono(home.inside(sample.path), scorer.sample_rate());
    const auto p = scorer.score_windows({audio});
    if (p.empty() || !std::isfinite(p[0])) return std::nullopt;
    return p[0];
  } catch (const Error& e) {
    spdlog::warn("labelling order: sample {} skipped: {}", sample.id, e.what());
    return std::nullopt;
  }
}

}  // namespace

std::string labelling_model(const Home& home) {
  return current_model_name(home).value_or(kBuiltinModelName);
}

size_t predict_unscored_samples(Store& store, const Home& home, Scorer& scorer,
                                const std::string& model, const std::atomic<bool>& stop,
                                size_t batch) {
  const auto samples = store.samples_without_prediction(model);
  size_t scored = 0;
  std::vector<std::pair<int64_t, double>> rows;
  const auto store_rows = [&] {
    store.put_predictions(model, rows);
    scored += rows.size();
    rows.clear();
  };
  for (size_t i = 0; i < samples.size() && !stop; ++i) {
    if (const auto p = score_sample(home, scorer, samples[i]))
      rows.emplace_back(samples[i].id, uncertainty_score(*p, scorer.threshold()));
    if (rows.size() >= batch) store_rows();
  }
  if (!rows.empty()) store_rows();
  if (scored > 0) spdlog::info("labelling order: model {} scored {} samples", model, scored);
  return scored;
}

LabelOrderJob::LabelOrderJob(Store& store, Home home, double interval)
    : store_(store), home_(std::move(home)), interval_(interval), thread_([this] { run(); }) {}

LabelOrderJob::~LabelOrderJob() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void LabelOrderJob::run() {
  while (!stop_) {
    score_once();
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::duration<double>(interval_), [this] { return stop_.load(); });
  }
}

// A model only LibTorch runs, or a broken one, leaves the order as it is: labelling goes on.
void LabelOrderJob::score_once() {
  try {
    const std::string model = labelling_model(home_);
    auto scorer = open_home_detector(home_.models());
    predict_unscored_samples(store_, home_, *scorer, model, stop_);
  } catch (const std::exception& e) {
    spdlog::warn("labelling order: {}", e.what());
  }
}

}  // namespace sax::web
