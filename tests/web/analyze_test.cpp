// POST /api/analyze (uploads) and the ingested-source endpoints (/api/sources...) with a fake
// scorer that hears "sax" wherever there is a loud tone.
#include <cmath>
#include <fstream>
#include <iterator>

#include "audio/audio.h"
#include "common/hash.h"
#include "infer/detector.h"
#include "web/assets.h"
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

  // An ingested source as ingest records it: the song's absolute path (outside the home) and
  // its content hash. Returns its id.
  int64_t add_ingested(const std::string& file_name, const std::string& title = "") {
    const auto folder = dir_.path() / "library";
    std::filesystem::create_directories(folder);
    const auto file = folder / file_name;
    {
      std::ofstream out(file, std::ios::binary);
      out << song_bytes(std::filesystem::path(file_name).extension().string());
    }
    Source source;
    source.path = file.string();
    source.hash = sha256_file(file);
    source.duration = 12;
    source.title = title;
    const int64_t id = store_->claim_source(source, "web-test").source_id;
    store_->finish_source(id, source.duration);
    return id;
  }

  httplib::Result analyse_source(const std::string& id) {
    return client().Post("/api/sources/" + id + "/analyze", "", "text/plain");
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

TEST_F(AnalyzeTest, WithoutATrainedModelTheBuiltInDetectorAnswers) {
  start();
  auto result = upload("song.wav", song_bytes(".wav"));
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_NE(json_of(result).at("model").get<std::string>().find("zero-shot"), std::string::npos)
      << result->body;
  EXPECT_EQ(files_in_uploads(), 0u);
}

TEST_F(AnalyzeTest, ListsIngestedSourcesFilteredByName) {
  start_with_fake();
  const int64_t blue = add_ingested("Blue Train.wav");
  add_ingested("other.flac", "Giant <Steps>");  // other formats: other content hashes
  add_ingested("third.mp3");
  auto all = json_of(client().Get("/api/sources"));
  EXPECT_EQ(all.at("total"), 3);
  ASSERT_EQ(all.at("sources").size(), 3u);
  const auto& first = all.at("sources")[0];
  EXPECT_EQ(first.at("id"), blue);
  EXPECT_EQ(first.at("name"), "Blue Train.wav");  // the file name only,
  EXPECT_EQ(first.at("folder"), "library");       // not the full path on the server
  EXPECT_EQ(first.at("available"), true);
  EXPECT_EQ(all.dump().find(dir_.path().string()), std::string::npos);

  auto blue_only = json_of(client().Get("/api/sources?q=blue%20TRAIN"));
  EXPECT_EQ(blue_only.at("total"), 1);
  ASSERT_EQ(blue_only.at("sources").size(), 1u);
  EXPECT_EQ(blue_only.at("sources")[0].at("id"), blue);
  // Titles match too, and come back as plain JSON strings (the page inserts them as text).
  auto steps = json_of(client().Get("/api/sources?q=%3Csteps"));
  ASSERT_EQ(steps.at("sources").size(), 1u);
  EXPECT_EQ(steps.at("sources")[0].at("title"), "Giant <Steps>");
  // The limit caps the list, not the count of matches.
  auto limited = json_of(client().Get("/api/sources?limit=2"));
  EXPECT_EQ(limited.at("total"), 3);
  EXPECT_EQ(limited.at("sources").size(), 2u);
  EXPECT_EQ(json_of(client().Get("/api/sources?q=nothing")).at("total"), 0);
}

TEST_F(AnalyzeTest, SourceListingRefusesBadParameters) {
  start_with_fake();
  const std::vector<std::string> queries = {
      "limit=0", "limit=-3", "limit=x", "limit=100000", "q=" + std::string(300, 'a'),
      "q=%01",   "q=%FF"};
  for (const auto& query : queries)
    EXPECT_EQ(client().Get("/api/sources?" + query)->status, 400) << query;
}

TEST_F(AnalyzeTest, AnalysesAnIngestedSourceByIdAndPlaysItBack) {
  start_with_fake();
  add_ingested("first.wav");
  const int64_t id = add_ingested("my song.mp3");
  auto result = analyse_source(std::to_string(id));
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const auto json = json_of(result);
  EXPECT_EQ(json.at("file"), "my song.mp3");
  EXPECT_EQ(json.at("source_id"), id);
  EXPECT_EQ(json.at("sax"), true);
  ASSERT_EQ(json.at("segments").size(), 1u) << json.at("segments").dump();
  EXPECT_NEAR(json.at("segments")[0].at("start").get<double>(), 4.0, 1.0);
  EXPECT_NEAR(json.at("segments")[0].at("end").get<double>(), 9.0, 1.0);
  EXPECT_NE(json.at("plot").get<std::string>().find("<svg"), std::string::npos);

  // Playback: exactly the source's bytes, and a slice for a range request (seeking).
  const std::string url = json.at("audio");
  EXPECT_EQ(url, "/api/sources/" + std::to_string(id) + "/audio");
  std::ifstream in(dir_.path() / "library" / "my song.mp3", std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  auto audio = client().Get(url);
  ASSERT_TRUE(audio);
  ASSERT_EQ(audio->status, 200);
  EXPECT_EQ(audio->get_header_value("Content-Type"), "audio/mpeg");
  EXPECT_EQ(audio->body, bytes);
  auto slice = client().Get(url, {{"Range", "bytes=100-199"}});
  ASSERT_TRUE(slice);
  EXPECT_EQ(slice->status, 206);
  EXPECT_EQ(slice->body, bytes.substr(100, 100));
}

TEST(ContentType, FollowsTheExtensionInAnyCase) {
  // Ingested files keep their own names: "SONG.MP3" must still play as audio/mpeg.
  EXPECT_EQ(content_type_for("SONG.MP3"), "audio/mpeg");
  EXPECT_EQ(content_type_for("a.Flac"), "audio/flac");
  EXPECT_EQ(content_type_for("b.aiff"), "audio/aiff");
  EXPECT_EQ(content_type_for("c.exe"), "application/octet-stream");
}

TEST_F(AnalyzeTest, RefusesBadAndUnknownSourceIds) {
  start_with_fake();
  add_ingested("song.wav");
  for (const std::string bad : {"abc", "0", "-1", "1.5", "99999999999999999999", "%2E%2E"}) {
    EXPECT_EQ(analyse_source(bad)->status, 400) << bad;
    EXPECT_EQ(client().Get("/api/sources/" + bad + "/audio")->status, 400) << bad;
  }
  EXPECT_EQ(analyse_source("999")->status, 404);
  EXPECT_EQ(client().Get("/api/sources/999/audio")->status, 404);
}

TEST_F(AnalyzeTest, SaysClearlyWhenTheOriginalFileIsGone) {
  start_with_fake();
  const int64_t id = add_ingested("moved away.wav");
  std::filesystem::remove(dir_.path() / "library" / "moved away.wav");
  auto result = analyse_source(std::to_string(id));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 410);
  const std::string message = json_of(result).at("error");
  EXPECT_NE(message.find("moved away.wav"), std::string::npos) << message;
  EXPECT_NE(message.find("no longer there"), std::string::npos) << message;
  EXPECT_EQ(message.find(dir_.path().string()), std::string::npos) << message;
  EXPECT_EQ(client().Get("/api/sources/" + std::to_string(id) + "/audio")->status, 410);
  EXPECT_EQ(json_of(client().Get("/api/sources")).at("sources")[0].at("available"), false);
}

TEST_F(AnalyzeTest, ServesOnlyTheContentThatWasIngested) {
  start_with_fake();
  const int64_t id = add_ingested("song.wav");
  const auto file = dir_.path() / "library" / "song.wav";
  ASSERT_EQ(client().Get("/api/sources/" + std::to_string(id) + "/audio")->status, 200);
  // The path now leads to another file: neither analysed nor served.
  std::filesystem::remove(file);
  std::ofstream(dir_.path() / "secret.wav") << "not the ingested song";
  std::filesystem::create_symlink(dir_.path() / "secret.wav", file);
  EXPECT_EQ(analyse_source(std::to_string(id))->status, 409);
  auto audio = client().Get("/api/sources/" + std::to_string(id) + "/audio");
  ASSERT_TRUE(audio);
  EXPECT_EQ(audio->status, 409);
  EXPECT_EQ(audio->body.find("not the ingested song"), std::string::npos);
}

TEST_F(AnalyzeTest, RefusesSourcesThatAreNotAudioOrEscapeTheHome) {
  start_with_fake();
  for (const std::string path : {"/etc/passwd", "../outside.wav"}) {
    Source source;
    source.path = path;
    source.hash = sha256_bytes(path.data(), path.size());
    const int64_t id = store_->claim_source(source, "web-test").source_id;
    EXPECT_EQ(analyse_source(std::to_string(id))->status, 403) << path;
    EXPECT_EQ(client().Get("/api/sources/" + std::to_string(id) + "/audio")->status, 403) << path;
  }
}

}  // namespace
}  // namespace sax::web::testing
