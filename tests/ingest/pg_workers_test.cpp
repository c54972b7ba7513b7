// Three `saxdetect ingest` processes on one PostgreSQL store and one library at once, one of them
// killed with SIGKILL while it holds a claim; a later run takes its file over. Every file must end
// up ingested exactly once. Skipped unless $SAXDETECT_TEST_PG names a server.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include <pqxx/pqxx>

#include "ingest_support.h"
#include "support/pg_schema.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Worker of every source still being ingested, by source id.
std::map<int64_t, std::string> claims(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  std::map<int64_t, std::string> found;
  for (const auto& row : tx.exec("SELECT id, worker FROM sources WHERE state = 'ingesting'"))
    found[row[0].as<int64_t>()] = row[1].as<std::string>();
  return found;
}

int64_t samples_of(const std::string& url, int64_t source_id) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  return tx.exec("SELECT count(*) FROM samples WHERE source_id = " + std::to_string(source_id))
      .at(0)
      .at(0)
      .as<int64_t>();
}

// Child processes killed and reaped however the test ends.
class Children {
 public:
  ~Children() {
    for (const pid_t pid : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  pid_t spawn(const std::vector<std::string>& args) {
    const pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv{const_cast<char*>(SAXDETECT_BIN)};
      for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      if (!freopen("/dev/null", "w", stdout)) _exit(126);
      execv(SAXDETECT_BIN, argv.data());
      _exit(127);
    }
    if (pid > 0) pids_.push_back(pid);
    return pid;
  }
  // Waits for the child; returns its wait status, or -1 if it was still running at the deadline.
  int wait(pid_t pid, std::chrono::steady_clock::time_point deadline) {
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pids_.erase(std::find(pids_.begin(), pids_.end(), pid));
    return status;
  }

 private:
  std::vector<pid_t> pids_;
};

TEST(PgIngestWorkers, ThreeProcessesAndAKilledOneIngestEveryFileExactlyOnce) {
  testing::PgSchema schema("saxingest");
  if (schema.url().empty()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
  TempDir dir;
  const Home home{dir / "home"};
  const fs::path library = dir / "library";
  constexpr int kFiles = 12, kClipsPerFile = 6;
  for (int i = 0; i < kFiles; ++i)
    write_tone_file(library / ("song" + std::to_string(i) + ".wav"), 30.5, 22050, 1,
                    200.0 + 40 * i);
  open_store(home, schema.url());  // create the tables before the workers race

  const std::vector<std::string> args = {
      "--db", schema.url(), "--home", home.root.string(), "--quiet", "ingest", library.string()};
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const auto start = std::chrono::steady_clock::now();
  Children children;
  std::map<std::string, pid_t> workers;  // "<host>:<pid>" -> pid
  for (int i = 0; i < 3; ++i) {
    const pid_t pid = children.spawn(args);
    ASSERT_GT(pid, 0);
    workers[std::string(host) + ":" + std::to_string(pid)] = pid;
  }

  // Kill a worker while it holds a claim on a source with at least one sample stored.
  pid_t victim = 0;
  int64_t victim_source = 0;
  while (!victim && std::chrono::steady_clock::now() - start < std::chrono::seconds(15)) {
    for (const auto& [source_id, worker] : claims(schema.url())) {
      const auto found = workers.find(worker);
      if (found == workers.end() || samples_of(schema.url(), source_id) < 1) continue;
      victim = found->second;
      victim_source = source_id;
      break;
    }
    if (!victim) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_NE(victim, 0) << "no worker was seen holding a claim with samples stored";
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  const auto deadline = start + std::chrono::seconds(25);
  const int killed = children.wait(victim, deadline);
  ASSERT_TRUE(killed != -1 && WIFSIGNALED(killed)) << "the victim finished before it was killed";
  for (const auto& [worker, pid] : workers) {
    if (pid == victim) continue;
    const int status = children.wait(pid, deadline);
    ASSERT_NE(status, -1) << worker << " still running";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << worker << ": " << status;
  }

  // The dead worker's flock went with it, so a survivor still behind it in the library takes
  // its file over; whatever is left claimed, one more run completes.
  const auto left_claimed = claims(schema.url());
  RecordProperty("left_claimed", static_cast<int>(left_claimed.size()));
  for (const auto& [source_id, worker] : left_claimed)
    EXPECT_EQ(workers.at(worker), victim) << "a live worker left source " << source_id;
  std::string out;
  ASSERT_EQ(testing::run_saxdetect("--db '" + schema.url() + "' --home " + home.root.string() +
                                       " --quiet ingest " + library.string(),
                                   &out),
            0)
      << out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));

  auto store = open_store(home, schema.url());
  EXPECT_TRUE(claims(schema.url()).empty());
  const auto sources = store->sources();
  EXPECT_EQ(sources.size(), size_t{kFiles});
  std::set<std::string> paths;
  for (const Source& source : sources) {
    paths.insert(source.path);
    EXPECT_EQ(source.state, "done") << source.path;
    const auto samples = store->samples_of(source.id);
    EXPECT_EQ(samples.size(), size_t{kClipsPerFile}) << source.path;
    std::set<double> starts;
    for (const Sample& sample : samples) starts.insert(sample.start);
    EXPECT_EQ(starts.size(), samples.size()) << source.path << ": a start twice";
  }
  EXPECT_EQ(paths.size(), size_t{kFiles});
  ASSERT_TRUE(store->source(victim_source));
  EXPECT_EQ(store->source(victim_source)->state, "done");
  EXPECT_EQ(store->samples().size(), size_t{kFiles * kClipsPerFile});
  EXPECT_EQ(stray_files(home, *store), std::vector<std::string>{});
}

}  // namespace
}  // namespace sax
