// POST /api/analyze with a fake scorer that hears "sax" wherever there is a loud tone.
#include <cmath>
#include <fstream>
#include <iterator>

#include "audio/audio.h"
#include "model/detector.h"
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

constexpr int kRate = 8000;

class LoudnessScorer : public Scorer {
 public:
  std::string name() const override { return "loudness"; }
  int sample_rate() const override { return kRate; }
  size_t window_samples() const override { return kRate; }
  double threshold() const override { return 0.5; }
  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop) override {
    std::vector<float> out;
    for (size_t start = 0; start + kRate <= count; start += hop)
      out.push_back(rms(audio + start, kRate) > 0.1 ? 0.95f : 0.05f);
    return out;
  }
  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    std::vector<float> out;
    for (const auto& w : windows) out.push_back(rms(w.data(), w.size()) > 0.1 ? 0.95f : 0.05f);
    return out;
  }
};

class AnalyzeTest : public WebTest {
 protected:
  void start_with_fake(size_t upload_limit = 1u << 20) {
    WebOptions options;
    options.upload_limit = upload_limit;
    options.open_scorer = [](const Home&) { return std::make_unique<LoudnessScorer>(); };
    start(options);
  }

  // 12 s: silence, a tone from 4 s to 9 s, silence.
  std::string song_bytes(const std::string& extension) {
    std::vector<float> audio(12 * kRate, 0.0f);
    const auto tone = sax::testing::tone(5.0, kRate, 1, 440.0);
    std::copy(tone.begin(), tone.end(), audio.begin() + 4 * kRate);
    const auto file = dir_.path() / ("song" + extension);
    write_audio(file, audio, kRate);
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  httplib::Result upload(const std::string& name, const std::string& bytes) {
    httplib::MultipartFormDataItems items = {{"file", bytes, name, "application/octet-stream"}};
    return client().Post("/api/analyze", items);
  }

  size_t files_in_uploads() {
    size_t count = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(home_.uploads()))
      ++count;
    return count;
  }
};

TEST_F(AnalyzeTest, FindsTheSegmentAndRemovesTheUpload) {
  start_with_fake();
  auto result = upload("my song.mp3", song_bytes(".mp3"));
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const auto json = json_of(result);
  EXPECT_EQ(json.at("file"), "my song.mp3");  // the user's name, not the temporary file
  EXPECT_EQ(json.at("sax"), true);
  ASSERT_EQ(json.at("segments").size(), 1u) << json.at("segments").dump();
  EXPECT_NEAR(json.at("segments")[0].at("start").get<double>(), 4.0, 1.0);
  EXPECT_NEAR(json.at("segments")[0].at("end").get<double>(), 9.0, 1.0);
  EXPECT_NE(json.at("plot").get<std::string>().find("<svg"), std::string::npos);
  EXPECT_EQ(files_in_uploads(), 0u);
}

TEST_F(AnalyzeTest, RefusesWhatIsNotAudio) {
  start_with_fake();
  EXPECT_EQ(upload("notes.txt", "hello")->status, 415);
  EXPECT_EQ(upload("fake.mp3", std::string(5000, 'x'))->status, 415);
  EXPECT_EQ(client().Post("/api/analyze", "{}", "application/json")->status, 400);
  EXPECT_EQ(files_in_uploads(), 0u);
}

TEST_F(AnalyzeTest, RefusesFilesOverTheLimit) {
  start_with_fake(/*upload_limit=*/50000);
  auto result = upload("big.wav", song_bytes(".wav"));  // 192 kB
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 413);
  EXPECT_EQ(files_in_uploads(), 0u);
  EXPECT_EQ(status().at("votes"), 0);  // and the server still answers
}

TEST_F(AnalyzeTest, WithoutAModelSaysHowToTrainOne) {
  start();
  auto result = upload("song.wav", song_bytes(".wav"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 409);
  EXPECT_NE(json_of(result).at("error").get<std::string>().find("saxdetect train"),
            std::string::npos);
}

}  // namespace
}  // namespace sax::web::testing
