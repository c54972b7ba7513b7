// Training augmentation of the CNN (model/kind.h): each transform on its own, on raw log-mel.
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
  a.gain_db = a.tilt_db = 0;
  a.max_shift = 0;
  a.mixup_alpha = 0;
  return c;
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
    auto [out, targets] = cnn_kind(config)->augment(
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
    auto [out, targets] = cnn_kind(config)->augment(
        torch::rand({kItems, kRows, kCols}),
        {torch::tensor({1.0f, 0.0f, 1.0f, 0.0f}), torch::rand({kItems, kCols}), known}, rng);
    EXPECT_TRUE((targets.known <= known).all().item<bool>());
    EXPECT_EQ(targets.known.sum().item<float>() >= 1.0f, true) << "at least one pair is known";
    EXPECT_TRUE((targets.windows >= 0).all().item<bool>() &&
                (targets.windows <= 1).all().item<bool>());
  }
}

}  // namespace
}  // namespace sax
