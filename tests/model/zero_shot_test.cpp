// Measuring a zero-shot scorer on a labelled store: threshold from the non-test samples,
// metrics on the grouped test split.
#include "model/zero_shot.h"

#include <gtest/gtest.h>

#include <cmath>

#include "audio/audio.h"
#include "common/error.h"
#include "common/home.h"
#include "store/store.h"
#include "support/testing.h"

namespace sax {
namespace {

using sax::testing::TempDir;

constexpr int kRate = 8000;

// Scores a window by its loudness: a stand-in for a pretrained detector.
class LoudnessScorer : public Scorer {
 public:
  std::string name() const override { return "loudness"; }
  int sample_rate() const override { return kRate; }
  size_t window_samples() const override { return kRate; }
  double threshold() const override { return 0.5; }
  std::vector<float> score_sliding(const float*, size_t, size_t) override { return {}; }
  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    std::vector<float> out;
    for (const auto& w : windows) out.push_back(static_cast<float>(rms(w.data(), w.size())));
    return out;
  }
};

// `sources` songs of two one-second samples each; sax samples are loud (amplitude 0.5), the
// others quiet (0.05), so a loudness threshold separates them perfectly.
void fill_store(Store& store, const Home& home, int sources) {
  for (int s = 0; s < sources; ++s) {
    Source source;
    source.path = "/music/song" + std::to_string(s) + ".flac";
    source.hash = "hash" + std::to_string(s);
    const auto claim = store.claim_source(source, "test");
    for (int k = 0; k < 2; ++k) {
      const bool sax = (s + k) % 2 == 0;
      const std::string relative =
          "samples/s" + std::to_string(s) + "_" + std::to_string(k) + ".wav";
      write_audio(home.root / relative,
                  sax::testing::tone(1.0, kRate, 1, 300.0 + 50 * s, sax ? 0.5 : 0.05), kRate);
      Sample sample;
      sample.source_id = claim.source_id;
      sample.start = k;
      sample.duration = 1;
      sample.path = relative;
      sample.hash = relative;
      const auto id = store.add_sample(sample);
      store.add_vote(id, "ana", sax ? Label::sax : Label::not_sax);
    }
    store.finish_source(claim.source_id, 2);
  }
}

TEST(ZeroShot, ChoosesTheThresholdOutsideTheTestSplitAndMeasuresIt) {
  TempDir dir;
  const Home home{dir.path()};
  home.create();
  auto store = open_store(home);
  fill_store(*store, home, 10);
  LoudnessScorer scorer;
  const auto result = evaluate_zero_shot(*store, home, scorer, TrainConfig{});
  EXPECT_EQ(result.calibration_samples + result.test_samples, 20u);
  EXPECT_GT(result.test_samples, 0u);
  // Quiet tones have RMS ~0.035, loud ones ~0.35: the threshold falls between them.
  EXPECT_GT(result.threshold, 0.04);
  EXPECT_LT(result.threshold, 0.34);
  EXPECT_DOUBLE_EQ(result.test.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(result.test.roc_auc, 1.0);
}

TEST(ZeroShot, NeedsBothLabelsToMeasure) {
  TempDir dir;
  const Home home{dir.path()};
  home.create();
  auto store = open_store(home);
  LoudnessScorer scorer;
  EXPECT_THROW(evaluate_zero_shot(*store, home, scorer, TrainConfig{}), Error);
}

}  // namespace
}  // namespace sax
