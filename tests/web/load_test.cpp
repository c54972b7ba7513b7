// Many labellers at once: no lost or duplicated vote, and clients that hang up do no harm.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

TEST_F(WebTest, ThirtyTwoConcurrentClientsLoseNoVote) {
  constexpr int kClients = 32, kSamples = 12;
  const auto ids = add_source("song", kSamples);
  start();
  std::atomic<int> created{0}, failed{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  std::vector<std::string> cookies;
  for (int c = 0; c < kClients; ++c)
    cookies.push_back(session_cookie("client" + std::to_string(c)));
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      auto http = client();  // one keep-alive connection per labeller
      http.set_keep_alive(true);
      http.set_tcp_nodelay(true);
      http.set_default_headers({{"Cookie", cookies[c]}});
      const std::string annotator = "client" + std::to_string(c);
      // Every clip twice: the second vote replaces the first, so counts stay exact.
      for (int round = 0; round < 2; ++round)
        for (const int64_t id : ids) {
          const std::string label = round == 0 ? "sax" : (c % 2 ? "not_sax" : "unsure");
          const nlohmann::json body = {
              {"sample_id", id}, {"annotator", annotator}, {"label", label}};
          auto result = http.Post("/api/labels", body.dump(), "application/json");
          if (result && result->status == 201) {
            ++created;
          } else {
            ++failed;
            const std::lock_guard<std::mutex> lock(mutex);
            failures.push_back(result ? std::to_string(result->status) + " " + result->body
                                      : httplib::to_string(result.error()));
          }
        }
    });
  for (auto& client : clients) client.join();
  EXPECT_EQ(failed.load(), 0) << "first failure: " << (failures.empty() ? "" : failures[0]);
  EXPECT_EQ(created.load(), 2 * kClients * kSamples);
  const auto report = status();
  EXPECT_EQ(report.at("votes"), kClients * kSamples);
  EXPECT_EQ(report.at("labels").at("sax"), 0);
  EXPECT_EQ(report.at("labels").at("not_sax"), kClients / 2 * kSamples);
  EXPECT_EQ(report.at("labels").at("unsure"), kClients / 2 * kSamples);
  ASSERT_EQ(report.at("annotators").size(), size_t{kClients});
  for (const auto& annotator : report.at("annotators")) EXPECT_EQ(annotator.at("votes"), kSamples);
  EXPECT_EQ(store_->votes().size(), size_t{kClients * kSamples});
}

TEST_F(WebTest, ServerSurvivesClientsThatHangUpMidRequest) {
  const auto ids = add_source("song", 1);
  start();
  const std::vector<std::string> cut_short = {
      // Headers and half the promised body, then gone.
      "POST /api/labels HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 500\r\n\r\n{\"sample_id\":",
      // Half a header.
      "GET /api/next?annotator=ana HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half",
      // Half a request line.
      "GET /spectrograms/",
      // Complete requests whose answers nobody reads.
      "GET /media/samples/song/clip0.mp3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "GET /spectrograms/" + std::to_string(ids[0]) + ".png HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
  };
  for (int round = 0; round < 5; ++round)
    for (const auto& request : cut_short) {
      const int sock = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<uint16_t>(port_));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
      send(sock, request.data(), request.size(), MSG_NOSIGNAL);
      close(sock);  // hang up before the request is complete or answered
    }
  EXPECT_EQ(post_vote(ids[0], "ana", "sax"), 201);
  EXPECT_EQ(status().at("votes"), 1);  // the half-sent vote was never stored
}

}  // namespace
}  // namespace sax::web::testing
