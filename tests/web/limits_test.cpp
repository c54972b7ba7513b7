// Hostile clients: bodies in every framing, slow and idle connections, long or hanging
// analyses, a busy analyzer, stop() in mid-analysis, and what a killed server left behind.
// The server runs in this process, so its memory is this process's memory (/proc/self).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <thread>

#include "audio/audio.h"
#include "infer/detector.h"
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kRate = 8000;

// Peak resident memory of this process in kB, after clear_peak_memory().
long peak_memory_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Resets VmHWM to the current resident size (Linux >= 4.0), so the peak seen later is this
// test's, not an earlier one's.
void clear_peak_memory() { std::ofstream("/proc/self/clear_refs") << "5"; }

// Sends everything or stops at the first failure (the server closed); returns bytes sent.
size_t send_all(int sock, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(sock, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  return sent;
}

// What the server answers before it closes (reads until EOF, a reset or 10 s of silence).
std::string read_answer(int sock) {
  timeval limit{10, 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::string answer;
  char buffer[4096];
  ssize_t got;
  while ((got = recv(sock, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, got);
  return answer;
}

// Scores like a model that takes `delay` per chunk, counting its calls.
class SlowScorer : public Scorer {
 public:
  SlowScorer(std::shared_ptr<std::atomic<int>> calls, std::chrono::milliseconds delay)
      : calls_(std::move(calls)), delay_(delay) {}
  std::string name() const override { return "slow"; }
  int sample_rate() const override { return kRate; }
  size_t window_samples() const override { return kRate; }
  double threshold() const override { return 0.5; }
  std::vector<float> score_sliding(const float*, size_t count, size_t hop) override {
    ++*calls_;
    std::this_thread::sleep_for(delay_);
    return std::vector<float>((count - kRate) / hop + 1, 0.1f);
  }
  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    return std::vector<float>(windows.size(), 0.1f);
  }

 private:
  std::shared_ptr<std::atomic<int>> calls_;
  std::chrono::milliseconds delay_;
};

class LimitsTest : public WebTest {
 protected:
  // A server whose analyses take `delay` per minute of audio.
  void start_slow(WebOptions options, std::chrono::milliseconds delay) {
    options.open_scorer = [calls = calls_, delay](const Home&) {
      return std::make_unique<SlowScorer>(calls, delay);
    };
    start(options);
  }

  // `minutes` of silence as FLAC (small, however long).
  std::string long_song(double minutes) {
    const auto file = dir_.path() / "long.flac";
    write_audio(file, std::vector<float>(static_cast<size_t>(minutes * 60 * kRate), 0.0f), kRate);
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  httplib::Result upload(const std::string& name, const std::string& bytes) {
    httplib::MultipartFormDataItems items = {{"file", bytes, name, "application/octet-stream"}};
    auto c = client();
    c.set_read_timeout(60);
    return c.Post("/api/analyze", items);
  }

  void wait_for_first_chunk() {
    while (*calls_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  std::shared_ptr<std::atomic<int>> calls_ = std::make_shared<std::atomic<int>>(0);
};

std::string head(const std::string& method, const std::string& path, const std::string& extra) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

TEST_F(LimitsTest, AHugeChunkedBodyIsRefusedBeforeItIsRead) {
  // httplib checks its payload limit only against Content-Length: a 1 GB chunked vote once took
  // the server to 2.4 GB.
  start();
  clear_peak_memory();
  const long before = peak_memory_kb();
  const int sock = connect_socket();
  ASSERT_GE(sock, 0);
  size_t sent = send_all(sock, head("POST", "/api/labels",
                                    "Content-Type: application/json\r\n"
                                    "Transfer-Encoding: chunked\r\n"));
  const std::string chunk = "100000\r\n" + std::string(1 << 20, 'x') + "\r\n";  // 1 MiB
  for (int i = 0; i < 1024; ++i) {
    const size_t n = send_all(sock, chunk);
    sent += n;
    if (n < chunk.size()) break;  // the server has closed the connection
  }
  close(sock);
  RecordProperty("bytes_sent", std::to_string(sent));
  RecordProperty("peak_rss_growth_kb", std::to_string(peak_memory_kb() - before));
  EXPECT_LT(sent, 64u << 20) << "the server read on";
  EXPECT_LT(peak_memory_kb() - before, 32 * 1024);
  EXPECT_EQ(status().at("votes"), 0);  // and it still answers
}

TEST_F(LimitsTest, BodiesWithoutALengthOrCompressedAreRefusedByName) {
  start();
  const std::string chunked = raw_request(
      head("POST", "/api/labels", "Transfer-Encoding: chunked\r\nConnection: close\r\n") +
      "2\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.rfind("HTTP/1.1 411", 0), 0u) << chunked;
  EXPECT_NE(chunked.find("Content-Length"), std::string::npos) << chunked;

  // Without a length httplib reads a POST body until the client closes.
  const int sock = connect_socket();
  ASSERT_GE(sock, 0);
  send_all(sock, head("POST", "/api/labels", "Content-Type: application/json\r\n") + "{");
  const std::string unframed = read_answer(sock);
  close(sock);
  EXPECT_EQ(unframed.rfind("HTTP/1.1 411", 0), 0u) << unframed;

  const std::string gzip =
      raw_request(head("POST", "/api/analyze",
                       "Content-Encoding: gzip\r\nContent-Length: 4\r\nConnection: close\r\n") +
                  "abcd");
  EXPECT_EQ(gzip.rfind("HTTP/1.1 415", 0), 0u) << gzip;
  EXPECT_NE(gzip.find("uncompressed"), std::string::npos) << gzip;
}

TEST_F(LimitsTest, AGzipBombUploadIsNotInflated) {
  // 200 MB of zeros in 200 kB: httplib inflated such an upload whole before any check.
  start();
  const fs::path bomb = dir_.path() / "bomb.gz";
  ASSERT_EQ(sax::testing::run_shell("head -c 200000000 /dev/zero | gzip -1 -c > " + bomb.string()),
            0);
  std::ifstream in(bomb, std::ios::binary);
  const std::string gz((std::istreambuf_iterator<char>(in)), {});
  const std::string boundary = "XbombX";
  const std::string body = "--" + boundary +
                           "\r\nContent-Disposition: form-data; name=\"file\"; "
                           "filename=\"song.wav\"\r\n\r\n" +
                           gz + "\r\n--" + boundary + "--\r\n";
  clear_peak_memory();
  const long before = peak_memory_kb();
  const std::string answer =
      raw_request(head("POST", "/api/analyze",
                       "Content-Type: multipart/form-data; boundary=" + boundary +
                           "\r\nContent-Encoding: gzip\r\nConnection: close\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n") +
                  body);
  EXPECT_EQ(answer.rfind("HTTP/1.1 415", 0), 0u) << answer.substr(0, 200);
  RecordProperty("peak_rss_growth_kb", std::to_string(peak_memory_kb() - before));
  EXPECT_LT(peak_memory_kb() - before, 32 * 1024);
}

TEST_F(LimitsTest, ASlowClientIsClosedAtTheRequestDeadline) {
  // One byte at a time never let httplib's per-read timeout fire: the connection stayed open.
  WebOptions options;
  options.request_timeout = 1;
  start(options);
  const int sock = connect_socket();
  ASSERT_GE(sock, 0);
  const std::string request = head("GET", "/api/status", std::string(40, 'X') + ": 1\r\n");
  size_t sent = 0;
  bool closed = false;
  while (sent < request.size() && !closed) {
    if (send(sock, request.data() + sent, 1, MSG_NOSIGNAL) != 1) break;
    ++sent;
    pollfd fd{sock, POLLIN, 0};
    closed = poll(&fd, 1, 300) > 0;  // an answer (408/400) or the close
  }
  close(sock);
  EXPECT_LT(sent, request.size()) << "the whole request trickled in";
}

TEST_F(LimitsTest, AnIdleConnectionIsClosed) {
  WebOptions options;
  options.idle_timeout = 0.2;
  start(options);
  const int sock = connect_socket();
  ASSERT_GE(sock, 0);
  timeval limit{20, 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  char byte;
  EXPECT_EQ(recv(sock, &byte, 1, 0), 0);  // closed by the server, not our 20 s limit
  close(sock);
}

TEST_F(LimitsTest, AnAnalysisStopsAtItsTimeLimit) {
  WebOptions options;
  options.analysis_seconds = 0.3;
  options.upload_limit = 8u << 20;
  start_slow(options, std::chrono::milliseconds(100));
  const auto result = upload("long.flac", long_song(30));  // 30 chunks of a minute
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 503);
  EXPECT_NE(json_of(result).at("error").get<std::string>().find("time limit of 0.3 s"),
            std::string::npos)
      << result->body;
  EXPECT_LT(*calls_, 30);
  EXPECT_TRUE(fs::is_empty(home_.uploads()));
}

TEST_F(LimitsTest, AnalysesPastTheCapAre503) {
  WebOptions options;
  options.max_analyses = 1;
  options.upload_limit = 8u << 20;
  start_slow(options, std::chrono::milliseconds(200));
  const std::string song = long_song(30);
  std::thread first([&] { upload("long.flac", song); });
  wait_for_first_chunk();
  const auto second = upload("long.flac", song);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
  EXPECT_NE(second->body.find("already running or waiting"), std::string::npos) << second->body;
  server_->stop();  // ends the first
  first.join();
}

TEST_F(LimitsTest, StopEndsAnAnalysisInFlight) {
  // A hanging analysis once kept SIGTERM from stopping the server.
  WebOptions options;
  options.upload_limit = 8u << 20;
  start_slow(options, std::chrono::milliseconds(200));
  int status = 0;
  std::string body;
  const std::string song = long_song(30);
  std::thread request([&] {
    if (auto result = upload("long.flac", song)) {
      status = result->status;
      body = result->body;
    }
  });
  wait_for_first_chunk();
  server_->stop();
  request.join();
  EXPECT_LT(*calls_, 30);
  EXPECT_EQ(status, 503) << body;
  EXPECT_TRUE(fs::is_empty(home_.uploads()));
}

TEST_F(LimitsTest, AnUploadHoldingNaNIsRefusedByName) {
  // A float WAV with a NaN every 1000th sample once hung the analysis and the server with it.
  WebOptions options;
  options.upload_limit = 8u << 20;
  start_slow(options, std::chrono::milliseconds(0));
  auto audio = sax::testing::tone(12.0, kRate);
  for (size_t i = 0; i < audio.size(); i += 1000) audio[i] = std::nanf("");
  sax::testing::write_float_wav(dir_.path() / "nan.wav", audio, kRate);
  std::ifstream in(dir_.path() / "nan.wav", std::ios::binary);
  const auto result = upload("nan.wav", std::string(std::istreambuf_iterator<char>(in), {}));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 422);
  const std::string error = json_of(result).at("error");
  EXPECT_EQ(error.rfind("file: nan.wav could not be analysed: holds samples that are not audio", 0),
            0u)
      << error;
  EXPECT_EQ(error.find(home_.uploads().string()), std::string::npos) << error;
}

TEST_F(LimitsTest, StartSweepsUploadsAKilledServerLeft) {
  fs::create_directories(home_.uploads());
  std::ofstream(home_.uploads() / "upload-123.wav") << "left over";
  std::ofstream(home_.uploads() / "notes.txt") << "not ours";
  start();
  EXPECT_FALSE(fs::exists(home_.uploads() / "upload-123.wav"));
  EXPECT_TRUE(fs::exists(home_.uploads() / "notes.txt"));
}

}  // namespace
}  // namespace sax::web::testing
