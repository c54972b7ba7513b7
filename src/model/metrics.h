#pragma once
// How well probabilities separate sax from not sax: metrics at a threshold, choosing the
// threshold, the ROC curve. LibTorch-free.
#include <cstdint>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sax {

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
// rarer sax steps should not buy recall with many false alarms); ties: nearest 0.5.
enum class ThresholdGoal { balanced_accuracy, f1 };
double choose_threshold(const std::vector<float>& probabilities, const std::vector<int>& labels,
                        ThresholdGoal goal = ThresholdGoal::balanced_accuracy);
// ROC curve points (false positive rate, true positive rate), from (0,0) to (1,1).
std::vector<std::pair<double, double>> roc_curve(const std::vector<float>& probabilities,
                                                 const std::vector<int>& labels);

}  // namespace sax
