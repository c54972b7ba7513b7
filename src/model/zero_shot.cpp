#include "model/zero_shot.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "audio/audio.h"
#include "common/error.h"
#include "common/home.h"
#include "store/store.h"

namespace sax {

namespace {

// Windows go through the scorer this many at a time, so memory stays bounded.
constexpr size_t kBatch = 32;

std::vector<float> score_samples(const std::vector<LabeledSample>& samples, const Home& home,
                                 Scorer& scorer) {
  std::vector<float> scores;
  scores.reserve(samples.size());
  std::vector<std::vector<float>> batch;
  for (size_t i = 0; i < samples.size(); ++i) {
    batch.push_back(decode_mono(home.inside(samples[i].sample.path), scorer.sample_rate()));
    if (batch.size() == kBatch || i + 1 == samples.size()) {
      const auto part = scorer.score_windows(batch);
      scores.insert(scores.end(), part.begin(), part.end());
      batch.clear();
    }
  }
  return scores;
}

void pick(const std::vector<size_t>& indices, const std::vector<float>& scores,
          const std::vector<int>& labels, std::vector<float>* picked_scores,
          std::vector<int>* picked_labels) {
  for (size_t i : indices) {
    picked_scores->push_back(scores[i]);
    picked_labels->push_back(labels[i]);
  }
}

void require_both_labels(const std::vector<int>& labels, const char* side) {
  const auto sax = std::count(labels.begin(), labels.end(), 1);
  if (sax == 0 || sax == static_cast<long>(labels.size()))
    throw Error(fmt::format(
        "the {} samples need both sax and not-sax labels to evaluate the zero-shot detector",
        side));
}

}  // namespace

ZeroShotResult evaluate_zero_shot(Store& store, const Home& home, Scorer& scorer,
                                  const TrainConfig& config) {
  const auto samples = store.labeled_samples();
  const auto start = std::chrono::steady_clock::now();
  const auto scores = score_samples(samples, home, scorer);
  ZeroShotResult result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<int> labels;
  for (const auto& s : samples) labels.push_back(s.label == Label::sax ? 1 : 0);
  const auto split =
      grouped_split(samples, config.validation_fraction, config.test_fraction, config.split_seed);
  std::vector<size_t> calibration = split.train;
  calibration.insert(calibration.end(), split.validation.begin(), split.validation.end());

  std::vector<float> calibration_scores, test_scores;
  std::vector<int> calibration_labels, test_labels;
  pick(calibration, scores, labels, &calibration_scores, &calibration_labels);
  pick(split.test, scores, labels, &test_scores, &test_labels);
  require_both_labels(calibration_labels, "training");
  require_both_labels(test_labels, "test");

  result.threshold = choose_threshold(calibration_scores, calibration_labels);
  result.test = compute_metrics(test_scores, test_labels, result.threshold);
  result.calibration_samples = calibration.size();
  result.test_samples = split.test.size();
  return result;
}

}  // namespace sax
