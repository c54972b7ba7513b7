// `saxdetect predict` and `saxdetect evaluate` end to end, with a tiny model trained for one
// epoch on random spectrograms (its answers mean nothing; the output's shape does).
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "model/train.h"
#include "support/testing.h"

namespace sax::testing {
namespace {

namespace fs = std::filesystem;

void train_tiny_model(const fs::path& dir) {
  TrainConfig config;
  config.epochs = 1;
  config.batch_size = 4;
  config.threads = 1;
  config.augment.enabled = false;
  ArrayDataset data;
  std::mt19937 random(3);
  std::normal_distribution<float> noise;
  for (int i = 0; i < 8; ++i) {
    Spectrogram s;
    s.rows = config.features.n_mels;
    s.cols = config.features.frames;
    for (int v = 0; v < s.rows * s.cols; ++v) s.values.push_back(noise(random));
    data.inputs.push_back(std::move(s));
    data.labels.push_back(i % 2);
    data.groups.push_back(i);
  }
  TrainOptions options;
  options.quiet = true;
  train_arrays(data, Split{{0, 1, 2, 3}, {4, 5}, {6, 7}}, config, dir, options);
}

// Runs saxdetect with stdout only (errors and progress on stderr are dropped).
int run_stdout(const std::string& args, std::string* out) {
  return run_shell("(" + std::string(SAXDETECT_BIN) + " " + args + " 2>/dev/null)", out);
}

class PredictCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    train_tiny_model(*dir_ / "model");
    fs::create_directories(*dir_ / "music" / "sub");
    write_audio(*dir_ / "music" / "song.wav", tone(8, 22050, 1, 440), 22050);
    std::ofstream(*dir_ / "music" / "sub" / "broken.mp3") << "not audio at all";
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string model() { return (*dir_ / "model").string(); }
  static std::string music() { return (*dir_ / "music").string(); }
  static TempDir* dir_;
};
TempDir* PredictCli::dir_ = nullptr;

TEST_F(PredictCli, JsonListsEveryFileAndTheFailedOneWithItsError) {
  std::string out;
  // One file analysed, one failed: partly done.
  EXPECT_EQ(run_stdout("predict --quiet --model " + model() + " --json " + music(), &out), 2);
  const auto j = nlohmann::json::parse(out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  const auto& song = j[0];
  for (const char* key :
       {"file", "duration", "sax", "probability", "sax_share", "segments", "windows"})
    EXPECT_TRUE(song.contains(key)) << key;
  EXPECT_NEAR(song["duration"].get<double>(), 8.0, 0.05);
  EXPECT_EQ(song["windows"].size(), 4u);  // 5 s windows every 1 s in 8 s
  EXPECT_EQ(j[1].size(), 2u);
  EXPECT_NE(j[1]["file"].get<std::string>().find("broken.mp3"), std::string::npos);
  EXPECT_NE(j[1]["error"].get<std::string>().find("broken.mp3"), std::string::npos);
}

TEST_F(PredictCli, CsvHasAHeaderAFileRowAndWindowRows) {
  std::string out;
  const std::string song = music() + "/song.wav";
  EXPECT_EQ(run_stdout("predict --model " + model() + " --csv --hop 0.5 " + song, &out), 0);
  std::istringstream lines(out);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  ASSERT_GE(rows.size(), 8u);
  EXPECT_EQ(rows[0], "file,kind,start,end,probability,sax");
  EXPECT_EQ(rows[1].rfind(song + ",file,0.000,8.000,", 0), 0u) << rows[1];
  EXPECT_EQ(
      std::count_if(rows.begin(), rows.end(),
                    [](const std::string& r) { return r.find(",window,") != std::string::npos; }),
      7);  // 5 s windows every 0.5 s in 8 s
}

TEST_F(PredictCli, HumanOutputHasTheTimelineAndThePlotIsWritten) {
  std::string out;
  const std::string plot = (*dir_ / "plot.svg").string();
  EXPECT_EQ(
      run_stdout("predict --model " + model() + " --plot " + plot + " " + music() + "/song.wav",
                 &out),
      0);
  EXPECT_NE(out.find("song.wav  0:08"), std::string::npos) << out;
  EXPECT_NE(out.find("  |"), std::string::npos) << out;
  std::ifstream svg(plot);
  std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<polyline class=\"probability\""), std::string::npos);
}

TEST_F(PredictCli, WithoutAModelTheBuiltInDetectorAnswersZeroShot) {
  TempDir empty_home;
  std::string out;
  EXPECT_EQ(run_stdout(
                "--home " + empty_home.path().string() + " predict --json " + music() + "/song.wav",
                &out),
            0);
  const auto results = nlohmann::json::parse(out);
  ASSERT_EQ(results.size(), 1u) << out;
  EXPECT_NE(results[0].at("model").get<std::string>().find("zero-shot"), std::string::npos) << out;
}

TEST_F(PredictCli, HelpDocumentsTheSmoothing) {
  std::string out;
  EXPECT_EQ(run_saxdetect("predict --help", &out), 0);
  for (const char* text :
       {"--median", "--enter", "--exit", "--min-segment", "--merge-gap", "hysteresis"})
    EXPECT_NE(out.find(text), std::string::npos) << text;
}

TEST_F(PredictCli, EvaluateJsonHasTheFigures) {
  std::ofstream(*dir_ / "music" / "truth.json")
      << R"({"songs":[{"file":"song.wav","sax":[[2,6]]}]})";
  std::string out;
  EXPECT_EQ(run_stdout("evaluate --quiet --model " + model() + " --json --truth " + music() +
                           "/truth.json",
                       &out),
            0);
  const auto j = nlohmann::json::parse(out);
  for (const char* key : {"frame_f1", "frame_precision", "frame_recall", "clip_accuracy",
                          "clip_balanced_accuracy", "segments_within_1s"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GE(j[key].get<double>(), 0.0);
    EXPECT_LE(j[key].get<double>(), 1.0);
  }
  EXPECT_EQ(j["files"], 1);
  EXPECT_EQ(j["truth_segments"], 1);
}

TEST_F(PredictCli, EvaluateGroupsTheTruthByTruthGapWhateverTheSmoothing) {
  // Two phrases half a second apart: one passage by default (gap under 1 s), two with
  // --truth-gap 0, and still one when only detection's --merge-gap changes.
  const auto truth = *dir_ / "two-phrases.json";
  std::ofstream(truth) << R"({"songs":[{"file":")" << music()
                       << R"(/song.wav","sax":[[1,3],[3.5,6]]}]})";
  auto passages = [&](const std::string& options) {
    std::string out;
    EXPECT_EQ(run_stdout("evaluate --quiet --json --model " + model() + " --truth " +
                             truth.string() + " " + options,
                         &out),
              0);
    const auto j = nlohmann::json::parse(out);
    return std::make_pair(j["truth_segments"].get<int>(), j["truth_gap"].get<double>());
  };
  EXPECT_EQ(passages(""), std::make_pair(1, 1.0));
  EXPECT_EQ(passages("--truth-gap 0"), std::make_pair(2, 0.0));
  EXPECT_EQ(passages("--merge-gap 0.2"), std::make_pair(1, 1.0));
  std::string out;
  EXPECT_NE(run_saxdetect("evaluate --truth " + truth.string() + " --truth-gap -1", &out), 0);
}

}  // namespace
}  // namespace sax::testing
