#include "model/search.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace sax {

namespace {

using json = nlohmann::json;

json::json_pointer pointer_of(const std::string& dotted) {
  std::string path = "/" + dotted;
  std::replace(path.begin(), path.end(), '.', '/');
  return json::json_pointer(path);
}

void check_space(const json& space) {
  if (!space.is_object() || space.empty())
    throw Error(
        "search space: expected a JSON object of \"field\": [values] entries, e.g. {\"lr\": "
        "[0.001, 0.0003]}");
}

// Applies {"net.depth": 3, ...} to the base config; unknown fields and bad values throw
// sax::Error naming them (through TrainConfig's strict from_json).
SearchPoint with_overrides(const TrainConfig& base, const json& overrides) {
  json j = base;
  for (const auto& [field, value] : overrides.items()) {
    const auto ptr = pointer_of(field);
    if (!j.contains(ptr)) throw Error(fmt::format("search space: unknown field '{}'", field));
    j[ptr] = value;
  }
  try {
    return {overrides.dump(), j.get<TrainConfig>()};
  } catch (const Error& e) {
    throw Error(fmt::format("search space point {}: {}", overrides.dump(), e.what()));
  }
}

json random_value(const std::string& field, const json& spec, std::mt19937_64& rng) {
  if (spec.is_array() && !spec.empty())
    return spec[std::uniform_int_distribution<size_t>(0, spec.size() - 1)(rng)];
  if (!spec.is_object() || !spec.contains("min") || !spec.contains("max") ||
      !spec["min"].is_number() || !spec["max"].is_number())
    throw Error(fmt::format(
        "search space: field '{}' needs a list of values or {{\"min\": a, \"max\": b}}", field));
  const double lo = spec["min"], hi = spec["max"];
  const bool log_scale = spec.value("log", false), integer = spec.value("int", false);
  if (!(hi >= lo) || (log_scale && lo <= 0))
    throw Error(
        fmt::format("search space: field '{}' has an empty or non-positive log range", field));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double u = unit(rng);
  const double v =
      log_scale ? std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo))) : lo + u * (hi - lo);
  return integer ? json(static_cast<int64_t>(std::lround(v))) : json(v);
}

}  // namespace

std::vector<SearchPoint> grid_points(const TrainConfig& base, const json& space) {
  check_space(space);
  std::vector<std::pair<std::string, json>> axes;
  for (const auto& item : space.items()) axes.emplace_back(item.key(), item.value());
  for (const auto& [field, values] : axes)
    if (!values.is_array() || values.empty())
      throw Error(
          fmt::format("search space: grid field '{}' needs a non-empty list of values", field));
  std::vector<SearchPoint> points;
  std::vector<size_t> digit(axes.size(), 0);  // an odometer over the axes
  while (true) {
    json overrides = json::object();
    for (size_t a = 0; a < axes.size(); ++a) overrides[axes[a].first] = axes[a].second[digit[a]];
    points.push_back(with_overrides(base, overrides));
    size_t a = 0;
    while (a < axes.size() && ++digit[a] == axes[a].second.size()) digit[a++] = 0;
    if (a == axes.size()) break;
  }
  return points;
}

std::vector<SearchPoint> random_points(const TrainConfig& base, const json& space, int trials,
                                       uint64_t seed) {
  check_space(space);
  if (trials < 1) throw Error(fmt::format("random search needs at least 1 trial, got {}", trials));
  std::mt19937_64 rng(seed);
  std::vector<SearchPoint> points;
  for (int t = 0; t < trials; ++t) {
    json overrides = json::object();
    for (const auto& [field, spec] : space.items())
      overrides[field] = random_value(field, spec, rng);
    points.push_back(with_overrides(base, overrides));
  }
  return points;
}

std::vector<SearchTrial> search(Store& store, const Home& home,
                                const std::vector<SearchPoint>& points, int folds, bool quiet,
                                const std::atomic<bool>* stop) {
  std::vector<SearchTrial> trials;
  for (size_t i = 0; i < points.size(); ++i) {
    if (stop && stop->load()) break;
    spdlog::info("search trial {}/{}: {}", i + 1, points.size(), points[i].overrides);
    trials.push_back(
        {points[i], cross_validate(store, home, points[i].config, folds, quiet, stop)});
    spdlog::info("search trial {}/{}: balanced accuracy {:.3f} +/- {:.3f}, ROC-AUC {:.3f}", i + 1,
                 points.size(), trials.back().cv.mean.balanced_accuracy,
                 trials.back().cv.spread.balanced_accuracy, trials.back().cv.mean.roc_auc);
  }
  std::stable_sort(trials.begin(), trials.end(), [](const SearchTrial& a, const SearchTrial& b) {
    if (a.cv.mean.balanced_accuracy != b.cv.mean.balanced_accuracy)
      return a.cv.mean.balanced_accuracy > b.cv.mean.balanced_accuracy;
    return a.cv.mean.roc_auc > b.cv.mean.roc_auc;
  });
  return trials;
}

}  // namespace sax
