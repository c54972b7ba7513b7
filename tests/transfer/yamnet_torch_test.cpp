// The LibTorch YAMNet against the reference interpreter running the TFLite graph, its framing
// of long input, its model file, and the zero-shot scorer.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "common/error.h"
#include "model/yamnet.h"
#include "reference_audio.h"
#include "support/testing.h"
#include "transfer/interpreter.h"
#include "transfer/yamnet_import.h"
#include "yamnet_files.h"

namespace sax {
namespace {

using sax::testing::TempDir;

float max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

std::vector<float> flatten(const std::vector<std::vector<float>>& rows) {
  std::vector<float> out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

class ImportedYamnet : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(sax::testing::yamnet_tflite())) return;
    dir_ = new TempDir;
    import_yamnet(sax::testing::yamnet_tflite(), file());
    tflite_ = new tflite::Model(tflite::read_model(sax::testing::yamnet_tflite()));
  }
  static void TearDownTestSuite() {
    delete tflite_;
    delete dir_;
    tflite_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override { SKIP_WITHOUT_YAMNET(); }
  static std::filesystem::path file() { return *dir_ / "yamnet.pt"; }

  static TempDir* dir_;
  static tflite::Model* tflite_;
};
TempDir* ImportedYamnet::dir_ = nullptr;
tflite::Model* ImportedYamnet::tflite_ = nullptr;

// The check that the port is right: the same 0.975 s of audio through the TFLite graph (op by
// op, reference interpreter) and through the LibTorch network, for several inputs.
TEST_F(ImportedYamnet, MatchesTheReferenceInterpreter) {
  YamnetModel yamnet(file());
  const tflite::Interpreter reference(*tflite_);
  std::vector<float> silence(kYamnetPatchSamples, 0.0f);
  for (const auto& audio : {sax::testing::chord(kYamnetPatchSamples, 1),
                            sax::testing::chord(kYamnetPatchSamples, 5), silence}) {
    const auto values = reference.run({{{1, 15600}, audio}});
    const auto scores = yamnet.class_scores(audio);
    ASSERT_EQ(scores.size(), 1u);  // 96 frames: one patch
    EXPECT_LT(max_difference(scores[0], values[tflite_->outputs[0]].values), 1e-4);
    EXPECT_LT(max_difference(flatten(yamnet.log_mel(audio)), values[tflite_->outputs[1]].values),
              1e-3);
  }
}

// Longer audio is cut into 0.96 s patches every 0.48 s, each scored as if on its own.
TEST_F(ImportedYamnet, LongAudioIsScoredPatchByPatch) {
  YamnetModel yamnet(file());
  const auto audio = sax::testing::chord(2 * kYamnetSampleRate, 3);
  const auto patches = yamnet.class_scores(audio);
  ASSERT_EQ(patches.size(), 3u);  // 198 frames -> patches at frames 0, 48, 96
  const size_t start = 2 * 48 * 160;
  const std::vector<float> third(audio.begin() + start,
                                 audio.begin() + start + kYamnetPatchSamples);
  EXPECT_LT(max_difference(patches[2], yamnet.class_scores(third)[0]), 1e-4);
  EXPECT_EQ(yamnet.embeddings(audio).at(0).size(), static_cast<size_t>(kYamnetEmbedding));
}

TEST_F(ImportedYamnet, ZeroShotScorerPoolsTheSaxophoneClass) {
  auto scorer = load_yamnet_scorer(file());
  EXPECT_EQ(scorer->sample_rate(), kYamnetSampleRate);
  EXPECT_EQ(scorer->window_samples(), 5u * kYamnetSampleRate);
  EXPECT_DOUBLE_EQ(scorer->threshold(), 0.5);
  const auto audio = sax::testing::chord(7 * kYamnetSampleRate, 2);
  // Windows every 1.92 s: on the 0.48 s patch grid, where a window's patches are its own.
  const size_t hop = 4 * 48 * 160;
  const auto sliding = scorer->score_sliding(audio.data(), audio.size(), hop);
  ASSERT_EQ(sliding.size(), 2u);  // windows at 0 s and 1.92 s
  const std::vector<float> second(audio.begin() + hop,
                                  audio.begin() + hop + scorer->window_samples());
  EXPECT_NEAR(scorer->score_windows({second})[0], sliding[1], 1e-5);  // batching differs

  // The pooled score is the loudest patch's saxophone score.
  YamnetModel yamnet(file());
  float best = 0;
  for (const auto& patch : yamnet.class_scores(second))
    best = std::max(best, patch[kYamnetSaxophone]);
  EXPECT_NEAR(sliding[1], best, 1e-5);
}

TEST_F(ImportedYamnet, ThresholdIsStoredInTheModelFile) {
  std::filesystem::copy_file(file(), *dir_ / "calibrated.pt");
  set_yamnet_threshold(*dir_ / "calibrated.pt", 0.125);
  EXPECT_DOUBLE_EQ(load_yamnet_scorer(*dir_ / "calibrated.pt")->threshold(), 0.125);
}

TEST(YamnetModelFile, MissingFileSaysHowToCreateIt) {
  TempDir dir;
  try {
    YamnetModel yamnet(dir / "yamnet.pt");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("saxdetect backbone import"), std::string::npos);
  }
}

TEST(YamnetModelFile, CorruptFileIsNamed) {
  TempDir dir;
  std::ofstream(dir / "broken.pt") << "not a torch archive";
  try {
    load_yamnet_scorer(dir / "broken.pt");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.pt"), std::string::npos);
  }
}

TEST(YamnetImport, RefusesAGraphThatIsNotYamnet) {
  tflite::Model empty;
  empty.buffers.emplace_back();
  EXPECT_THROW(extract_yamnet(empty, "other.tflite"), Error);
}

TEST(YamnetImport, CliReportsACorruptFileByName) {
  SKIP_WITHOUT_YAMNET();
  TempDir dir;
  std::ofstream(dir / "yamnet.tflite") << "TFL3 but not really a model";
  std::string out;
  const int status = sax::testing::run_saxdetect(
      "backbone import " + (dir / "yamnet.tflite").string() + " --out " + (dir / "y.pt").string(),
      &out);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("yamnet.tflite"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "y.pt"));
}

}  // namespace
}  // namespace sax
