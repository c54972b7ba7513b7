// Training augmentation of the CNN (model/kind.h): each transform on its own, on raw log-mel.
#include <cmath>
#include <random>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/kind.h"

namespace sax {
namespace {

constexpr int64_t kItems = 4, kRows = 16, kCols = 24;

// Only the transforms a test switches on; no normalisation, so outputs compare with inputs.
TrainConfig plain_config() {
  TrainConfig c;
  c.kind = "cnn";
  c.features.n_mels = kRows;
  c.features.frames = kCols;
  c.features.normalise = "none";
  AugmentConfig& a = c.augment;
  a.time_masks = a.freq_masks = 0;
  a.gain_db = a.tilt_db = a.eq_db = 0;
  a.max_shift = a.mel_shift = 0;
  a.mixup_alpha = 0;
  return c;
}

Targets window_targets() { return {torch::ones({kItems}), {}, {}}; }

// The augmented spectrograms [items, rows, cols] of x under config (window targets only).
torch::Tensor augmented(const TrainConfig& config, const torch::Tensor& x, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return model_kind(config)->augment(x, window_targets(), rng).first.squeeze(1);
}

TEST(Augment, TimeShiftMovesTheFrameTargetsWithTheSpectrogram) {
  auto config = plain_config();
  config.augment.max_shift = 8;
  // Sax in columns 5..9 of every item: the spectrogram is loud exactly there.
  auto frames = torch::zeros({kItems, kCols});
  frames.narrow(1, 5, 5).fill_(1.0f);
  const auto x = frames.unsqueeze(1).expand({kItems, kRows, kCols}).clone();
  std::mt19937_64 rng(5);
  bool moved = false;
  for (int round = 0; round < 4; ++round) {
    auto [out, targets] = model_kind(config)->augment(
        x, {torch::ones({kItems}), frames.clone(), torch::ones({kItems})}, rng);
    ASSERT_TRUE(targets.has_frames());
    const auto loud = out.squeeze(1).select(1, 0);  // [items, cols], any band
    EXPECT_TRUE(torch::equal(loud, targets.frames)) << "round " << round;
    moved = moved || !torch::equal(targets.frames, frames);
  }
  EXPECT_TRUE(moved) << "a shift of up to 8 frames never moved anything";
}

TEST(Augment, MixupKeepsFrameTargetsKnownOnlyWhereBothItemsHaveThem) {
  auto config = plain_config();
  config.augment.mixup_alpha = 0.4;
  const auto known = torch::tensor({1.0f, 0.0f, 1.0f, 1.0f});
  std::mt19937_64 rng(9);
  for (int round = 0; round < 8; ++round) {
    auto [out, targets] = model_kind(config)->augment(
        torch::rand({kItems, kRows, kCols}),
        {torch::tensor({1.0f, 0.0f, 1.0f, 0.0f}), torch::rand({kItems, kCols}), known}, rng);
    EXPECT_TRUE((targets.known <= known).all().item<bool>());
    EXPECT_EQ(targets.known.sum().item<float>() >= 1.0f, true) << "at least one pair is known";
    EXPECT_TRUE((targets.windows >= 0).all().item<bool>() &&
                (targets.windows <= 1).all().item<bool>());
  }
}

TEST(Augment, EqAddsOneSmoothBoundedCurvePerItem) {
  auto config = plain_config();
  config.augment.eq_db = 6;
  const auto x = torch::rand({kItems, kRows, kCols});
  const auto curve = augmented(config, x, 3) - x;  // [items, rows, cols]
  const double most = 6 * std::log(10.0) / 10;
  EXPECT_LE(curve.abs().max().item<double>(), most + 1e-5);
  EXPECT_GT(curve.abs().max().item<double>(), 0.1 * most);
  // The same gain in every frame of a band.
  EXPECT_LT((curve - curve.select(2, 0).unsqueeze(2)).abs().max().item<double>(), 1e-5);
  // Piecewise linear between 4 anchors: second differences vanish except at 2 inner anchors.
  const auto bands = curve.select(2, 0);
  const auto second = bands.narrow(1, 2, kRows - 2) - 2 * bands.narrow(1, 1, kRows - 2) +
                      bands.narrow(1, 0, kRows - 2);
  EXPECT_LE((second.abs() > 1e-4).sum(1).max().item<int64_t>(), 4);
}

TEST(Augment, BandShiftMovesEachItemBySomeBandsWithinTheLimit) {
  auto config = plain_config();
  config.augment.mel_shift = 2;
  const auto x = torch::rand({kItems, kRows, kCols});
  const auto out = augmented(config, x, 4);
  for (int64_t i = 0; i < kItems; ++i) {
    bool matched = false;
    for (int s = -2; s <= 2 && !matched; ++s) {
      const auto from = (torch::arange(kRows) - s).clamp(0, kRows - 1);
      matched = torch::equal(out[i], x[i].index_select(0, from));
    }
    EXPECT_TRUE(matched) << "item " << i << " is not x shifted by -2..2 bands";
  }
}

}  // namespace
}  // namespace sax
