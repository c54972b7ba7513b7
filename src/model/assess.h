#pragma once
// How well a scorer (a trained model, or the zero-shot baseline) agrees with the labels in a
// store: every labelled sample (sax / not_sax; unsure left out) is scored at the scorer's own
// threshold. Train in one home, assess in another (e.g. songs with unseen timbres).
// LibTorch-free.
//
//   auto scorer = sax::load_detector(model_dir);
//   auto a = sax::assess(*store, home, *scorer);
//   fmt::print("balanced accuracy {:.3f}, ROC-AUC {:.3f}\n", a.metrics.balanced_accuracy,
//              a.metrics.roc_auc);
#include <utility>
#include <vector>

#include "common/home.h"
#include "infer/detector.h"
#include "model/train.h"
#include "store/store.h"

namespace sax {

struct Assessment {
  Metrics metrics;                             // at the scorer's threshold
  double best_threshold = 0.5;                 // the threshold these labels would choose
  Metrics at_best_threshold;                   // (optimistic: chosen on the same labels)
  std::vector<std::pair<double, double>> roc;  // (false positive rate, true positive rate)
  size_t samples = 0;
};

// Throws sax::Error when no sample is labelled sax or not_sax, or a sample cannot be decoded
// (naming it).
Assessment assess(Store& store, const Home& home, Scorer& scorer, bool quiet = false);

}  // namespace sax
