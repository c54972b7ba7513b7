// Admin actions: off without --admin-token; with one, only for requests bearing it.
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

class AdminTest : public WebTest {
 protected:
  void SetUp() override {
    WebTest::SetUp();
    ids_ = add_source("song", 2);
  }
  void vote_twice() {
    ASSERT_EQ(post_vote(ids_[0], "ana", "sax"), 201);
    ASSERT_EQ(post_vote(ids_[1], "ana", "sax"), 201);
    ASSERT_EQ(post_vote(ids_[0], "bob", "not_sax"), 201);
  }
  httplib::Headers bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  std::vector<int64_t> ids_;
};

TEST_F(AdminTest, OffWithoutAToken) {
  start();
  vote_twice();
  EXPECT_EQ(client().Get("/api/admin/export", bearer(""))->status, 404);
  EXPECT_EQ(client().Delete("/api/admin/votes?annotator=ana", bearer(""))->status, 404);
  EXPECT_EQ(status().at("votes"), 3);
}

TEST_F(AdminTest, RefusesMissingOrWrongTokens) {
  WebOptions options;
  options.admin_token = "s3cret-token";
  start(options);
  vote_twice();
  EXPECT_EQ(client().Get("/api/admin/export")->status, 401);
  EXPECT_EQ(client().Get("/api/admin/export", bearer("s3cret-tokeN"))->status, 401);
  EXPECT_EQ(client().Get("/api/admin/export", bearer("s3cret-token-and-more"))->status, 401);
  EXPECT_EQ(client().Get("/api/admin/export", {{"Authorization", "s3cret-token"}})->status, 401);
  EXPECT_EQ(client().Delete("/api/admin/votes?annotator=ana", bearer("wrong"))->status, 401);
  EXPECT_EQ(status().at("votes"), 3);
}

TEST_F(AdminTest, ExportsAndDeletesWithTheToken) {
  WebOptions options;
  options.admin_token = "s3cret-token";
  start(options);
  vote_twice();
  auto exported = client().Get("/api/admin/export", bearer("s3cret-token"));
  ASSERT_EQ(exported->status, 200);
  const auto votes = json_of(exported).at("votes");
  ASSERT_EQ(votes.size(), 3u);
  int of_ana = 0;
  for (const auto& vote : votes) of_ana += vote.at("annotator") == "ana";
  EXPECT_EQ(of_ana, 2);

  auto deleted = client().Delete("/api/admin/votes?annotator=ana", bearer("s3cret-token"));
  ASSERT_EQ(deleted->status, 200);
  EXPECT_EQ(json_of(deleted).at("deleted"), 2);
  const auto report = status();
  EXPECT_EQ(report.at("votes"), 1);
  EXPECT_EQ(report.at("annotators").size(), 1u);
}

}  // namespace
}  // namespace sax::web::testing
