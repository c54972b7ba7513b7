#include "model/split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "common/error.h"
#include "store/store.h"

namespace sax {

namespace {

struct Group {
  std::vector<size_t> members;
  int sax = 0;
};

std::vector<Group> groups_of(const std::vector<LabeledSample>& samples,
                             const std::vector<size_t>& indices) {
  std::map<int64_t, Group> by_recording;
  for (size_t i : indices) {
    auto& g = by_recording[samples.at(i).group()];
    g.members.push_back(i);
    g.sax += samples[i].label == Label::sax;
  }
  std::vector<Group> groups;
  for (auto& [recording, group] : by_recording) groups.push_back(std::move(group));
  return groups;
}

// Deals whole groups to sides with the given fractions. Groups go largest first (random order
// among equals), each to the side where it leaves the smallest squared shortfall in both the
// sample count and the sax count, so each side gets its share of both.
std::vector<std::vector<size_t>> deal(const std::vector<LabeledSample>& samples,
                                      const std::vector<size_t>& indices,
                                      const std::vector<double>& fractions, uint64_t seed) {
  auto groups = groups_of(samples, indices);
  std::mt19937_64 rng(seed);
  std::shuffle(groups.begin(), groups.end(), rng);
  std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
    return a.members.size() > b.members.size();
  });
  double total = 0, total_sax = 0;
  for (const auto& g : groups) total += g.members.size(), total_sax += g.sax;
  const size_t sides = fractions.size();
  std::vector<double> count(sides, 0), sax(sides, 0);
  std::vector<std::vector<size_t>> out(sides);
  auto shortfall = [&](size_t side, double extra, double extra_sax) {
    const double n = (fractions[side] * total - count[side] - extra) / std::max(1.0, total);
    const double x =
        (fractions[side] * total_sax - sax[side] - extra_sax) / std::max(1.0, total_sax);
    return n * n + x * x;
  };
  for (const auto& g : groups) {
    size_t best = 0;
    double best_cost = INFINITY;
    for (size_t side = 0; side < sides; ++side) {
      // Cost of the whole assignment if the group goes to `side`.
      double cost = 0;
      for (size_t s = 0; s < sides; ++s)
        cost += s == side ? shortfall(s, g.members.size(), g.sax) : shortfall(s, 0, 0);
      if (cost < best_cost) best_cost = cost, best = side;
    }
    count[best] += g.members.size();
    sax[best] += g.sax;
    out[best].insert(out[best].end(), g.members.begin(), g.members.end());
  }
  for (auto& side : out) std::sort(side.begin(), side.end());
  return out;
}

}  // namespace

Split grouped_split(const std::vector<LabeledSample>& samples, double validation_fraction,
                    double test_fraction, uint64_t seed) {
  std::vector<size_t> all(samples.size());
  std::iota(all.begin(), all.end(), 0);
  // The test set is dealt first and on its own, so it stays the same whatever the validation
  // fraction or training seed: tuning never sees it.
  auto rest_test = deal(samples, all, {1 - test_fraction, test_fraction}, seed);
  const double validation_share = validation_fraction / (1 - test_fraction);
  auto train_validation =
      deal(samples, rest_test[0], {1 - validation_share, validation_share}, seed + 1);
  Split split{std::move(train_validation[0]), std::move(train_validation[1]),
              std::move(rest_test[1])};
  if (split.train.empty() || split.validation.empty() || split.test.empty())
    throw Error(
        fmt::format("{} labelled samples from {} sources are too few to split into "
                    "train, validation and test sets by source; label more",
                    samples.size(), groups_of(samples, all).size()));
  return split;
}

std::vector<std::vector<size_t>> grouped_folds(const std::vector<LabeledSample>& samples,
                                               const std::vector<size_t>& indices, int folds,
                                               uint64_t seed) {
  if (folds < 2) throw Error(fmt::format("cross-validation needs at least 2 folds, got {}", folds));
  const size_t sources = groups_of(samples, indices).size();
  if (sources < static_cast<size_t>(folds))
    throw Error(
        fmt::format("{} folds need at least {} sources, the data has {}", folds, folds, sources));
  return deal(samples, indices, std::vector<double>(folds, 1.0 / folds), seed);
}

}  // namespace sax
