// Sliding-window analysis with a fake tone scorer on audio whose sax stretches are known.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "audio/audio.h"
#include "common/error.h"
#include "detect/detect.h"
#include "fake_scorer.h"

namespace sax::testing {
namespace {

using detect::Analysis;
using detect::Options;

Options with_hop(double hop, double chunk_seconds = 60) {
  Options o;
  o.hop = hop;
  o.chunk_seconds = chunk_seconds;
  return o;
}

Analysis analyse(const std::vector<float>& audio, ToneScorer& scorer, const Options& options) {
  return detect::analyse_samples(audio.data(), audio.size(), scorer, options, "song");
}

TEST(Analyse, WindowCountAndTimingFollowTheHop) {
  const auto audio = song_with_sax(30, {});
  for (double hop : {0.5, 1.0, 2.5, 3.0}) {
    ToneScorer scorer(2.0);
    const Analysis a = analyse(audio, scorer, with_hop(hop));
    // Windows of 2 s fully inside 30 s start at 0, hop, ... up to 28 s.
    const size_t expected = static_cast<size_t>((30.0 - 2.0) / hop) + 1;
    ASSERT_EQ(a.windows.size(), expected) << "hop " << hop;
    for (size_t i = 0; i < a.windows.size(); ++i) {
      EXPECT_NEAR(a.windows[i].start, i * hop, 1e-9);
      EXPECT_NEAR(a.windows[i].end, i * hop + 2.0, 1e-9);
    }
    EXPECT_NEAR(a.duration, 30.0, 1e-9);
    EXPECT_EQ(detect::window_starts(audio.size(), kFakeRate, 2 * kFakeRate,
                                    static_cast<size_t>(hop * kFakeRate))
                  .size(),
              expected);
  }
}

TEST(Analyse, ChunkBoundariesGiveTheOneShotResult) {
  const auto audio = song_with_sax(47.3, {{3, 9.5}, {20.2, 31}, {44, 47.3}});
  for (double hop : {0.5, 1.0, 3.0}) {  // 3 s: hops longer than the 2 s window skip audio
    ToneScorer whole, chunked;
    const Analysis one_shot = analyse(audio, whole, with_hop(hop, 1000));
    const Analysis streamed = analyse(audio, chunked, with_hop(hop, 3.7));
    EXPECT_EQ(whole.calls, 1u);
    EXPECT_GT(chunked.calls, 5u);
    ASSERT_EQ(streamed.windows.size(), one_shot.windows.size()) << "hop " << hop;
    for (size_t i = 0; i < one_shot.windows.size(); ++i) {
      EXPECT_EQ(streamed.windows[i].probability, one_shot.windows[i].probability) << i;
      EXPECT_EQ(streamed.windows[i].start, one_shot.windows[i].start) << i;
    }
    ASSERT_EQ(streamed.segments.size(), one_shot.segments.size());
    EXPECT_NEAR(streamed.duration, one_shot.duration, 1e-9);
  }
}

TEST(Analyse, MemoryIsBoundedByTheChunk) {
  const auto audio = song_with_sax(120, {});
  ToneScorer scorer;
  analyse(audio, scorer, with_hop(1.0, 10));
  // One chunk: 10 windows of 1 s hop => 9 s of hops plus one 2 s window.
  EXPECT_EQ(scorer.largest_call, static_cast<size_t>(11 * kFakeRate));
}

TEST(Analyse, SegmentsMatchTheKnownSaxStretches) {
  const std::vector<std::pair<double, double>> truth{{10, 20}, {30, 34}};
  const auto audio = song_with_sax(45, truth);
  ToneScorer scorer;
  const Analysis a = analyse(audio, scorer, with_hop(0.5, 7));
  ASSERT_EQ(a.segments.size(), truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    // Slots are one hop wide, so boundaries land within half a hop (plus a block).
    EXPECT_NEAR(a.segments[i].start, truth[i].first, 0.3);
    EXPECT_NEAR(a.segments[i].end, truth[i].second, 0.3);
    EXPECT_GT(a.segments[i].probability, 0.6);
  }
  EXPECT_TRUE(a.sax);
  EXPECT_NEAR(a.sax_share, 14.0 / 45, 0.03);
  EXPECT_NEAR(a.probability, 1.0, 1e-6);
  EXPECT_EQ(a.threshold, 0.5);
  EXPECT_EQ(a.scorer, "tone");
}

// Phrases shorter than the window with rests shorter than the window: whole windows cannot
// tell them apart, a frame model's steps can.
TEST(Analyse, FrameModelsPlaceShortPhrasesByTheirSteps) {
  const std::vector<std::pair<double, double>> truth{{10, 12.5}, {14, 16}, {17.6, 20}};
  const auto audio = song_with_sax(30, truth);
  StepToneScorer frames(5.0);
  const Analysis a = analyse(audio, frames, with_hop(1.0, 7));
  ASSERT_EQ(a.segments.size(), truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    EXPECT_NEAR(a.segments[i].start, truth[i].first, 0.25);
    EXPECT_NEAR(a.segments[i].end, truth[i].second, 0.25);
  }
  EXPECT_EQ(a.windows.size(), 26u);  // window probabilities are still reported
  ToneScorer windows(5.0);
  EXPECT_LT(analyse(audio, windows, with_hop(1.0, 7)).segments.size(), truth.size());
}

TEST(StepTimeline, PlacesEachWindowsStepsWhereThatWindowStarts) {
  // Two windows of two 0.2 s steps, 0.3 s apart: the second starts one and a half steps in, on
  // slot 6 of the 0.05 s slots. Rounding its start to whole steps would move it by 0.1 s.
  const std::vector<float> steps{0.1f, 0.2f, 0.3f, 0.4f};
  const auto timeline = detect::step_timeline(steps, 2, 0.3, 0.2);
  const float b_and_c = (0.2f + 0.3f) / 2;
  const std::vector<float> expected{0.1f,    0.1f, 0.1f, 0.1f, 0.2f, 0.2f, b_and_c,
                                    b_and_c, 0.3f, 0.3f, 0.4f, 0.4f, 0.4f, 0.4f};
  ASSERT_EQ(timeline.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_FLOAT_EQ(timeline[k], expected[k]) << k;
}

TEST(Analyse, FrameModelBoundariesFollowTheAudioWhateverTheHop) {
  // A hop of 0.7 s is three and a half 0.2 s steps: every other window starts mid-step. Placed
  // by whole steps, both ends were 0.1 s off; placed by quarter steps they are exact.
  const std::vector<std::pair<double, double>> truth{{10.1, 12.5}, {14.3, 16.1}};
  const auto audio = song_with_sax(30, truth);
  StepToneScorer frames(5.0);
  const Analysis a = analyse(audio, frames, with_hop(0.7));
  ASSERT_EQ(a.segments.size(), truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    EXPECT_NEAR(a.segments[i].start, truth[i].first, 0.05);
    EXPECT_NEAR(a.segments[i].end, truth[i].second, 0.05);
  }
}

TEST(Analyse, SaxAtTheVeryStartAndEndReachesTheFileEdges) {
  const auto audio = song_with_sax(20, {{0, 4}, {16, 20}});
  ToneScorer scorer;
  const Analysis a = analyse(audio, scorer, with_hop(1.0));
  ASSERT_EQ(a.segments.size(), 2u);
  EXPECT_EQ(a.segments[0].start, 0.0);
  EXPECT_NEAR(a.segments[0].end, 4, 0.6);
  EXPECT_NEAR(a.segments[1].start, 16, 0.6);
  EXPECT_EQ(a.segments[1].end, 20.0);
}

TEST(Analyse, CleanSongHasNoSax) {
  const auto audio = song_with_sax(30, {});
  ToneScorer scorer;
  const Analysis a = analyse(audio, scorer, with_hop(1.0));
  EXPECT_FALSE(a.sax);
  EXPECT_TRUE(a.segments.empty());
  EXPECT_EQ(a.sax_share, 0.0);
  EXPECT_EQ(a.probability, 0.0);
}

TEST(Analyse, MinShareDecidesTheVerdict) {
  const auto audio = song_with_sax(40, {{10, 14}});  // 10% of the time
  ToneScorer scorer;
  Options options = with_hop(1.0);
  EXPECT_TRUE(analyse(audio, scorer, options).sax);
  options.smoothing.min_share = 0.2;
  const Analysis strict = analyse(audio, scorer, options);
  EXPECT_FALSE(strict.sax);
  EXPECT_EQ(strict.segments.size(), 1u);  // the segment is still reported
}

TEST(Analyse, ByDefaultAStrayMomentDoesNotMakeASongSax) {
  const auto audio = song_with_sax(200, {{100, 102}});
  ToneScorer scorer;
  const Analysis a = analyse(audio, scorer, with_hop(1.0));
  ASSERT_FALSE(a.segments.empty()) << "the moment is still reported";
  EXPECT_GT(a.sax_share, 0.0);
  EXPECT_LT(a.sax_share, detect::Smoothing{}.min_share);
  EXPECT_FALSE(a.sax);
}

TEST(Analyse, ShortInputIsOnePaddedWindow) {
  const auto audio = song_with_sax(1.5, {{0, 1.5}});  // shorter than the 2 s window
  ToneScorer scorer;
  Options options = with_hop(1.0);
  options.smoothing.min_segment = 0;
  const Analysis a = analyse(audio, scorer, options);
  ASSERT_EQ(a.windows.size(), 1u);
  EXPECT_EQ(a.windows[0].end, 1.5);
  EXPECT_NEAR(a.windows[0].probability, 0.75, 0.01);  // 1.5 s of sax in a 2 s padded window
  ASSERT_EQ(a.segments.size(), 1u);
  EXPECT_EQ(a.segments[0].end, 1.5);
}

TEST(Analyse, EmptyInputIsAnErrorNamingIt) {
  ToneScorer scorer;
  std::vector<float> nothing;
  try {
    detect::analyse_samples(nothing.data(), 0, scorer, Options{}, "empty.wav");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty.wav"), std::string::npos);
  }
}

TEST(Analyse, BadOptionsAreRejectedByName) {
  ToneScorer scorer;
  const auto audio = song_with_sax(5, {});
  Options options;
  options.hop = 0;
  EXPECT_THROW(analyse(audio, scorer, options), Error);
  options = Options{};
  options.smoothing.median_windows = 4;
  try {
    analyse(audio, scorer, options);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--median"), std::string::npos);
  }
  options = Options{};
  options.smoothing.enter = 0.3;
  options.smoothing.exit = 0.6;
  EXPECT_THROW(analyse(audio, scorer, options), Error);
}

TEST(Analyse, ProgressReportsEveryChunkUpToTheDuration) {
  const auto audio = song_with_sax(30, {});
  ToneScorer scorer;
  Options options = with_hop(1.0, 10);
  std::vector<double> seen;
  options.on_progress = [&](double seconds) { seen.push_back(seconds); };
  analyse(audio, scorer, options);
  ASSERT_GE(seen.size(), 3u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_NEAR(seen.back(), 30.0, 1e-9);
}

TEST(AnalyseFile, DecodesTheFileAtTheScorersRate) {
  TempDir dir;
  const auto audio = song_with_sax(25, {{5, 12}});
  write_audio(dir / "song.wav", audio, kFakeRate);
  ToneScorer scorer;
  const Analysis a = detect::analyse_file(dir / "song.wav", scorer, with_hop(0.5, 6));
  EXPECT_EQ(a.file, (dir / "song.wav").string());
  EXPECT_NEAR(a.duration, 25, 0.05);
  ASSERT_EQ(a.segments.size(), 1u);
  EXPECT_NEAR(a.segments[0].start, 5, 0.35);
  EXPECT_NEAR(a.segments[0].end, 12, 0.35);
}

TEST(AnalyseFile, DecodingAheadGivesTheInMemoryResult) {
  // Decoding runs on its own thread, in blocks unrelated to the chunks: every window must still
  // see exactly the samples of a one-shot decode, across many chunk and block boundaries.
  TempDir dir;
  write_audio(dir / "song.flac", song_with_sax(95.3, {{3, 9.5}, {20.2, 31}, {70, 95.3}}),
              kFakeRate);
  const auto decoded = decode_mono(dir / "song.flac", kFakeRate);
  for (double chunk : {2.5, 7.0, 1000.0}) {
    ToneScorer from_file, from_memory;
    const Analysis a = detect::analyse_file(dir / "song.flac", from_file, with_hop(0.5, chunk));
    const Analysis b = analyse(decoded, from_memory, with_hop(0.5, chunk));
    EXPECT_EQ(from_file.calls, from_memory.calls);
    EXPECT_EQ(a.duration, b.duration);
    ASSERT_EQ(a.windows.size(), b.windows.size()) << "chunk " << chunk;
    for (size_t i = 0; i < a.windows.size(); ++i)
      ASSERT_EQ(a.windows[i].probability, b.windows[i].probability) << i << ", chunk " << chunk;
    EXPECT_EQ(a.segments.size(), 3u);
  }
}

// Fails on its n-th score_sliding call.
class FailingScorer : public ToneScorer {
 public:
  explicit FailingScorer(size_t fail_on) : fail_on_(fail_on) {}
  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop) override {
    if (calls + 1 == fail_on_) throw Error("scorer gave up");
    return ToneScorer::score_sliding(audio, count, hop);
  }

 private:
  size_t fail_on_;
};

TEST(AnalyseFile, AScorerErrorStopsTheDecodingThread) {
  TempDir dir;
  write_audio(dir / "long.wav", song_with_sax(200, {}), kFakeRate);
  for (size_t fail_on : {1u, 3u}) {
    FailingScorer scorer(fail_on);
    try {
      detect::analyse_file(dir / "long.wav", scorer, with_hop(1.0, 5));
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("scorer gave up"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("long.wav"), std::string::npos) << e.what();
    }
  }
}

// A broken model: NaN for every window from the n-th on.
class NanScorer : public ToneScorer {
 public:
  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop) override {
    auto p = ToneScorer::score_sliding(audio, count, hop);
    for (size_t i = 0; i < p.size(); ++i)
      if (seen_ + i >= 3) p[i] = std::nanf("");
    seen_ += p.size();
    return p;
  }

 private:
  size_t seen_ = 0;
};

TEST(Analyse, ANaNProbabilityIsAnErrorNamingTheFileAndTime) {
  NanScorer scorer;
  const std::string message = error_of([&] {
    analyse(song_with_sax(20, {{2, 8}}), scorer, with_hop(1.0, 5));
  });
  EXPECT_EQ(message.rfind("song: scorer tone gave a probability that is not a number", 0), 0u)
      << message;
  EXPECT_NE(message.find("window at 3.0 s"), std::string::npos) << message;
}

TEST(AnalyseFile, AFloatFileHoldingNaNIsRefusedByName) {
  // A NaN every 1000th sample (a float WAV) once hung the analysis forever.
  TempDir dir;
  auto audio = song_with_sax(12, {{2, 8}});
  for (size_t i = 0; i < audio.size(); i += 1000) audio[i] = std::nanf("");
  write_float_wav(dir / "nan.wav", audio, kFakeRate);
  ToneScorer scorer;
  const std::string message =
      error_of([&] { detect::analyse_file(dir / "nan.wav", scorer, Options{}); });
  EXPECT_EQ(message.rfind((dir / "nan.wav").string() + ": holds samples that are not audio", 0), 0u)
      << message;
}

TEST(AnalyseFile, UnreadableFileErrorNamesIt) {
  TempDir dir;
  const auto path = dir / "broken.mp3";
  { std::ofstream(path) << "this is not audio"; }
  ToneScorer scorer;
  try {
    detect::analyse_file(path, scorer, Options{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.mp3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sax::testing
