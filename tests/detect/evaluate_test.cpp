// Evaluation metrics on hand-made truth and predictions, and reading truth.json.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "detect/detect.h"
#include "support/testing.h"

namespace sax::detect {
namespace {

Analysis predicted(double duration, std::vector<std::pair<double, double>> spans) {
  Analysis a;
  a.duration = duration;
  for (auto [start, end] : spans) a.segments.push_back({start, end, 0.9});
  a.sax = !a.segments.empty();
  return a;
}

SongTruth truth(std::vector<TimeRange> sax) {
  SongTruth t;
  t.sax = std::move(sax);
  return t;
}

TEST(Evaluator, HandMadeSongsGiveTheHandCountedFigures) {
  Evaluator evaluator;  // 10 ms frames, 1 s tolerance
  // A: onset 1.2 s late (no boundary match): TP [3.2,6) 280, FP [6,7) 100, FN [2,3.2) 120.
  evaluator.add(predicted(10, {{3.2, 7}}), truth({{2, 6}}));
  // B: clean song called sax: FP 100, clip wrong.
  evaluator.add(predicted(10, {{0, 1}}), truth({}));
  // C: both segments within 1 s: TP 250 + 300, FP [4,4.8) 80, FN [1,1.5) 50.
  evaluator.add(predicted(10, {{1.5, 4.8}, {6, 9}}), truth({{1, 4}, {6, 9}}));
  // D: clean and called clean.
  evaluator.add(predicted(10, {}), truth({}));
  // E: sax throughout, missed: FN 1000.
  evaluator.add(predicted(10, {}), truth({{0, 10}}));
  const Evaluation e = evaluator.result();
  EXPECT_EQ(e.true_positive_frames, 830u);
  EXPECT_EQ(e.false_positive_frames, 280u);
  EXPECT_EQ(e.false_negative_frames, 1170u);
  EXPECT_NEAR(e.frame_precision, 830.0 / 1110, 1e-9);
  EXPECT_NEAR(e.frame_recall, 830.0 / 2000, 1e-9);
  const double p = 830.0 / 1110, r = 830.0 / 2000;
  EXPECT_NEAR(e.frame_f1, 2 * p * r / (p + r), 1e-9);
  EXPECT_NEAR(e.clip_accuracy, 3.0 / 5, 1e-9);
  EXPECT_NEAR(e.clip_balanced_accuracy, (2.0 / 3 + 1.0 / 2) / 2, 1e-9);
  EXPECT_EQ(e.truth_segments, 4u);
  EXPECT_EQ(e.matched_segments, 2u);
  EXPECT_NEAR(e.segments_within_1s, 0.5, 1e-9);
  // Detected: A's and B's segments match nothing, C's two do.
  EXPECT_EQ(e.detected_segments, 4u);
  EXPECT_EQ(e.matched_detected_segments, 2u);
  EXPECT_NEAR(e.detected_segments_within_1s, 0.5, 1e-9);
  EXPECT_EQ(e.files, 5u);
}

TEST(Evaluator, PhrasesABreathApartAreOnePassageUnlessAskedOtherwise) {
  // Two phrases 0.3 s apart, detected as one passage.
  Evaluator passages;  // truth gaps under 1 s closed
  passages.add(predicted(10, {{2, 8}}), truth({{2, 4.5}, {4.8, 8}}));
  EXPECT_EQ(passages.result().truth_segments, 1u);
  EXPECT_EQ(passages.result().matched_segments, 1u);
  EXPECT_DOUBLE_EQ(passages.result().frame_f1, 1.0);
  Evaluator phrases(0.01, 1.0, 0.0);  // every phrase on its own
  phrases.add(predicted(10, {{2, 8}}), truth({{2, 4.5}, {4.8, 8}}));
  EXPECT_EQ(phrases.result().truth_segments, 2u);
  EXPECT_EQ(phrases.result().matched_segments, 0u);
  EXPECT_LT(phrases.result().frame_f1, 1.0);
}

TEST(Evaluator, PerfectPredictionScoresOne) {
  Evaluator evaluator;
  evaluator.add(predicted(20, {{2, 8}}), truth({{2, 8}}));
  evaluator.add(predicted(20, {}), truth({}));
  const Evaluation e = evaluator.result();
  EXPECT_DOUBLE_EQ(e.frame_f1, 1.0);
  EXPECT_DOUBLE_EQ(e.clip_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(e.clip_balanced_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(e.segments_within_1s, 1.0);
  EXPECT_DOUBLE_EQ(e.detected_segments_within_1s, 1.0);
}

TEST(Evaluator, DetectedSegmentsAreScoredAgainstTheTruthToo) {
  // One passage found, and a stray segment beside it: every passage found, half the segments.
  Evaluator evaluator;
  evaluator.add(predicted(30, {{2, 8}, {20, 22}}), truth({{2.5, 8.5}}));
  Evaluation e = evaluator.result();
  EXPECT_DOUBLE_EQ(e.segments_within_1s, 1.0);
  EXPECT_DOUBLE_EQ(e.detected_segments_within_1s, 0.5);
  // A passage split in two: neither piece has both ends near the passage's.
  Evaluator split;
  split.add(predicted(30, {{2, 5}, {6, 9}}), truth({{2, 9}}));
  e = split.result();
  EXPECT_EQ(e.detected_segments, 2u);
  EXPECT_EQ(e.matched_detected_segments, 0u);
  const auto j = to_json(e);
  EXPECT_DOUBLE_EQ(j["detected_segments_within_1s"].get<double>(), 0.0);
  EXPECT_NE(format_human(e).find("detected segments with both ends within 1 s of a true one: 0/2"),
            std::string::npos);
}

TEST(Evaluator, OneClassOnlyBalancedAccuracyIsThatClassRecall) {
  Evaluator evaluator;
  evaluator.add(predicted(10, {{0, 10}}), truth({{0, 10}}));
  evaluator.add(predicted(10, {}), truth({{0, 10}}));
  EXPECT_DOUBLE_EQ(evaluator.result().clip_balanced_accuracy, 0.5);
}

TEST(Evaluator, FramesAreCountedByTheLeadPlayingThen) {
  Evaluator evaluator;
  SongTruth song = truth({{5, 10}});
  song.sections = {{0, 5, "trombone"}, {5, 10, "tenor sax"}, {10, 12, ""}};
  evaluator.add(predicted(12, {{3, 10}}), song);  // trombone taken for sax from 3 s on
  const auto& by_lead = evaluator.result().by_lead;
  ASSERT_EQ(by_lead.size(), 3u);
  EXPECT_EQ(by_lead.at("trombone").frames, 500u);
  EXPECT_EQ(by_lead.at("trombone").correct, 300u);
  EXPECT_EQ(by_lead.at("tenor sax").correct, 500u);
  EXPECT_EQ(by_lead.at("none").frames, 200u);
  const auto j = to_json(evaluator.result());
  EXPECT_NEAR(j["by_lead"]["trombone"]["accuracy"].get<double>(), 0.6, 1e-9);
  EXPECT_NE(format_human(evaluator.result()).find("trombone 0.60"), std::string::npos);
}

// Passages come in songs: the share's interval resamples songs, narrows as songs are added,
// is the same on every run, and collapses where every song is found whole.
TEST(Evaluator, PassageShareComesWithAnIntervalOverSongs) {
  auto add_songs = [](Evaluator& evaluator, int copies) {
    for (int i = 0; i < copies; ++i) {
      evaluator.add(predicted(10, {{1, 3}, {5, 7}}), truth({{1, 3}, {5, 7}}));  // both found
      evaluator.add(predicted(10, {}), truth({{1, 3}, {5, 7}}));                // none found
      evaluator.add(predicted(10, {}), truth({}));  // a clean song has no passages to resample
    }
  };
  Evaluator few, many, perfect;
  add_songs(few, 2);
  add_songs(many, 16);
  const Evaluation f = few.result(), m = many.result();
  EXPECT_DOUBLE_EQ(f.segments_within_1s, 0.5);
  EXPECT_DOUBLE_EQ(m.segments_within_1s, 0.5);
  EXPECT_LT(f.segments_within_1s_low, 0.5);
  EXPECT_GT(f.segments_within_1s_high, 0.5);
  EXPECT_GE(f.segments_within_1s_low, 0.0);
  EXPECT_LE(f.segments_within_1s_high, 1.0);
  EXPECT_GT(m.segments_within_1s_low, f.segments_within_1s_low);
  EXPECT_LT(m.segments_within_1s_high, f.segments_within_1s_high);
  EXPECT_EQ(many.result().segments_within_1s_low, m.segments_within_1s_low) << "seeded";
  perfect.add(predicted(10, {{1, 3}}), truth({{1, 3}}));
  perfect.add(predicted(10, {{2, 6}}), truth({{2, 6}}));
  EXPECT_DOUBLE_EQ(perfect.result().segments_within_1s_low, 1.0);
  EXPECT_DOUBLE_EQ(perfect.result().segments_within_1s_high, 1.0);
  const auto j = to_json(f);
  ASSERT_TRUE(j["segments_within_1s_interval"].is_array());
  EXPECT_DOUBLE_EQ(j["segments_within_1s_interval"][0].get<double>(), f.segments_within_1s_low);
  EXPECT_NE(format_human(f).find("95% interval over songs"), std::string::npos);
  Evaluator one;  // a single sax song cannot be resampled into an interval
  one.add(predicted(10, {{1, 3}}), truth({{1, 3}, {5, 7}}));
  one.add(predicted(10, {}), truth({}));
  const auto human = format_human(one.result());
  EXPECT_NE(human.find("1/2 (50%; one song with sax: no interval)"), std::string::npos) << human;
  EXPECT_TRUE(to_json(one.result())["segments_within_1s_interval"].is_null())
      << "--json says the same as the human output";
  EXPECT_TRUE(to_json(Evaluator().result())["segments_within_1s_interval"].is_null());
}

TEST(Evaluator, JsonHasTheDocumentedKeys) {
  Evaluator evaluator;
  evaluator.add(predicted(10, {{2, 6}}), truth({{2, 6}}));
  const auto j = to_json(evaluator.result());
  for (const char* key : {"frame_f1", "frame_precision", "frame_recall", "clip_accuracy",
                          "clip_balanced_accuracy", "segments_within_1s"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j[key].is_number()) << key;
  }
  EXPECT_DOUBLE_EQ(j["frame_f1"].get<double>(), 1.0);
  EXPECT_NE(format_human(evaluator.result()).find("F1 1.000"), std::string::npos);
}

TEST(Truth, ReadsSongsAndResolvesRelativePaths) {
  testing::TempDir dir;
  std::ofstream(dir / "truth.json") << R"({"songs":[
    {"file":"songs/a.wav","sax":[[1.5,4],[6,9.25]],"duration":12},
    {"file":"/elsewhere/b.flac","sax":[]}]})";
  const auto songs = read_truth_of_files(dir / "truth.json");
  ASSERT_EQ(songs.size(), 2u);
  EXPECT_EQ(songs[0].file, (dir.path() / "songs" / "a.wav").string());
  EXPECT_EQ(songs[0].sax, (std::vector<std::pair<double, double>>{{1.5, 4}, {6, 9.25}}));
  EXPECT_EQ(songs[0].duration, 12);
  EXPECT_EQ(songs[1].file, "/elsewhere/b.flac");
  EXPECT_TRUE(songs[1].sax.empty());

  EXPECT_EQ(find_truth(songs, dir.path() / "songs" / "a.wav"), &songs[0]);
  EXPECT_EQ(find_truth(songs, "/copied/b.flac"), &songs[1]);  // same file name elsewhere
  EXPECT_EQ(find_truth(songs, "c.wav"), nullptr);
}

TEST(Truth, BadFilesAreErrorsNamingThem) {
  testing::TempDir dir;
  std::ofstream(dir / "broken.json") << "{not json";
  std::ofstream(dir / "backwards.json") << R"({"songs":[{"file":"x.wav","sax":[[5,1]]}]})";
  for (const char* name : {"broken.json", "backwards.json", "missing.json"}) {
    try {
      read_truth_of_files(dir / name);
      ADD_FAILURE() << name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sax::detect
