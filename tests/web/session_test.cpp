// Annotator identity: sessions, votes and undo only as the session's own name, the Host check
// and the warning for a server open to the network without an admin token.
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

class SessionTest : public WebTest {
 protected:
  httplib::Result open_session(httplib::Client& http, const std::string& name) {
    return http.Post("/api/session", nlohmann::json{{"name", name}}.dump(), "application/json");
  }

  std::string vote_body(int64_t id, const std::string& annotator) {
    return nlohmann::json{{"sample_id", id}, {"annotator", annotator}, {"label", "sax"}}.dump();
  }
};

TEST_F(SessionTest, ASessionIsAnHttpOnlyStrictCookieForItsName) {
  start();
  auto http = client();
  const auto opened = open_session(http, "  ana ");
  ASSERT_TRUE(opened);
  ASSERT_EQ(opened->status, 201) << opened->body;
  EXPECT_EQ(json_of(opened).at("name"), "ana");
  const std::string cookie = opened->get_header_value("Set-Cookie");
  EXPECT_EQ(cookie.rfind("saxdetect_session=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find(';') - std::string("saxdetect_session=").size(), 64u) << cookie;
  http.set_default_headers({{"Cookie", cookie.substr(0, cookie.find(';'))}});
  EXPECT_EQ(json_of(http.Get("/api/session")).at("name"), "ana");
  EXPECT_EQ(client().Get("/api/session")->status, 401);
  EXPECT_EQ(client().Post("/api/session", "name=ana", "application/x-www-form-urlencoded")->status,
            415);  // a cross-site form cannot open one
}

TEST_F(SessionTest, ANameAnotherSessionHoldsIsSuffixed) {
  start();
  auto first = client(), second = client(), third = client();
  EXPECT_EQ(json_of(open_session(first, "ana")).at("name"), "ana");
  EXPECT_EQ(json_of(open_session(second, "ana")).at("name"), "ana (2)");
  EXPECT_EQ(json_of(open_session(third, "ana")).at("name"), "ana (3)");
  // A name at the length limit has no room for a suffix.
  auto long_one = client(), long_two = client();
  EXPECT_EQ(open_session(long_one, std::string(64, 'z'))->status, 201);
  EXPECT_EQ(open_session(long_two, std::string(64, 'z'))->status, 409);
}

TEST_F(SessionTest, NobodyVotesOrUndoesAsAnotherAnnotator) {
  // Anyone could once delete every vote of a name shown on the status page, or replace them.
  const auto ids = add_source("song", 2);
  start();
  ASSERT_EQ(post_vote(ids[0], "ana", "sax"), 201);
  ASSERT_EQ(post_vote(ids[1], "ana", "sax"), 201);

  auto anonymous = client();
  EXPECT_EQ(anonymous.Post("/api/labels", vote_body(ids[0], "ana"), "application/json")->status,
            401);
  EXPECT_EQ(anonymous.Delete("/api/labels/last?annotator=ana")->status, 401);

  auto mallory = client_as("mallory");
  const auto forged = mallory.Post("/api/labels", vote_body(ids[0], "ana"), "application/json");
  EXPECT_EQ(forged->status, 403);
  EXPECT_NE(forged->body.find("this session labels as mallory"), std::string::npos);
  EXPECT_EQ(mallory.Delete("/api/labels/last?annotator=ana")->status, 403);
  EXPECT_EQ(mallory.Delete("/api/labels/last")->status, 404);

  // A second session asking for "ana" gets another name, not her votes.
  auto impostor = client();
  const auto taken = open_session(impostor, "ana");
  EXPECT_EQ(json_of(taken).at("name"), "ana (2)");
  const std::string cookie = taken->get_header_value("Set-Cookie");
  impostor.set_default_headers({{"Cookie", cookie.substr(0, cookie.find(';'))}});
  EXPECT_EQ(impostor.Delete("/api/labels/last")->status, 404);

  for (const auto& annotator : status().at("annotators")) {
    if (annotator.at("name") == "ana") {
      EXPECT_EQ(annotator.at("votes"), 2);
    }
  }
  EXPECT_EQ(store_->votes().size(), 2u);
}

TEST_F(SessionTest, UndoReachesOnlyTheVotesOfThisSession) {
  const auto ids = add_source("song", 2);
  store_->add_vote(ids[0], "ana", Label::sax);  // from an earlier server run
  start();
  auto ana = client_as("ana");
  EXPECT_EQ(ana.Delete("/api/labels/last")->status, 404);
  ASSERT_EQ(post_vote(ids[1], "ana", "not_sax"), 201);
  const auto undone = ana.Delete("/api/labels/last");
  ASSERT_EQ(undone->status, 200) << undone->body;
  EXPECT_EQ(json_of(undone).at("sample_id"), ids[1]);
  EXPECT_EQ(ana.Delete("/api/labels/last")->status, 404);
  EXPECT_EQ(store_->votes().size(), 1u);
  // Voting twice on one clip leaves one vote to undo, not two.
  ASSERT_EQ(post_vote(ids[1], "ana", "sax"), 201);
  ASSERT_EQ(post_vote(ids[1], "ana", "unsure"), 201);
  EXPECT_EQ(ana.Delete("/api/labels/last")->status, 200);
  EXPECT_EQ(ana.Delete("/api/labels/last")->status, 404);
  EXPECT_EQ(store_->votes().size(), 1u);  // the earlier run's vote is still there
}

TEST_F(SessionTest, TheHostHeaderMustNameThisServer) {
  // A page whose DNS name was rebound to 127.0.0.1 sends its own name as Host.
  WebOptions options;
  options.allowed_hosts = {"sax.lan"};
  start(options);
  const auto ask = [&](const std::string& host) {
    return raw_request("GET /api/status HTTP/1.1\r\nHost: " + host +
                       "\r\nConnection: close\r\n\r\n");
  };
  const std::string evil = ask("evil.example:" + std::to_string(port_));
  EXPECT_EQ(evil.rfind("HTTP/1.1 421", 0), 0u) << evil;
  EXPECT_NE(evil.find("--allowed-host"), std::string::npos) << evil;
  EXPECT_EQ(ask("localhost:" + std::to_string(port_)).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(ask("127.0.0.1").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(ask("SAX.lan:8080").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(HostCheck, FollowsTheBoundAddressAndTheAllowedList) {
  WebOptions loopback;
  EXPECT_TRUE(host_allowed(loopback, "127.0.0.1:8080"));
  EXPECT_TRUE(host_allowed(loopback, "[::1]:8080"));
  EXPECT_FALSE(host_allowed(loopback, "attacker.example"));
  WebOptions any;
  any.host = "0.0.0.0";
  EXPECT_TRUE(host_allowed(any, "whatever.lan:8080"));  // its names are unknown
  any.allowed_hosts = {"sax.lan"};
  EXPECT_TRUE(host_allowed(any, "sax.lan:8080"));
  EXPECT_FALSE(host_allowed(any, "whatever.lan:8080"));
  WebOptions one;
  one.host = "192.168.1.5";
  EXPECT_TRUE(host_allowed(one, "192.168.1.5:8080"));
  EXPECT_FALSE(host_allowed(one, "localhost:8080"));
}

TEST(ExposureWarning, OnlyForTheNetworkWithoutAnAdminToken) {
  WebOptions options;
  EXPECT_EQ(exposure_warning(options), "");
  options.host = "0.0.0.0";
  EXPECT_NE(exposure_warning(options).find("no --admin-token"), std::string::npos);
  options.admin_token = "secret";
  EXPECT_EQ(exposure_warning(options), "");
}

}  // namespace
}  // namespace sax::web::testing
