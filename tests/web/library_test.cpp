// /api/library behind the Library page: filters, sort and paging done by the store, strict
// parameter checks, one song with its curve, "label this" queueing the song's uncertain clips
// first, and the scan counts on /api/model. Results are stored directly (no scan needed).
#include <fstream>

#include "scan/scan.h"
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

class LibraryApi : public WebTest {
 protected:
  // A source of `clips` 5 s clips with a scan result: sax where `curve` (one value a second)
  // is high.
  int64_t add_song(const std::string& name, const std::vector<float>& curve, bool sax,
                   double share) {
    const auto clips = add_source(name, static_cast<int>(curve.size() / 5));
    const int64_t id = store_->sample(clips.at(0))->source_id;
    EXPECT_EQ(store_->claim_scan(id, "m1", "stamp", "w", 60).claim, ScanClaim::claimed);
    ScanResult r;
    r.source_id = id;
    r.model = "m1";
    r.status = "done";
    r.sax = sax;
    r.share = share;
    r.probability = sax ? 0.9 : 0.1;
    r.duration = static_cast<double>(curve.size());
    r.segments = sax ? "[[2.0, 4.5, 0.9]]" : "[]";
    std::vector<unsigned char> bytes;
    for (float p : curve) bytes.push_back(static_cast<unsigned char>(p * 255));
    r.curve = base64_encode(bytes);
    r.curve_step = 1;
    store_->put_scan(r, "w");
    return id;
  }

  void start_with_model() {
    const auto folder = home_.models() / "cnn-1";
    std::filesystem::create_directories(folder);
    std::ofstream(folder / "model.json") << R"({"threshold":0.5})";
    std::ofstream(home_.models() / "current") << "cnn-1\n";
    WebOptions options;
    options.scan_model_id = [](const Home&) { return std::string("m1"); };
    start(options);
  }

  nlohmann::json get(const std::string& url) { return json_of(client().Get(url)); }
};

TEST_F(LibraryApi, FiltersSortsAndPagesInTheStore) {
  add_song("alpha", std::vector<float>(10, 0.9f), true, 0.8);
  add_song("beta", std::vector<float>(10, 0.1f), false, 0);
  add_song("gamma <b>bold<b> &amp;", std::vector<float>(10, 0.9f), true, 0.3);
  start_with_model();
  auto all = get("/api/library");
  EXPECT_EQ(all.at("total"), 3);
  ASSERT_EQ(all.at("songs").size(), 3u);
  EXPECT_FALSE(all.at("songs")[0].contains("path"));  // where files live stays private
  auto sax = get("/api/library?verdict=sax&sort=share&order=desc");
  ASSERT_EQ(sax.at("songs").size(), 2u);
  EXPECT_EQ(sax.at("songs")[0].at("name"), "alpha.wav");
  EXPECT_EQ(sax.at("songs")[1].at("name"),
            "gamma <b>bold<b> &amp;.wav");  // JSON, escaped by the page
  EXPECT_EQ(get("/api/library?min_share=0.5").at("total"), 1);
  EXPECT_EQ(get("/api/library?q=GAM").at("total"), 1);
  auto page = get("/api/library?sort=name&offset=1&limit=1");
  EXPECT_EQ(page.at("total"), 3);
  ASSERT_EQ(page.at("songs").size(), 1u);
  EXPECT_EQ(page.at("songs")[0].at("name"), "beta.wav");
}

TEST_F(LibraryApi, RefusesBadParametersNamingThem) {
  start_with_model();
  for (const auto& [query, field] :
       std::vector<std::pair<std::string, std::string>>{{"verdict=maybe", "verdict"},
                                                        {"sort=rowid", "sort"},
                                                        {"order=up", "order"},
                                                        {"limit=0", "limit"},
                                                        {"limit=201", "limit"},
                                                        {"offset=-1", "offset"},
                                                        {"min_share=2", "min_share"},
                                                        {"min_share=nan", "min_share"},
                                                        {"q=%01", "q"}}) {
    auto result = client().Get("/api/library?" + query);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 400) << query;
    EXPECT_NE(json_of(result).at("error").get<std::string>().find(field), std::string::npos)
        << query;
  }
  EXPECT_EQ(client().Get("/api/library/abc")->status, 400);
  EXPECT_EQ(client().Get("/api/library/999")->status, 404);
}

TEST_F(LibraryApi, WithoutATrainedModelTheBuiltInDetectorsScansAreListed) {
  start();
  const auto page = get("/api/library");
  EXPECT_EQ(page.at("available"), true);
  EXPECT_EQ(page.at("model").get<std::string>().rfind("efficientat-mn04_as-", 0), 0u) << page;
  EXPECT_EQ(page.at("total"), 0);
}

TEST_F(LibraryApi, OneSongHasItsCurveAndAudio) {
  const int64_t id = add_song("alpha", {0, 0, 1, 1, 1, 0, 0, 0, 0, 0}, true, 0.3);
  start_with_model();
  auto song = get("/api/library/" + std::to_string(id));
  EXPECT_EQ(song.at("audio"), "/api/sources/" + std::to_string(id) + "/audio");
  ASSERT_EQ(song.at("curve").size(), 10u);
  EXPECT_EQ(song.at("curve")[2], 1.0);
  EXPECT_EQ(song.at("segments")[0][0], 2.0);
}

TEST_F(LibraryApi, LabelThisQueuesTheSongsUncertainClipsFirst) {
  add_song("other", std::vector<float>(20, 0.5f), false, 0);  // as uncertain, not queued
  // Clips 0-4 s sure, 5-9 s uncertain, 10-14 s sure, 15-19 s uncertain.
  std::vector<float> curve(20, 0.0f);
  for (int i = 5; i < 10; ++i) curve[i] = 0.5f;
  for (int i = 15; i < 20; ++i) curve[i] = 0.6f;
  const int64_t id = add_song("queued", curve, false, 0);
  const auto clips = store_->samples_of(id);
  start_with_model();
  auto reply = json_of(
      client().Post("/api/library/" + std::to_string(id) + "/label", "", "application/json"));
  EXPECT_EQ(reply.at("queued"), 3);  // at least three, nearest 0.5 first
  EXPECT_EQ(next_id("ana"), clips[1].id);
  EXPECT_EQ(next_id("ana", "&exclude=" + std::to_string(clips[1].id)), clips[3].id);
}

TEST_F(LibraryApi, ModelPageCountsScannedSongsAndSax) {
  add_song("alpha", std::vector<float>(10, 0.9f), true, 0.8);
  add_song("beta", std::vector<float>(10, 0.1f), false, 0);
  start_with_model();
  auto model = get("/api/model");
  EXPECT_EQ(model.at("scans").at("scanned"), 2);
  EXPECT_EQ(model.at("scans").at("sax"), 1);
}

}  // namespace
}  // namespace sax::web::testing
