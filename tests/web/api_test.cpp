// The labelling API over real HTTP on loopback: next-sample rules, votes, undo, progress.
#include <cstdlib>
#include <fstream>
#include <set>

#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

std::string encoded(const std::string& text) { return httplib::detail::encode_query_param(text); }

TEST_F(WebTest, NextGivesUrlsThatServeTheClipAndItsSpectrogram) {
  const auto ids = add_source("song", 1);
  start();
  auto next = client().Get("/api/next?annotator=ana");
  ASSERT_TRUE(next);
  ASSERT_EQ(next->status, 200);
  const auto body = json_of(next);
  EXPECT_EQ(body.at("id").get<int64_t>(), ids[0]);
  EXPECT_EQ(body.at("audio"), "/media/samples/song/clip0.mp3");

  auto audio = client().Get(body.at("audio").get<std::string>());
  ASSERT_TRUE(audio);
  EXPECT_EQ(audio->status, 200);
  EXPECT_EQ(audio->get_header_value("Content-Type"), "audio/mpeg");
  EXPECT_EQ(audio->body.size(), std::filesystem::file_size(home_.root / "samples/song/clip0.mp3"));

  auto png = client().Get(body.at("spectrogram").get<std::string>());
  ASSERT_TRUE(png);
  ASSERT_EQ(png->status, 200) << png->body;
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(png->body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // Cached: the picture is now a file under cache/spectrograms and served the same again.
  size_t cached = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(home_.cache() / "spectrograms"))
    cached += entry.is_regular_file() && entry.path().extension() == ".png";
  EXPECT_EQ(cached, 1u);
  EXPECT_EQ(client().Get(body.at("spectrogram").get<std::string>())->body, png->body);
}

TEST_F(WebTest, SpectrogramOfUnknownSampleIs404) {
  add_source("song", 1);
  start();
  EXPECT_EQ(client().Get("/spectrograms/999.png")->status, 404);
}

TEST_F(WebTest, AnnotatorNeverGetsAClipTheyVotedOnAndFinishesWith204) {
  const auto ids = add_source("song", 3);
  start();
  std::set<int64_t> seen;
  for (int i = 0; i < 3; ++i) {
    const int64_t id = next_id("ana");
    ASSERT_NE(id, 0);
    EXPECT_TRUE(seen.insert(id).second) << "offered twice: " << id;
    EXPECT_EQ(post_vote(id, "ana", "sax"), 201);
  }
  auto finished = client().Get("/api/next?annotator=ana");
  EXPECT_EQ(finished->status, 204);
  EXPECT_TRUE(finished->body.empty());
  EXPECT_EQ(seen, std::set<int64_t>(ids.begin(), ids.end()));
}

TEST_F(WebTest, SamplesWithEnoughVotesAreNotOfferedToOthers) {
  add_source("song", 2);
  WebOptions options;
  options.votes = 2;
  start(options);
  for (const std::string annotator : {"ana", "bob"})
    while (const int64_t id = next_id(annotator)) ASSERT_EQ(post_vote(id, annotator, "sax"), 201);
  EXPECT_EQ(status().at("votes"), 4);
  EXPECT_EQ(next_id("cy"), 0);  // every clip has its 2 votes
}

TEST_F(WebTest, WithOneVoteWantedALabelledClipGoesToNobodyElse) {
  const auto ids = add_source("song", 2);
  start();
  ASSERT_EQ(post_vote(ids[0], "ana", "not_sax"), 201);
  EXPECT_EQ(next_id("bob"), ids[1]);
}

TEST_F(WebTest, SilentClipsAreSkipped) {
  add_source("quiet", 2, /*silent=*/true);
  const auto loud = add_source("loud", 1);
  start();
  EXPECT_EQ(next_id("ana"), loud[0]);
  ASSERT_EQ(post_vote(loud[0], "ana", "sax"), 201);
  EXPECT_EQ(next_id("ana"), 0);
}

TEST_F(WebTest, ClipsAreSpreadAcrossSongs) {
  const auto first = add_source("first", 3);
  add_source("second", 3);
  start();
  const std::set<int64_t> of_first(first.begin(), first.end());
  // The song with fewer votes so far always comes next: neither song runs ahead by two.
  int from_first = 0, from_second = 0;
  while (const int64_t id = next_id("ana")) {
    (of_first.count(id) ? from_first : from_second)++;
    EXPECT_LE(std::abs(from_first - from_second), 1) << "clip " << id;
    ASSERT_EQ(post_vote(id, "ana", "unsure"), 201);
  }
  EXPECT_EQ(from_first, 3);
  EXPECT_EQ(from_second, 3);
}

TEST_F(WebTest, PrefetchSkipsTheClipOnScreen) {
  add_source("song", 2);
  start();
  const int64_t on_screen = next_id("ana");
  const int64_t prefetched = next_id("ana", "&exclude=" + std::to_string(on_screen));
  EXPECT_NE(prefetched, 0);
  EXPECT_NE(prefetched, on_screen);
  EXPECT_EQ(client().Get("/api/next?annotator=ana&exclude=abc")->status, 400);
}

TEST_F(WebTest, SecondVoteOnAClipReplacesTheFirst) {
  const auto ids = add_source("song", 1);
  start();
  auto first = client_as("ana").Post(
      "/api/labels",
      R"({"sample_id":)" + std::to_string(ids[0]) + R"(,"annotator":"ana","label":"sax"})",
      "application/json");
  ASSERT_EQ(first->status, 201);
  EXPECT_EQ(json_of(first).at("replaced"), false);
  auto second = client_as("ana").Post(
      "/api/labels",
      R"({"sample_id":)" + std::to_string(ids[0]) + R"(,"annotator":"ana","label":"not_sax"})",
      "application/json");
  ASSERT_EQ(second->status, 201);
  EXPECT_EQ(json_of(second).at("replaced"), true);
  const auto report = status();
  EXPECT_EQ(report.at("votes"), 1);
  EXPECT_EQ(report.at("labels").at("not_sax"), 1);
  EXPECT_EQ(report.at("labels").at("sax"), 0);
}

TEST_F(WebTest, UndoRemovesTheLastVoteAndReturnsTheClip) {
  const auto ids = add_source("song", 2);
  start();
  ASSERT_EQ(post_vote(ids[0], "ana", "sax"), 201);
  ASSERT_EQ(post_vote(ids[1], "ana", "not_sax"), 201);
  auto undone = client_as("ana").Delete("/api/labels/last");
  ASSERT_EQ(undone->status, 200) << undone->body;
  const auto body = json_of(undone);
  EXPECT_EQ(body.at("sample_id"), ids[1]);
  EXPECT_EQ(body.at("label"), "not_sax");
  EXPECT_EQ(body.at("sample").at("id"), ids[1]);
  EXPECT_EQ(status().at("votes"), 1);
  EXPECT_EQ(next_id("ana"), ids[1]);  // the undone clip is offered again
  ASSERT_EQ(client_as("ana").Delete("/api/labels/last")->status, 200);
  auto nothing = client_as("ana").Delete("/api/labels/last");
  EXPECT_EQ(nothing->status, 404);
  EXPECT_TRUE(json_of(nothing).contains("error"));
}

TEST_F(WebTest, ProgressCountsTodaysVotesOfThisAnnotator) {
  const auto ids = add_source("song", 3);
  start();
  ASSERT_EQ(post_vote(ids[0], "ana", "sax"), 201);
  ASSERT_EQ(post_vote(ids[1], "ana", "sax"), 201);
  ASSERT_EQ(post_vote(ids[2], "bob", "sax"), 201);
  const auto progress = json_of(client().Get("/api/progress?annotator=ana"));
  EXPECT_EQ(progress.at("today"), 2);
  EXPECT_EQ(progress.at("votes"), 2);
  EXPECT_EQ(progress.at("labeled"), 3);
  EXPECT_EQ(progress.at("samples"), 3);
  EXPECT_EQ(progress.at("model"), "");
}

TEST_F(WebTest, StatusReportsVotesPerAnnotatorAndDay) {
  const auto ids = add_source("song", 2);
  start();
  ASSERT_EQ(post_vote(ids[0], "ana", "sax"), 201);
  ASSERT_EQ(post_vote(ids[0], "bob", "sax"), 201);
  ASSERT_EQ(post_vote(ids[1], "bob", "not_sax"), 201);
  const auto report = status();
  EXPECT_EQ(report.at("backend"), "sqlite");
  EXPECT_EQ(report.at("samples"), 2);
  EXPECT_EQ(report.at("votes"), 3);
  ASSERT_EQ(report.at("annotators").size(), 2u);
  int64_t per_day = 0;
  for (const auto& [day, votes] : report.at("votes_by_day").items())
    per_day += votes.get<int64_t>();
  EXPECT_EQ(per_day, 3);
  for (const auto& annotator : report.at("annotators"))
    EXPECT_EQ(annotator.at("votes"), annotator.at("name") == "ana" ? 1 : 2);
}

TEST_F(WebTest, ActiveLearningOrderIsNamedWhenAModelExists) {
  add_source("song", 1);
  std::filesystem::create_directories(home_.models() / "m1");
  std::ofstream(home_.models() / "current") << "m1\n";
  start();
  const auto progress = json_of(client().Get("/api/progress?annotator=" + encoded("ana")));
  EXPECT_EQ(progress.at("model"), "m1");
  EXPECT_NE(progress.at("order").get<std::string>().find("active learning"), std::string::npos);
}

}  // namespace
}  // namespace sax::web::testing
