#include "model/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace sax {

namespace {

void check_sizes(const std::vector<float>& probabilities, const std::vector<int>& labels) {
  if (probabilities.size() != labels.size())
    throw Error(fmt::format("metrics: {} probabilities for {} labels", probabilities.size(),
                            labels.size()));
}

// Indices sorted by descending probability.
std::vector<size_t> by_descending(const std::vector<float>& p) {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  return order;
}

double safe_ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// Mann-Whitney U: the probability that a random positive outranks a random negative (ties 1/2).
double roc_auc(const std::vector<float>& p, const std::vector<int>& y) {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  double positive_rank_sum = 0;
  size_t positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && p[order[j]] == p[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i) + static_cast<double>(j - 1)) / 2.0 + 1.0;
    for (size_t k = i; k < j; ++k)
      if (y[order[k]] == 1) positive_rank_sum += mean_rank, ++positives;
    i = j;
  }
  const size_t negatives = p.size() - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  const double u = positive_rank_sum - positives * (positives + 1) / 2.0;
  return u / (static_cast<double>(positives) * negatives);
}

// Average precision: sum over each recall step of precision at that step.
double pr_auc(const std::vector<float>& p, const std::vector<int>& y) {
  const auto order = by_descending(p);
  const double positives = std::count(y.begin(), y.end(), 1);
  if (positives == 0) return 0.0;
  double tp = 0, fp = 0, area = 0, last_recall = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    (y[order[i]] == 1 ? tp : fp) += 1;
    const bool last_of_tie = i + 1 == order.size() || p[order[i + 1]] != p[order[i]];
    if (!last_of_tie) continue;
    const double recall = tp / positives;
    area += (recall - last_recall) * (tp / (tp + fp));
    last_recall = recall;
  }
  return area;
}

double log_loss(const std::vector<float>& p, const std::vector<int>& y) {
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double q = std::clamp(static_cast<double>(p[i]), 1e-7, 1 - 1e-7);
    sum -= y[i] == 1 ? std::log(q) : std::log(1 - q);
  }
  return p.empty() ? 0.0 : sum / static_cast<double>(p.size());
}

}  // namespace

Metrics compute_metrics(const std::vector<float>& probabilities, const std::vector<int>& labels,
                        double threshold) {
  check_sizes(probabilities, labels);
  Metrics m;
  m.threshold = threshold;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool said_sax = probabilities[i] >= threshold, is_sax = labels[i] == 1;
    (said_sax ? (is_sax ? m.tp : m.fp) : (is_sax ? m.fn : m.tn)) += 1;
  }
  const double tpr = safe_ratio(m.tp, m.tp + m.fn), tnr = safe_ratio(m.tn, m.tn + m.fp);
  m.accuracy = safe_ratio(m.tp + m.tn, static_cast<double>(labels.size()));
  m.balanced_accuracy = (tpr + tnr) / 2;
  m.precision = safe_ratio(m.tp, m.tp + m.fp);
  m.recall = tpr;
  m.f1 = safe_ratio(2 * m.precision * m.recall, m.precision + m.recall);
  m.roc_auc = roc_auc(probabilities, labels);
  m.pr_auc = pr_auc(probabilities, labels);
  m.loss = log_loss(probabilities, labels);
  return m;
}

double choose_threshold(const std::vector<float>& probabilities, const std::vector<int>& labels,
                        ThresholdGoal goal) {
  check_sizes(probabilities, labels);
  const auto order = by_descending(probabilities);
  const double positives = std::count(labels.begin(), labels.end(), 1);
  const double negatives = static_cast<double>(labels.size()) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  // Sweep the threshold down through the scores; candidates sit midway between distinct scores
  // so a slightly different score on new data falls on the same side.
  std::vector<std::pair<double, double>> candidates;  // (threshold, score)
  double tp = 0, fp = 0, best_score = -1;
  for (size_t i = 0; i < order.size(); ++i) {
    (labels[order[i]] == 1 ? tp : fp) += 1;
    const bool last_of_tie =
        i + 1 == order.size() || probabilities[order[i + 1]] != probabilities[order[i]];
    if (!last_of_tie) continue;
    const double next = i + 1 < order.size() ? probabilities[order[i + 1]] : 0.0;
    const double score = goal == ThresholdGoal::f1
                             ? 2 * tp / (tp + fp + positives)
                             : (tp / positives + (negatives - fp) / negatives) / 2.0;
    candidates.emplace_back((probabilities[order[i]] + next) / 2.0, score);
    best_score = std::max(best_score, score);
  }
  // Among the best candidates: the one nearest 0.5.
  double chosen = 0.5;
  bool found = false;
  for (const auto& [threshold, score] : candidates) {
    if (score < best_score - 1e-12) continue;
    if (!found || std::abs(threshold - 0.5) < std::abs(chosen - 0.5))
      chosen = threshold, found = true;
  }
  return chosen;
}

std::vector<std::pair<double, double>> roc_curve(const std::vector<float>& probabilities,
                                                 const std::vector<int>& labels) {
  check_sizes(probabilities, labels);
  const auto order = by_descending(probabilities);
  const double positives = std::count(labels.begin(), labels.end(), 1);
  const double negatives = static_cast<double>(labels.size()) - positives;
  std::vector<std::pair<double, double>> points{{0.0, 0.0}};
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    (labels[order[i]] == 1 ? tp : fp) += 1;
    const bool last_of_tie =
        i + 1 == order.size() || probabilities[order[i + 1]] != probabilities[order[i]];
    if (last_of_tie) points.emplace_back(safe_ratio(fp, negatives), safe_ratio(tp, positives));
  }
  if (points.back() != std::pair<double, double>{1.0, 1.0}) points.emplace_back(1.0, 1.0);
  return points;
}

void to_json(nlohmann::json& j, const Metrics& m) {
  j = {{"threshold", m.threshold},
       {"accuracy", m.accuracy},
       {"balanced_accuracy", m.balanced_accuracy},
       {"precision", m.precision},
       {"recall", m.recall},
       {"f1", m.f1},
       {"roc_auc", m.roc_auc},
       {"pr_auc", m.pr_auc},
       {"loss", m.loss},
       {"confusion", {{"tp", m.tp}, {"fp", m.fp}, {"tn", m.tn}, {"fn", m.fn}}}};
}

}  // namespace sax
