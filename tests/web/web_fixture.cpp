#include "web/web_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audio/audio.h"
#include "common/hash.h"

namespace sax::web::testing {

namespace fs = std::filesystem;

void WebTest::SetUp() {
  home_ = Home{dir_.path() / "home"};
  home_.create();
  store_ = open_store(home_);
}

void WebTest::TearDown() {
  if (server_) server_->stop();
}

void WebTest::start(WebOptions options) {
  options.port = 0;
  server_ = std::make_unique<WebServer>(*store_, home_, options);
  port_ = server_->start();
  ASSERT_GT(port_, 0);
}

std::vector<int64_t> WebTest::add_source(const std::string& name, int count, bool silent) {
  const int rate = 8000;  // tiny files; the spectrogram code resamples to its own rate
  const fs::path folder = home_.samples() / name;
  fs::create_directories(folder);
  Source source;
  source.path = (dir_.path() / (name + ".wav")).string();
  source.hash = sha256_bytes(name.data(), name.size());
  source.duration = 5.0 * count;
  source.sample_rate = rate;
  source.channels = 1;
  source.codec = "pcm_s16le";
  const int64_t source_id = store_->claim_source(source, "web-test").source_id;
  std::vector<int64_t> ids;
  for (int i = 0; i < count; ++i) {
    std::vector<float> audio = sax::testing::tone(1.0, rate, 1, 300.0 + 50 * i + 10 * sources_);
    if (silent) std::fill(audio.begin(), audio.end(), 0.0f);
    const std::string clip = "samples/" + name + "/clip" + std::to_string(i);
    write_audio(home_.root / (clip + ".wav"), audio, rate);
    write_audio(home_.root / (clip + ".mp3"), audio, rate);
    Sample sample;
    sample.source_id = source_id;
    sample.start = 5.0 * i;
    sample.duration = 1.0;
    sample.path = clip + ".wav";
    sample.web_path = clip + ".mp3";
    sample.hash = sha256_bytes(audio.data(), audio.size() * sizeof(float)) + name;
    sample.rms = silent ? 0.0 : 0.35;
    sample.silent = silent;
    ids.push_back(store_->add_sample(sample));
  }
  store_->finish_source(source_id, source.duration);
  ++sources_;
  return ids;
}

httplib::Client WebTest::client() const {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(30);
  client.set_tcp_nodelay(true);
  return client;
}

std::string WebTest::session_cookie(const std::string& annotator) {
  if (auto found = cookies_.find(annotator); found != cookies_.end()) return found->second;
  const nlohmann::json body = {{"name", annotator}};
  auto result = client().Post("/api/session", body.dump(), "application/json");
  if (!result || result->status != 201) {
    ADD_FAILURE() << "no session for " << annotator << ": " << (result ? result->body : "");
    return "";
  }
  const std::string cookie = result->get_header_value("Set-Cookie");
  return cookies_[annotator] = cookie.substr(0, cookie.find(';'));
}

httplib::Client WebTest::client_as(const std::string& annotator) {
  httplib::Client c = client();
  c.set_default_headers({{"Cookie", session_cookie(annotator)}});
  return c;
}

int WebTest::post_vote(int64_t sample_id, const std::string& annotator, const std::string& label) {
  const nlohmann::json body = {
      {"sample_id", sample_id}, {"annotator", annotator}, {"label", label}};
  auto result = client_as(annotator).Post("/api/labels", body.dump(), "application/json");
  return result ? result->status : -1;
}

nlohmann::json WebTest::status() { return json_of(client().Get("/api/status")); }

int64_t WebTest::next_id(const std::string& annotator, const std::string& extra) {
  auto result =
      client().Get("/api/next?annotator=" + httplib::detail::encode_query_param(annotator) + extra);
  if (!result) ADD_FAILURE() << "no response from /api/next";
  if (!result || result->status == 204) return 0;
  EXPECT_EQ(result->status, 200) << result->body;
  return json_of(result).at("id").get<int64_t>();
}

int WebTest::connect_socket() const {
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port_));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(sock);
    return -1;
  }
  return sock;
}

std::string WebTest::raw_request(const std::string& request) const {
  const int sock = connect_socket();
  std::string response;
  if (sock >= 0 &&
      send(sock, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size())) {
    char buffer[4096];
    ssize_t got;
    while ((got = recv(sock, buffer, sizeof buffer, 0)) > 0) response.append(buffer, got);
  }
  if (sock >= 0) close(sock);
  return response;
}

nlohmann::json json_of(const httplib::Result& result) {
  if (!result) return nlohmann::json();
  return nlohmann::json::parse(result->body, nullptr, false);
}

}  // namespace sax::web::testing
