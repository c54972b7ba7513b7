// Fine-tuning a pretrained backbone (YAMNet from ../shared) end to end through the CLI: frozen
// layers stay exactly as imported while the others train, the result predicts and assesses,
// and a missing backbone is a clear error.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "infer/detector.h"
#include "model/yamnet.h"
#include "support/testing.h"
#include "transfer/yamnet_files.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::run_saxdetect;

// A small labelled library (synth songs with exact truth), ingested, with YAMNet imported;
// built once and shared by the tests (each trains its own model name).
class BackboneTraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(testing::yamnet_tflite())) return;
    dir_ = new testing::TempDir;
    const auto library = (*dir_ / "library").string();
    std::string out;
    ready_ = sd("synth --out " + library +
                    " --songs 12 --seconds 15 --seed 5 --soundfont "
                    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
                &out) == 0 &&
             sd("ingest " + library, &out) == 0 &&
             sd("labels import --from-truth " + library + "/truth.json", &out) == 0 &&
             sd("backbone import " + testing::yamnet_tflite().string(), &out) == 0;
    if (!ready_) setup_output_ = out;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    SKIP_WITHOUT_YAMNET();
    ASSERT_TRUE(ready_) << setup_output_;
  }

  static int sd(const std::string& args, std::string* out = nullptr) {
    return run_saxdetect("--home " + (*dir_ / "home").string() + " --quiet " + args, out);
  }

  // A short, small run: 2 s windows (3 YAMNet patches), 2 epochs.
  static std::string config(int freeze) {
    const auto path = (*dir_ / ("config-" + std::to_string(freeze) + ".json")).string();
    std::ofstream(path) << nlohmann::json{{"features", {{"seconds", 2.0}}},
                                          {"net", {{"hidden", 16}}},
                                          {"backbone", {{"freeze", freeze}}},
                                          {"epochs", 2},
                                          {"batch_size", 8},
                                          {"lr", 1e-2},
                                          {"threads", 2}};
    return path;
  }

  static fs::path models() { return *dir_ / "home" / "models"; }

  // Sliding windows whose starts fall on YAMNet's patch grid (every 0.96 s) must score as the
  // same windows scored one by one: the shared patch embeddings change nothing but the cost.
  static void expect_sliding_matches_windows(Scorer& scorer) {
    const auto audio = decode_mono(*dir_ / "library" / "song-000.flac", scorer.sample_rate());
    const size_t hop = 15360, window = scorer.window_samples();
    const auto sliding = scorer.score_sliding(audio.data(), audio.size(), hop);
    std::vector<std::vector<float>> windows;
    for (size_t start = 0; start + window <= audio.size(); start += hop)
      windows.emplace_back(audio.begin() + start, audio.begin() + start + window);
    const auto one_by_one = scorer.score_windows(windows);
    ASSERT_EQ(sliding.size(), one_by_one.size());
    ASSERT_GE(sliding.size(), 5u);
    for (size_t i = 0; i < sliding.size(); ++i)
      EXPECT_NEAR(sliding[i], one_by_one[i], 1e-4) << "window " << i;
  }

  static inline testing::TempDir* dir_ = nullptr;
  static inline bool ready_ = false;
  static inline std::string setup_output_;
};

TEST_F(BackboneTraining, FrozenLayersStayAsImportedWhileTheOthersTrain) {
  std::string out;
  ASSERT_EQ(sd("train --backbone yamnet --config " + config(12) + " --out tuned", &out), 0) << out;
  const auto imported = models() / "yamnet.pt", tuned = models() / "tuned" / "model.safetensors";
  for (int layer = 1; layer <= 12; ++layer)
    EXPECT_EQ(yamnet_layer_weights(imported, layer), yamnet_layer_weights(tuned, layer))
        << "frozen layer " << layer << " changed";
  for (int layer = 13; layer <= 14; ++layer)
    EXPECT_NE(yamnet_layer_weights(imported, layer), yamnet_layer_weights(tuned, layer))
        << "layer " << layer << " did not train";
  std::ifstream description(models() / "tuned" / "model.json");
  EXPECT_EQ(nlohmann::json::parse(description).at("kind"), "backbone");
}

TEST_F(BackboneTraining, HeadOnlyModelPredictsAndAssesses) {
  std::string out;
  ASSERT_EQ(sd("train --backbone yamnet --config " + config(14) + " --out head", &out), 0) << out;
  // The whole backbone was frozen: every layer is as imported.
  for (int layer = 1; layer <= 14; ++layer)
    EXPECT_EQ(yamnet_layer_weights(models() / "yamnet.pt", layer),
              yamnet_layer_weights(models() / "head" / "model.safetensors", layer));
  const auto song = (*dir_ / "library").string();
  ASSERT_EQ(sd("predict --json " + song, &out), 0) << out;
  const auto files = nlohmann::json::parse(out.substr(out.find('[')));
  ASSERT_FALSE(files.empty());
  EXPECT_FALSE(files[0].at("windows").empty()) << out;
  expect_sliding_matches_windows(*load_detector(models() / "head"));
  ASSERT_EQ(sd("assess --json", &out), 0) << out;
  const auto assessed = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_GE(assessed.at("samples").get<int>(), 20);
  EXPECT_GE(assessed.at("metrics").at("roc_auc").get<double>(), 0.0);
}

TEST_F(BackboneTraining, ZeroShotSlidingMatchesWindowsScoredOneByOne) {
  expect_sliding_matches_windows(*load_yamnet_scorer(models() / "yamnet.pt"));
}

TEST_F(BackboneTraining, MissingBackboneFileIsAClearError) {
  std::string out;
  EXPECT_NE(sd("train --backbone " + (*dir_ / "nowhere.pt").string(), &out), 0);
  EXPECT_NE(out.find("nowhere.pt"), std::string::npos) << out;
  EXPECT_NE(out.find("backbone import"), std::string::npos) << out;
}

}  // namespace
}  // namespace sax
