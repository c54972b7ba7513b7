#pragma once
// Hyper-parameter search scored by cross-validation (LibTorch-free header).
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/train.h"

namespace sax {

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

}  // namespace sax
