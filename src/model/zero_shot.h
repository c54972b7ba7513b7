#pragma once
// A detector measured on labelled data without training (the built-in detector zero-shot):
// only its threshold is chosen, on the same grouped split training uses, so its test metrics
// compare directly with `saxdetect train`.
//
//   auto scorer = sax::builtin_efficientat_scorer();
//   auto result = sax::evaluate_zero_shot(*store, home, *scorer, sax::TrainConfig{});
#include <cstddef>

#include "infer/detector.h"
#include "model/train.h"

namespace sax {

class Store;
struct Home;

struct ZeroShotResult {
  double threshold = 0.5;  // chosen on the training and validation samples
  Metrics test;            // on the fixed test samples, at that threshold
  size_t calibration_samples = 0, test_samples = 0;
  double seconds = 0;  // scoring time
};

// Scores every labelled sample (decoded at the scorer's rate), chooses the threshold that
// maximises balanced accuracy outside the test split (grouped_split with config's fractions
// and split_seed), and measures the test split. Throws sax::Error when either side lacks a
// sax or a not-sax sample.
ZeroShotResult evaluate_zero_shot(Store& store, const Home& home, Scorer& scorer,
                                  const TrainConfig& config);

}  // namespace sax
