// Labelling ordered by the model in use from the first label: scoring unscored samples and the
// order /api/next then follows.
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "infer/detector.h"
#include "web/label_order.h"
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

// Scores a clip by its loudness and counts its calls: stands in for the built-in detector.
class LoudnessScorer : public Scorer {
 public:
  explicit LoudnessScorer(double threshold) : threshold_(threshold) {}
  std::string name() const override { return "loudness"; }
  int sample_rate() const override { return 22050; }
  size_t window_samples() const override { return 22050; }
  double threshold() const override { return threshold_; }
  std::vector<float> score_sliding(const float*, size_t, size_t) override { return {}; }
  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    std::vector<float> out;
    for (const auto& w : windows) {
      ++calls;
      float peak = 0;
      for (float v : w) peak = std::max(peak, std::abs(v));
      out.push_back(std::min(1.0f, peak));
    }
    return out;
  }
  int calls = 0;

 private:
  double threshold_;
};

TEST(UncertaintyScore, PutsTheThresholdAtOneHalfAndKeepsTheOrder) {
  EXPECT_NEAR(uncertainty_score(0.2, 0.2), 0.5, 1e-12);
  EXPECT_NEAR(uncertainty_score(0.5, 0.5), 0.5, 1e-12);
  EXPECT_LT(uncertainty_score(0.1, 0.2), 0.5);
  EXPECT_GT(uncertainty_score(0.3, 0.2), 0.5);
  EXPECT_LT(uncertainty_score(0.3, 0.2), uncertainty_score(0.4, 0.2));
  EXPECT_GE(uncertainty_score(0.0, 0.2), 0.0);
  EXPECT_LE(uncertainty_score(1.0, 0.2), 1.0);
}

TEST_F(WebTest, WithoutATrainedModelTheBuiltInOrdersLabelling) {
  EXPECT_EQ(labelling_model(home_), kBuiltinModelName);
  std::ofstream(home_.models() / "current") << "cnn-7\n";
  std::filesystem::create_directories(home_.models() / "cnn-7");
  EXPECT_EQ(labelling_model(home_), "cnn-7");
}

TEST_F(WebTest, UnscoredSamplesAreScoredOnceAndStopIsHeard) {
  const auto ids = add_source("a", 4);
  LoudnessScorer scorer(/*threshold=*/0.05);
  const std::atomic<bool> stop{false};
  EXPECT_EQ(predict_unscored_samples(*store_, home_, scorer, "loud", stop, 3), ids.size());
  EXPECT_EQ(scorer.calls, static_cast<int>(ids.size()));
  EXPECT_EQ(predict_unscored_samples(*store_, home_, scorer, "loud", stop), 0u);
  EXPECT_EQ(scorer.calls, static_cast<int>(ids.size()));  // nothing scored twice
  EXPECT_TRUE(store_->samples_without_prediction("loud").empty());

  const std::atomic<bool> stopped{true};
  add_source("b", 2);
  EXPECT_EQ(predict_unscored_samples(*store_, home_, scorer, "loud", stopped), 0u);
}

TEST_F(WebTest, TheServerScoresSamplesWithTheBuiltInDetectorInTheBackground) {
  add_source("a", 3);
  WebOptions options;
  options.order_labelling = true;
  start(options);
  // The built-in detector scores the clips on the server's own thread; wait for it (bounded).
  for (int i = 0; i < 600 && !store_->samples_without_prediction(kBuiltinModelName).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(store_->samples_without_prediction(kBuiltinModelName).empty());
  EXPECT_NE(next_id("ana"), 0);
}

}  // namespace
}  // namespace sax::web::testing
