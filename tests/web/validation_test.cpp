// Everything a client can get wrong gets a 4xx with a JSON error; files only from the home.
#include <fstream>

#include "web/validation.h"
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

class ValidationTest : public WebTest {
 protected:
  void SetUp() override {
    WebTest::SetUp();
    sample_ = add_source("song", 1)[0];
    start();
  }

  // POSTs a raw body in a session as "ana"; expects `status` and a JSON {"error": ...} naming
  // the problem.
  void expect_rejected(const std::string& body, int status, const std::string& mentions,
                       const std::string& type = "application/json") {
    auto result = client_as("ana").Post("/api/labels", body, type);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, status) << body;
    const auto json = json_of(result);
    ASSERT_TRUE(json.is_object() && json.contains("error")) << result->body;
    EXPECT_NE(json.at("error").get<std::string>().find(mentions), std::string::npos) << json.dump();
  }

  std::string vote_body(const nlohmann::json& sample_id, const nlohmann::json& annotator,
                        const nlohmann::json& label) {
    return nlohmann::json{{"sample_id", sample_id}, {"annotator", annotator}, {"label", label}}
        .dump();
  }

  int64_t sample_ = 0;
};

TEST_F(ValidationTest, UnknownSampleIs404) {
  expect_rejected(vote_body(sample_ + 1000, "ana", "sax"), 404, "sample_id");
}

TEST_F(ValidationTest, BadFieldsAre400) {
  expect_rejected(vote_body(sample_, "ana", "saxophone"), 400, "label");
  expect_rejected(vote_body(sample_, "ana", 1), 400, "label");
  expect_rejected(vote_body(std::to_string(sample_), "ana", "sax"), 400, "sample_id");
  expect_rejected(vote_body(-3, "ana", "sax"), 400, "sample_id");
  expect_rejected(vote_body(1.5, "ana", "sax"), 400, "sample_id");
  expect_rejected(vote_body(sample_, "bob", "sax"), 403, "this session labels as ana");
  EXPECT_EQ(status().at("votes"), 0);
}

TEST_F(ValidationTest, NonJsonBodiesAreRefused) {
  expect_rejected("sample_id=1&label=sax", 400, "JSON");
  expect_rejected("[1,2,3]", 400, "JSON object");
  expect_rejected("", 400, "JSON");
  expect_rejected(vote_body(sample_, "ana", "sax"), 415, "Content-Type", "text/plain");
}

TEST_F(ValidationTest, OversizedBodiesAre413) {
  const std::string huge = vote_body(sample_, std::string(100000, 'a'), "sax");
  expect_rejected(huge, 413, "at most");
  // The connection was closed after the refusal, and the server still answers.
  EXPECT_EQ(post_vote(sample_, "ana", "sax"), 201);
}

TEST_F(ValidationTest, AnnotatorNamesAreCheckedEverywhere) {
  expect_rejected(vote_body(sample_, std::string(65, 'a'), "sax"), 400, "at most 64");
  expect_rejected(vote_body(sample_, "ana\nbob", "sax"), 400, "control");
  expect_rejected(vote_body(sample_, std::string("a\x01"), "sax"), 400, "control");
  expect_rejected(vote_body(sample_, "   ", "sax"), 400, "required");
  EXPECT_EQ(post_vote(sample_, std::string(64, 'a'), "sax"), 201);  // exactly at the limit
  EXPECT_EQ(post_vote(sample_, "Zoë 🎷", "sax"), 201);               // any printable UTF-8

  EXPECT_EQ(client().Get("/api/next")->status, 400);
  EXPECT_EQ(client().Get("/api/next?annotator=" + std::string(65, 'b'))->status, 400);
  EXPECT_EQ(client().Get("/api/next?annotator=a%0Ab")->status, 400);
  EXPECT_EQ(client().Delete("/api/labels/last?annotator=a%7Fb")->status, 400);
  EXPECT_EQ(client().Get("/api/progress?annotator=")->status, 400);
}

TEST(AnnotatorCheck, RefusesInvalidUtf8AndInvisibleControls) {
  EXPECT_EQ(checked_annotator("  ana  "), "ana");
  EXPECT_THROW(checked_annotator("\xC3"), HttpError);            // truncated sequence
  EXPECT_THROW(checked_annotator("\xC0\xAF"), HttpError);        // overlong '/'
  EXPECT_THROW(checked_annotator("\xED\xA0\x80"), HttpError);    // surrogate
  EXPECT_THROW(checked_annotator("evil\u202Eeman"), HttpError);  // right-to-left override
  EXPECT_THROW(checked_annotator("\xC2\x85"), HttpError);        // C1 next-line
  EXPECT_EQ(checked_annotator("日本語"), "日本語");
}

TEST(SecretCheck, ComparesWholeSecrets) {
  EXPECT_TRUE(same_secret("token", "token"));
  EXPECT_FALSE(same_secret("token", "token2"));
  EXPECT_FALSE(same_secret("token", "tokeN"));
  EXPECT_FALSE(same_secret("", "x"));
}

TEST(UrlEncoding, EncodesEachByteThatIsNotSafeInAPath) {
  EXPECT_EQ(url_encode_path("samples/a b/c#1?.mp3"), "samples/a%20b/c%231%3F.mp3");
  EXPECT_EQ(url_encode_path("samples/é.mp3"), "samples/%C3%A9.mp3");
}

// Files: only samples/ and models/ pictures, only inside the home, whatever the encoding.
TEST_F(ValidationTest, MediaIsServedOnlyFromTheHome) {
  std::ofstream(dir_.path() / "secret.mp3") << "secret outside the home";
  std::filesystem::create_symlink(dir_.path() / "secret.mp3", home_.samples() / "link.mp3");
  const std::vector<std::string> attacks = {
      "/media/../saxdetect.db",
      "/media/%2e%2e/saxdetect.db",
      "/media/%2E%2E/%2E%2E/secret.mp3",
      "/media/samples/%2e%2e/%2e%2e/secret.mp3",
      "/media/samples/..%2f..%2fsecret.mp3",
      "/media/samples/%252e%252e/%252e%252e/secret.mp3",
      "/media//etc/passwd",
      "/media/%2fetc%2fpasswd",
      "/media/saxdetect.db",
      "/media/samples/link.mp3",
      "/media/samples/song/clip0.wav/..",
      "/media/cache/x.png",
      "/spectrograms/..%2f..%2fsaxdetect.db",
  };
  for (const auto& path : attacks) {
    const std::string response =
        raw_request("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(response.rfind("HTTP/1.1 404", 0), 0u) << path << "\n" << response.substr(0, 80);
    EXPECT_EQ(response.find("secret outside"), std::string::npos) << path;
    EXPECT_EQ(response.find("SQLite format"), std::string::npos) << path;
  }
  const std::string allowed = raw_request(
      "GET /media/samples/song/clip0.mp3 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(allowed.rfind("HTTP/1.1 200", 0), 0u);
}

// Names are data: pages are static, scripts put names in with textContent, and a strict
// Content-Security-Policy forbids inline script should anything slip through.
TEST_F(ValidationTest, StoredNamesNeverBecomeMarkup) {
  const std::string evil = "<img src=x onerror=alert(1)><script>alert(2)</script>";
  ASSERT_EQ(post_vote(sample_, evil, "sax"), 201);
  const auto report = status();
  EXPECT_EQ(report.at("annotators").at(0).at("name"), evil);  // kept exactly, as data
  auto status_api = client().Get("/api/status");
  EXPECT_EQ(status_api->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(status_api->get_header_value("X-Content-Type-Options"), "nosniff");
  for (const char* page : {"/", "/label", "/done", "/status", "/model", "/analyze"}) {
    auto result = client().Get(page);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200) << page;
    EXPECT_EQ(result->body.find("onerror=alert"), std::string::npos) << page;
    const std::string policy = result->get_header_value("Content-Security-Policy");
    EXPECT_NE(policy.find("default-src 'self'"), std::string::npos) << page;
    EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << page;
  }
  // No page script writes HTML from strings.
  for (const char* script :
       {"common.js", "label.js", "status.js", "model.js", "intro.js", "done.js", "analyze.js"}) {
    auto result = client().Get(std::string("/assets/") + script);
    ASSERT_EQ(result->status, 200) << script;
    EXPECT_EQ(result->body.find("innerHTML"), std::string::npos) << script;
  }
}

TEST_F(ValidationTest, EveryPageIsItsMainInsideTheSharedLayout) {
  const std::pair<const char*, const char*> pages[] = {
      {"/", "intro.js"},        {"/label", "label.js"}, {"/done", "done.js"},
      {"/status", "status.js"}, {"/model", "model.js"}, {"/analyze", "analyze.js"}};
  for (const auto& [path, script] : pages) {
    const std::string html = client().Get(path)->body;
    EXPECT_EQ(html.rfind("<!doctype html>\n", 0), 0u) << path;  // nothing before the doctype
    EXPECT_NE(html.find(std::string("<script src=\"/assets/") + script + "\" defer>"),
              std::string::npos)
        << path;
    const auto title = html.find("<title>"), title_end = html.find("</title>");
    ASSERT_LT(title, title_end) << path;
    EXPECT_NE(html.substr(title, title_end - title).find("saxdetect"), std::string::npos) << path;
    const auto bar = html.find("<header class=\"topbar\">"), main = html.find("<main>");
    EXPECT_LT(bar, main) << path;  // one top bar, then the page's own content
    EXPECT_EQ(html.find("<header class=\"topbar\">", bar + 1), std::string::npos) << path;
    EXPECT_EQ(html.find("{{"), std::string::npos) << path;  // every placeholder filled
    EXPECT_EQ(html.find("<!-- page:"), std::string::npos) << path;
    EXPECT_EQ(html.substr(html.size() - 16), "</body>\n</html>\n") << path;
  }
}

TEST_F(ValidationTest, PagesAndAssetsAreEmbedded) {
  auto intro = client().Get("/");
  EXPECT_EQ(intro->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* instrument : {"Soprano", "Alto", "Tenor", "Baritone", "Clarinet", "Trumpet",
                                 "Trombone", "Flute", "Voice"})
    EXPECT_NE(intro->body.find(instrument), std::string::npos) << instrument;
  EXPECT_EQ(client().Get("/assets/style.css")->get_header_value("Content-Type"),
            "text/css; charset=utf-8");
  auto missing = client().Get("/assets/nope.js");
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(json_of(missing).contains("error"));
  EXPECT_EQ(client().Get("/no-such-page")->status, 404);
}

}  // namespace
}  // namespace sax::web::testing
