// Smoothing on hand-made probability sequences: median filter, hysteresis, gap merging and
// minimum length. Windows are 1 s apart and 1 s long here, so window i is the slot [i, i+1).
#include <cmath>

#include <gtest/gtest.h>

#include "detect/detect.h"

namespace sax::detect {
namespace {

detect::Smoothing plain() {  // every step off: a bare threshold at `enter`
  Smoothing s;
  s.median_windows = 1;
  s.exit = -1;
  s.merge_gap = 0;
  s.min_segment = 0;
  return s;
}

std::vector<std::pair<double, double>> spans(const std::vector<float>& p, const Smoothing& s,
                                             double enter) {
  std::vector<std::pair<double, double>> out;
  for (const auto& seg : segments_from_probabilities(p, 1.0, 1.0, p.size(), s, enter))
    out.emplace_back(seg.start, seg.end);
  return out;
}

using Spans = std::vector<std::pair<double, double>>;

TEST(MedianFilter, RemovesIsolatedSpikesAndKeepsSteps) {
  const std::vector<float> p{0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1};
  const std::vector<float> expected{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(median_filter(p, 3), expected);
  EXPECT_EQ(median_filter(p, 1), p);
  // Length 5: a 2-window dip inside a long run disappears too.
  EXPECT_EQ(median_filter({1, 1, 1, 0, 0, 1, 1, 1}, 5),
            (std::vector<float>{1, 1, 1, 1, 1, 1, 1, 1}));
}

TEST(MedianFilter, NaNSortsBelowEveryNumber) {
  // NaN has no order for nth_element (undefined behaviour); here it counts as no sax.
  const float nan = std::nanf("");
  const auto out = median_filter({nan, 1, 1, nan, 0}, 3);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(std::isnan(out[0]));  // its window holds only itself at the edge
  EXPECT_EQ(out[1], 1);
  EXPECT_EQ(out[2], 1);
  EXPECT_EQ(out[3], 0);
  EXPECT_EQ(out[4], 0);
}

TEST(Smoothing, NaNProbabilitiesEndRunsAndTheScanFinishes) {
  // The scan once never moved past a NaN (neither below exit nor at or above it).
  const float nan = std::nanf("");
  const std::vector<float> p{nan, 0.9f, nan, 0.9f, 0.9f, nan, nan, 0.2f};
  Smoothing s = plain();
  s.exit = 0.5;
  EXPECT_EQ(spans(p, s, 0.5), (Spans{{1, 2}, {3, 5}}));
  s.median_windows = 3;
  for (const auto& segment : segments_from_probabilities(p, 1.0, 1.0, p.size(), s, 0.5))
    EXPECT_TRUE(std::isfinite(segment.probability));
  EXPECT_TRUE(spans(std::vector<float>(50, nan), plain(), 0.5).empty());
}

TEST(Smoothing, PlainThresholdMakesOneSegmentPerRun) {
  const std::vector<float> p{0.1f, 0.7f, 0.8f, 0.2f, 0.6f, 0.6f, 0.6f, 0.1f};
  Smoothing s = plain();
  s.exit = 0.5;
  EXPECT_EQ(spans(p, s, 0.5), (Spans{{1, 3}, {4, 7}}));
}

TEST(Smoothing, HysteresisKeepsStretchesAboveExitThatReachEnter) {
  // 0.45 stays above exit 0.3, 0.2 does not; the 0.45 at the end reaches no 0.9, so it is no
  // segment, while the 0.45 before the first 0.9 belongs to it.
  const std::vector<float> p{0.45f, 0.9f, 0.45f, 0.45f, 0.9f, 0.2f, 0.45f, 0.1f};
  Smoothing s = plain();
  s.exit = 0.3;
  EXPECT_EQ(spans(p, s, 0.6), (Spans{{0, 5}}));
  s.exit = 0.6;  // exit = enter: a plain threshold
  EXPECT_EQ(spans(p, s, 0.6), (Spans{{1, 2}, {4, 5}}));
}

TEST(Smoothing, HysteresisPlacesOnsetsWhereTheRiseBegins) {
  // A phrase rising through exit (0.3) before it reaches enter (0.6) starts at the rise, as it
  // ends where its decay falls under exit: the rest between two phrases is not widened.
  const std::vector<float> p{0.1f, 0.4f, 0.5f, 0.9f, 0.5f, 0.1f, 0.35f, 0.7f, 0.1f};
  Smoothing s = plain();
  s.exit = 0.3;
  EXPECT_EQ(spans(p, s, 0.6), (Spans{{1, 5}, {6, 8}}));
}

TEST(Smoothing, DefaultExitStaysAboveZeroForTinyThresholds) {
  // A calibrated zero-shot threshold of 0.02: enter - 0.15 would be negative (clamped to 0),
  // every window would then stay "at or above exit" and the first segment would never end.
  const std::vector<float> p{0.03f, 0.03f, 0.0f, 0.0f, 0.03f, 0.005f, 0.0f};
  Smoothing s = plain();
  EXPECT_EQ(spans(p, s, 0.02), (Spans{{0, 2}, {4, 5}}));
  EXPECT_DOUBLE_EQ(default_exit(0.02), 0.01);
  EXPECT_DOUBLE_EQ(default_exit(0.5), 0.35);  // the usual margin where it is large enough
  EXPECT_GT(default_exit(1e-6), 0.0);
  // A window between exit (0.01) and enter keeps a segment open.
  EXPECT_EQ(spans({0.03f, 0.015f, 0.03f, 0.0f}, s, 0.02), (Spans{{0, 3}}));
}

TEST(Smoothing, DefaultExitIsEnterMinusAMargin) {
  const std::vector<float> p{0.7f, 0.58f, 0.7f, 0.45f, 0.7f};
  Smoothing s = plain();  // exit < 0: enter - 0.15 = 0.5
  EXPECT_EQ(spans(p, s, 0.65), (Spans{{0, 3}, {4, 5}}));
}

TEST(Smoothing, ShortGapsAreMergedLongOnesKept) {
  const std::vector<float> p{1, 1, 0, 1, 1, 0, 0, 0, 1, 1};
  Smoothing s = plain();
  s.merge_gap = 2;  // the 1 s gap closes, the 3 s gap stays
  EXPECT_EQ(spans(p, s, 0.5), (Spans{{0, 5}, {8, 10}}));
  s.merge_gap = 0;
  EXPECT_EQ(spans(p, s, 0.5), (Spans{{0, 2}, {3, 5}, {8, 10}}));
}

TEST(Smoothing, SegmentsShorterThanTheMinimumAreDropped) {
  const std::vector<float> p{1, 0, 0, 1, 1, 1, 0, 0, 1, 1};
  Smoothing s = plain();
  s.min_segment = 2;
  EXPECT_EQ(spans(p, s, 0.5), (Spans{{3, 6}, {8, 10}}));
  s.min_segment = 3;
  EXPECT_EQ(spans(p, s, 0.5), (Spans{{3, 6}}));
}

TEST(Smoothing, MergingHappensBeforeTheLengthCheck) {
  // Two 1 s bursts 1 s apart make one 3 s segment that survives min_segment 2 (alone
  // neither would).
  const std::vector<float> p{0, 1, 0, 1, 0};
  Smoothing s = plain();
  s.merge_gap = 1.5;
  s.min_segment = 2;
  EXPECT_EQ(spans(p, s, 0.5), (Spans{{1, 4}}));
}

TEST(Smoothing, SegmentProbabilityIsTheMeanOfItsRawWindows) {
  const std::vector<float> p{0.1f, 0.8f, 0.6f, 1.0f, 0.1f};
  const auto segments = segments_from_probabilities(p, 1.0, 1.0, 5.0, plain(), 0.5);
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_NEAR(segments[0].probability, 0.8, 1e-6);
}

TEST(Smoothing, SlotsAreCentredOnLongWindows) {
  // 5 s windows 1 s apart: window i stands for [i + 2, i + 3); the last slot reaches the end.
  const std::vector<float> p{0, 0, 0, 1, 1, 0, 0};
  EXPECT_EQ(segments_from_probabilities(p, 1.0, 5.0, 11.0, plain(), 0.5).front().start, 5.0);
  EXPECT_EQ(segments_from_probabilities(p, 1.0, 5.0, 11.0, plain(), 0.5).front().end, 7.0);
  const std::vector<float> tail{0, 0, 0, 0, 0, 1, 1};
  EXPECT_EQ(segments_from_probabilities(tail, 1.0, 5.0, 11.0, plain(), 0.5).front().end, 11.0);
}

TEST(Smoothing, MedianThenHysteresisIgnoresOneWindowBlips) {
  const std::vector<float> p{0, 0.9f, 0, 0, 0.9f, 0.9f, 0.9f, 0.2f, 0.9f, 0.9f, 0};
  Smoothing s = plain();
  s.median_windows = 3;
  EXPECT_EQ(spans(p, s, 0.5), (Spans{{4, 10}}));
}

}  // namespace
}  // namespace sax::detect
