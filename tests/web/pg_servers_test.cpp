// Two `saxdetect serve` processes on one PostgreSQL store, 32 labellers whose requests alternate
// between them: every acknowledged vote is stored exactly once, with the label last sent.
// Skipped unless $SAXDETECT_TEST_PG names a server.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <pqxx/pqxx>

#include "audio/audio.h"
#include "common/hash.h"
#include "support/pg_schema.h"
#include "web/web_fixture.h"

namespace sax::web::testing {
namespace {

namespace fs = std::filesystem;

// `saxdetect serve --port 0` in a child process (32 votes wanted per clip, so every clip stays
// a candidate for every labeller); the port is read from its first line.
// Stopped with SIGTERM (SIGKILL if it lingers) however the test ends.
class ServeProcess {
 public:
  ServeProcess(const std::string& db, const Home& home, const fs::path& log) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    const std::vector<std::string> args = {"--db",    db,      "--home", home.root.string(),
                                           "--quiet", "serve", "--port", "0",
                                           "--votes", "32"};
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv{const_cast<char*>(SAXDETECT_BIN)};
      for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      dup2(out[1], STDOUT_FILENO);
      const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) dup2(err, STDERR_FILENO);
      execv(SAXDETECT_BIN, argv.data());
      _exit(127);
    }
    close(out[1]);
    if (pid_ < 0) {
      close(out[0]);
      return;
    }
    // "saxdetect serve: labelling app at http://127.0.0.1:PORT (...)"; EOF if it failed.
    FILE* stream = fdopen(out[0], "r");
    char line[1024];
    if (stream && fgets(line, sizeof line, stream)) {
      std::smatch match;
      const std::string text = line;
      if (std::regex_search(text, match, std::regex(R"(http://127\.0\.0\.1:(\d+))")))
        port_ = std::stoi(match[1]);
    }
    if (stream) fclose(stream);  // the server prints nothing more worth reading
  }
  ~ServeProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 500 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// `count` one-second clips of a few sources, registered through the store API.
void add_samples(Store& store, const Home& home, int count) {
  constexpr int kRate = 8000, kPerSource = 20;
  for (int first = 0; first < count; first += kPerSource) {
    const std::string name = "song" + std::to_string(first / kPerSource);
    Source source;
    source.path = "/library/" + name + ".wav";
    source.hash = sha256_bytes(name.data(), name.size());
    source.duration = 5.0 * kPerSource;
    source.sample_rate = kRate;
    source.channels = 1;
    source.codec = "pcm_s16le";
    const int64_t source_id = store.claim_source(source, "pg-servers-test").source_id;
    for (int i = first; i < std::min(count, first + kPerSource); ++i) {
      const auto audio = sax::testing::tone(0.25, kRate, 1, 200.0 + 5 * i);
      const std::string clip = "samples/" + name + "/clip" + std::to_string(i) + ".wav";
      fs::create_directories((home.root / clip).parent_path());
      write_audio(home.root / clip, audio, kRate);
      Sample sample;
      sample.source_id = source_id;
      sample.start = 5.0 * (i - first);
      sample.duration = 1.0;
      sample.path = clip;
      sample.web_path = clip;
      sample.hash = sha256_bytes(audio.data(), audio.size() * sizeof(float)) + name;
      sample.rms = 0.35;
      store.add_sample(sample);
    }
    store.finish_source(source_id, source.duration);
  }
}

TEST(PgServeProcesses, ClientsSpreadOverTwoServersLoseAndDuplicateNoVote) {
  sax::testing::PgSchema schema("saxserve");
  if (schema.url().empty()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
  constexpr int kSamples = 200, kClients = 32, kVotesPerClient = 15;
  const auto start = std::chrono::steady_clock::now();
  sax::testing::TempDir dir;
  const Home home{dir.path() / "home"};
  home.create();
  auto store = open_store(home, schema.url());
  add_samples(*store, home, kSamples);
  ASSERT_EQ(store->samples().size(), size_t{kSamples});

  ServeProcess first(schema.url(), home, dir.path() / "serve0.log");
  ServeProcess second(schema.url(), home, dir.path() / "serve1.log");
  ASSERT_GT(first.port(), 0) << "first server did not start";
  ASSERT_GT(second.port(), 0) << "second server did not start";
  const int ports[2] = {first.port(), second.port()};

  std::mutex mutex;
  std::map<std::pair<int64_t, std::string>, std::string> acknowledged;  // last label acked
  std::vector<std::string> failures;
  std::atomic<int> created{0}, replaced{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      std::vector<std::unique_ptr<httplib::Client>> http;
      for (const int port : ports) {
        http.push_back(std::make_unique<httplib::Client>("127.0.0.1", port));
        http.back()->set_keep_alive(true);
        http.back()->set_tcp_nodelay(true);
        http.back()->set_read_timeout(20);
      }
      const std::string annotator = "client" + std::to_string(c);
      auto fail = [&](const std::string& what) {
        const std::lock_guard<std::mutex> lock(mutex);
        failures.push_back(annotator + ": " + what);
      };
      // Sessions live in each server's memory: one per server, as one name.
      for (auto& server : http) {
        auto opened = server->Post("/api/session", nlohmann::json{{"name", annotator}}.dump(),
                                   "application/json");
        if (!opened || opened->status != 201) return fail("POST /api/session");
        const std::string cookie = opened->get_header_value("Set-Cookie");
        server->set_default_headers({{"Cookie", cookie.substr(0, cookie.find(';'))}});
      }
      auto vote = [&](int server, int64_t id, const std::string& label) {
        const nlohmann::json body = {{"sample_id", id}, {"annotator", annotator}, {"label", label}};
        auto result = http[server]->Post("/api/labels", body.dump(), "application/json");
        if (!result || result->status != 201)
          return fail("POST: " + (result ? std::to_string(result->status) + " " + result->body
                                         : httplib::to_string(result.error())));
        (json_of(result).at("replaced").get<bool>() ? replaced : created)++;
        const std::lock_guard<std::mutex> lock(mutex);
        acknowledged[{id, annotator}] = label;
      };
      // Each request goes to the other server than the one before; every third vote is changed
      // at once through the other server.
      int server = c % 2;
      for (int v = 0; v < kVotesPerClient; ++v) {
        auto next = http[server]->Get("/api/next?annotator=" + annotator);
        server ^= 1;
        if (!next || next->status != 200)
          return fail("GET /api/next: " +
                      (next ? std::to_string(next->status) : httplib::to_string(next.error())));
        const int64_t id = json_of(next).at("id").get<int64_t>();
        vote(server, id, v % 2 ? "sax" : "not_sax");
        server ^= 1;
        if (v % 3 == 0) {
          vote(server, id, "unsure");
          server ^= 1;
        }
      }
    });
  for (auto& client : clients) client.join();
  ASSERT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures[0];

  // Each labeller got clips it had not voted on yet, so every first vote was new.
  EXPECT_EQ(created.load(), kClients * kVotesPerClient);
  EXPECT_EQ(replaced.load(), kClients * ((kVotesPerClient + 2) / 3));
  const auto votes = store->votes();
  EXPECT_EQ(votes.size(), acknowledged.size());
  EXPECT_EQ(votes.size(), static_cast<size_t>(created.load()));
  std::set<std::pair<int64_t, std::string>> seen;
  for (const Vote& vote : votes) {
    const std::pair<int64_t, std::string> key{vote.sample_id, vote.annotator};
    EXPECT_TRUE(seen.insert(key).second) << "duplicated: " << key.first << " " << key.second;
    const auto found = acknowledged.find(key);
    ASSERT_NE(found, acknowledged.end())
        << "never acknowledged: " << key.first << " " << key.second;
    EXPECT_EQ(label_name(vote.label), found->second) << key.first << " " << key.second;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

}  // namespace
}  // namespace sax::web::testing
