// Splits, folds, metrics, search spaces, the desert detector and the network's shape:
// everything about training that needs no training.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/desert.h"
#include "model/search.h"
#include "store/store.h"
#include "support/testing.h"

namespace sax {
namespace {

// 30 sources of 1..9 samples each; a third of the sources have mostly sax.
std::vector<LabeledSample> synthetic_library() {
  std::vector<LabeledSample> samples;
  int64_t id = 1;
  for (int source = 1; source <= 30; ++source)
    for (int k = 0; k < 1 + source % 9; ++k) {
      LabeledSample s;
      s.sample.id = id++;
      s.sample.source_id = source;
      s.label = (source % 3 == 0 && k % 4 != 0) ? Label::sax : Label::not_sax;
      samples.push_back(s);
    }
  return samples;
}

std::set<int64_t> sources_of(const std::vector<LabeledSample>& all,
                             const std::vector<size_t>& indices) {
  std::set<int64_t> out;
  for (size_t i : indices) out.insert(all[i].sample.source_id);
  return out;
}

bool disjoint(const std::set<int64_t>& a, const std::set<int64_t>& b) {
  return std::none_of(a.begin(), a.end(), [&](int64_t x) { return b.count(x) > 0; });
}

TEST(Split, GroupedSplitNeverLeaksASourceAndCoversEverything) {
  const auto all = synthetic_library();
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    const auto split = grouped_split(all, 0.15, 0.2, seed);
    const auto tr = sources_of(all, split.train), va = sources_of(all, split.validation),
               te = sources_of(all, split.test);
    EXPECT_TRUE(disjoint(tr, va) && disjoint(tr, te) && disjoint(va, te)) << "seed " << seed;
    EXPECT_EQ(split.train.size() + split.validation.size() + split.test.size(), all.size());
    std::set<size_t> seen(split.train.begin(), split.train.end());
    seen.insert(split.validation.begin(), split.validation.end());
    seen.insert(split.test.begin(), split.test.end());
    EXPECT_EQ(seen.size(), all.size());
  }
}

TEST(Split, StratifiedByLabel) {
  const auto all = synthetic_library();
  const auto split = grouped_split(all, 0.15, 0.2, 11);
  auto sax_share = [&](const std::vector<size_t>& idx) {
    double sax = 0;
    for (size_t i : idx) sax += all[i].label == Label::sax;
    return sax / idx.size();
  };
  const double overall = [&] {
    double sax = 0;
    for (const auto& s : all) sax += s.label == Label::sax;
    return sax / all.size();
  }();
  EXPECT_NEAR(sax_share(split.test), overall, 0.12);
  EXPECT_NEAR(sax_share(split.validation), overall, 0.12);
  EXPECT_NEAR(static_cast<double>(split.test.size()) / all.size(), 0.2, 0.06);
}

TEST(Split, TestSetDoesNotDependOnValidationFraction) {
  const auto all = synthetic_library();
  EXPECT_EQ(grouped_split(all, 0.1, 0.2, 3).test, grouped_split(all, 0.25, 0.2, 3).test);
}

TEST(Split, TooFewSourcesIsAClearError) {
  auto all = synthetic_library();
  for (auto& s : all) s.sample.source_id = 1 + s.sample.source_id % 2;
  EXPECT_THROW(grouped_split(all, 0.15, 0.2, 1), Error);
}

TEST(Folds, EverySampleInExactlyOneFoldAndNoSourceSpansFolds) {
  const auto all = synthetic_library();
  std::vector<size_t> indices;
  for (size_t i = 0; i < all.size(); i += 1) indices.push_back(i);
  const auto folds = grouped_folds(all, indices, 5, 9);
  ASSERT_EQ(folds.size(), 5u);
  std::map<size_t, int> count;
  std::map<int64_t, std::set<size_t>> folds_of_source;
  for (size_t f = 0; f < folds.size(); ++f) {
    EXPECT_FALSE(folds[f].empty());
    for (size_t i : folds[f]) ++count[i], folds_of_source[all[i].sample.source_id].insert(f);
  }
  EXPECT_EQ(count.size(), all.size());
  for (const auto& [i, n] : count) EXPECT_EQ(n, 1) << "sample " << i;
  for (const auto& [source, fs] : folds_of_source) EXPECT_EQ(fs.size(), 1u) << "source " << source;
}

TEST(Metrics, HandComputedExample) {
  // Scores: sax 0.9, 0.8, 0.4; not sax 0.7, 0.3, 0.2, 0.1.
  const std::vector<float> p{0.9f, 0.8f, 0.4f, 0.7f, 0.3f, 0.2f, 0.1f};
  const std::vector<int> y{1, 1, 1, 0, 0, 0, 0};
  const auto m = compute_metrics(p, y, 0.5);
  EXPECT_EQ(m.tp, 2);
  EXPECT_EQ(m.fn, 1);
  EXPECT_EQ(m.fp, 1);
  EXPECT_EQ(m.tn, 3);
  EXPECT_NEAR(m.accuracy, 5.0 / 7, 1e-9);
  EXPECT_NEAR(m.balanced_accuracy, (2.0 / 3 + 3.0 / 4) / 2, 1e-9);
  EXPECT_NEAR(m.precision, 2.0 / 3, 1e-9);
  EXPECT_NEAR(m.recall, 2.0 / 3, 1e-9);
  EXPECT_NEAR(m.f1, 2.0 / 3, 1e-9);
  // Of the 12 (sax, not sax) pairs only (0.4, 0.7) is ranked wrongly.
  EXPECT_NEAR(m.roc_auc, 11.0 / 12, 1e-9);
  // Average precision: recall steps at ranks 1, 2, 4 with precision 1, 1, 3/4.
  EXPECT_NEAR(m.pr_auc, (1.0 + 1.0 + 0.75) / 3, 1e-9);
}

TEST(Metrics, ThresholdChosenToSeparateTheClasses) {
  const std::vector<float> p{0.30f, 0.35f, 0.40f, 0.05f, 0.10f, 0.20f};
  const std::vector<int> y{1, 1, 1, 0, 0, 0};
  const double t = choose_threshold(p, y);
  EXPECT_GT(t, 0.20);
  EXPECT_LE(t, 0.30);
  EXPECT_DOUBLE_EQ(compute_metrics(p, y, t).balanced_accuracy, 1.0);
  const auto roc = roc_curve(p, y);
  EXPECT_EQ(roc.front(), (std::pair<double, double>{0, 0}));
  EXPECT_EQ(roc.back(), (std::pair<double, double>{1, 1}));
}

TEST(Metrics, F1GoalSpendsFewerFalseAlarmsOnARareClassThanBalancedAccuracy) {
  // Three sax among twenty-three: the third sax (0.3) sits below three not-sax scores.
  std::vector<float> p{0.9f, 0.6f, 0.55f, 0.5f, 0.45f, 0.3f};
  std::vector<int> y{1, 1, 0, 0, 0, 1};
  for (int i = 0; i < 17; ++i) p.push_back(0.2f - 0.01f * i), y.push_back(0);
  const double balanced = choose_threshold(p, y), f1 = choose_threshold(p, y, ThresholdGoal::f1);
  EXPECT_NEAR(balanced, 0.25, 1e-6);  // all three sax, three false alarms
  EXPECT_NEAR(f1, 0.575, 1e-6);       // two sax, no false alarm: F1 0.8 against 0.67
  EXPECT_NEAR(compute_metrics(p, y, f1).f1, 0.8, 1e-9);
}

TEST(Search, GridVisitsEveryPointOnce) {
  const nlohmann::json space = {
      {"lr", {1e-3, 3e-4, 1e-4}}, {"net.depth", {2, 3}}, {"augment", {true, false}}};
  const auto points = grid_points(TrainConfig{}, space);
  ASSERT_EQ(points.size(), 12u);
  std::set<std::tuple<double, int, bool>> seen;
  for (const auto& p : points)
    seen.insert({p.config.lr, p.config.net.depth, p.config.augment.enabled});
  EXPECT_EQ(seen.size(), 12u);
  for (double lr : {1e-3, 3e-4, 1e-4})
    for (int depth : {2, 3})
      for (bool aug : {true, false})
        EXPECT_TRUE(seen.count({lr, depth, aug})) << lr << " " << depth << " " << aug;
}

TEST(Search, RandomDrawsTheRequestedCountInsideTheSpace) {
  const nlohmann::json space = {{"lr", {{"min", 1e-4}, {"max", 1e-2}, {"log", true}}},
                                {"batch_size", {8, 16, 32}},
                                {"net.channels", {{"min", 4}, {"max", 32}, {"int", true}}}};
  const auto points = random_points(TrainConfig{}, space, 17, 5);
  ASSERT_EQ(points.size(), 17u);
  std::set<double> lrs;
  for (const auto& p : points) {
    EXPECT_GE(p.config.lr, 1e-4);
    EXPECT_LE(p.config.lr, 1e-2);
    EXPECT_TRUE(p.config.batch_size == 8 || p.config.batch_size == 16 || p.config.batch_size == 32);
    EXPECT_GE(p.config.net.channels, 4);
    EXPECT_LE(p.config.net.channels, 32);
    lrs.insert(p.config.lr);
  }
  EXPECT_GT(lrs.size(), 10u);
}

TEST(Search, TheGruIsSearchedAsUnitsOrAuto) {
  const auto points = grid_points(TrainConfig{}, {{"net.gru", {0, 64, "auto"}}});
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].config.net.gru, 0);
  EXPECT_EQ(points[1].config.net.gru, 64);
  EXPECT_EQ(points[2].config.net.gru, kGruAuto);
  EXPECT_THROW(grid_points(TrainConfig{}, {{"net.gru", {"many"}}}), Error);
}

TEST(Search, UnknownFieldIsNamed) {
  try {
    grid_points(TrainConfig{}, {{"net.dept", {2, 3}}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("net.dept"), std::string::npos) << e.what();
  }
  EXPECT_THROW(grid_points(TrainConfig{}, {{"lr", {-1.0}}}), Error);
}

TEST(Desert, FiresAfterKStuckEpochsWithChancePredictions) {
  DesertConfig config;
  config.epochs = 3;
  DesertDetector stuck(config);
  EXPECT_FALSE(stuck.update(0.6935, 0.5));
  EXPECT_FALSE(stuck.update(0.6929, 0.52));
  EXPECT_TRUE(stuck.update(0.6931, 0.49));
}

TEST(Desert, QuietOnAHealthyRunAndResetsOnProgress) {
  DesertDetector healthy(DesertConfig{});
  for (double loss : {0.69, 0.62, 0.51, 0.40, 0.33}) EXPECT_FALSE(healthy.update(loss, 1.2 - loss));
  DesertDetector interrupted(DesertConfig{});
  EXPECT_FALSE(interrupted.update(0.693, 0.5));
  EXPECT_FALSE(interrupted.update(0.693, 0.5));
  EXPECT_FALSE(interrupted.update(0.693, 0.71));  // ln 2 loss but real predictions: not a desert
  EXPECT_FALSE(interrupted.update(0.693, 0.5));
}

TEST(Desert, QuietWhenARunThatLearnedDriftsBackToLn2) {
  DesertConfig config;
  config.epochs = 2;
  DesertDetector drifted(config);
  EXPECT_FALSE(drifted.update(0.66, 0.6));  // below ln 2 - tolerance: it learned something
  for (int epoch = 0; epoch < 4; ++epoch) EXPECT_FALSE(drifted.update(0.6931, 0.5));
}

TEST(Net, FullyConnectedSizeFollowsTheInputShape) {
  NetConfig net;  // 5 blocks, 16 -> 32 -> 64 -> 64 -> 64 channels
  // The frame head scores each time step from the last block's channels.
  EXPECT_EQ(fc_input_size(net, 128, 108), 64);
  net.head = "window";  // each block halving both sides, flattened
  EXPECT_EQ(fc_input_size(net, 128, 108), 64 * (128 / 32) * (108 / 2 / 2 / 2 / 2 / 2));
  EXPECT_EQ(fc_input_size(net, 256, 216), 64 * 8 * 6);
  net.depth = 3;
  net.channels = 8;
  net.max_channels = 32;
  EXPECT_EQ(fc_input_size(net, 64, 54), 32 * 8 * 6);
  net.pool = "avg";
  net.kernels = {3};
  EXPECT_EQ(fc_input_size(net, 40, 100), 32 * 5 * 12);
}

TEST(Net, TooDeepForTheInputIsAClearError) {
  NetConfig net;
  net.depth = 5;
  try {
    fc_input_size(net, 16, 16);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too deep"), std::string::npos) << e.what();
  }
}

TEST(Config, JsonRoundTripAndStrictFields) {
  TrainConfig c;
  c.lr = 3e-4;
  c.net.depth = 3;
  c.features.n_mels = 64;
  const nlohmann::json j = c;
  const auto back = j.get<TrainConfig>();
  EXPECT_EQ(nlohmann::json(back), j);
  EXPECT_THROW((nlohmann::json{{"epochs", 0}}.get<TrainConfig>()), Error);
  EXPECT_THROW((nlohmann::json{{"net", {{"kernels", {4}}}}}.get<TrainConfig>()), Error);
  EXPECT_THROW((nlohmann::json{{"learning_rate", 0.1}}.get<TrainConfig>()), Error);
}

TEST(Config, AUserSetsTwentyFiveSettingsAndTheRecipeIsFixed) {
  EXPECT_EQ(static_cast<int>(nlohmann::json(TrainConfig{}).flatten().size()), kUserSettings);
  EXPECT_LE(kUserSettings, 25);
  // The rate and window length are the store's sample format, not a setting.
  const auto rate = testing::error_of([] {
    nlohmann::json{{"features", {{"sample_rate", 16000}}}}.get<TrainConfig>();
  });
  EXPECT_NE(rate.find("'sample_rate' is not a setting"), std::string::npos) << rate;
  EXPECT_NE(rate.find("frames, n_mels"), std::string::npos) << rate;  // what is
  const auto kernels = testing::error_of([] {
    nlohmann::json{{"net", {{"kernels", {3}}}}}.get<TrainConfig>();
  });
  EXPECT_NE(kernels.find("'kernels' is not a setting"), std::string::npos) << kernels;
  // A setting of a part is read over the defaults and validated with the part.
  const auto deeper =
      nlohmann::json{{"net", {{"depth", 6}}}, {"augment", false}}.get<TrainConfig>();
  EXPECT_EQ(deeper.net.depth, 6);
  EXPECT_EQ(deeper.net.channels, NetConfig{}.channels);
  EXPECT_FALSE(deeper.augment.enabled);
  EXPECT_THROW((nlohmann::json{{"net", {{"depth", 0}}}}.get<TrainConfig>()), Error);
  EXPECT_THROW((nlohmann::json{{"augment", {{"enabled", false}}}}.get<TrainConfig>()), Error);
}

}  // namespace
}  // namespace sax
