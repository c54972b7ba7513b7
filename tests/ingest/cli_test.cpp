// `saxdetect ingest` and `saxdetect status` as a user runs them, including a real kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "ingest_support.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::run_saxdetect;
using testing::TempDir;

// Clips renamed into place so far (committed or about to be).
size_t visible_clips(const fs::path& samples) {
  size_t count = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(samples, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->path().extension() == ".flac" && name.rfind(".tmp-", 0) != 0) ++count;
  }
  return count;
}

pid_t spawn_saxdetect(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(SAXDETECT_BIN)};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    execv(SAXDETECT_BIN, argv.data());
    _exit(127);
  }
  return pid;
}

TEST(IngestCommand, KilledMidRunThenRerunCompletesWithoutDuplicatesOrOrphans) {
  TempDir dir;
  const Home home{dir / "home"};
  constexpr int kFiles = 6, kClipsPerFile = 12;
  for (int i = 0; i < kFiles; ++i)
    write_tone_file(dir / "library" / ("song" + std::to_string(i) + ".wav"), 60.5, 22050, 2,
                    200.0 + 40 * i);

  const pid_t child = spawn_saxdetect(
      {"--home", home.root.string(), "--quiet", "ingest", (dir / "library").string()});
  ASSERT_GT(child, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (visible_clips(home.samples()) < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the ingest finished before it could be killed";
  {
    auto store = open_store(home);
    ASSERT_LT(store->samples().size(), size_t{kFiles * kClipsPerFile});
  }

  std::string out;
  ASSERT_EQ(run_saxdetect("--home " + home.root.string() + " --quiet ingest --jobs 2 " +
                              (dir / "library").string(),
                          &out),
            0)
      << out;
  auto store = open_store(home);
  EXPECT_EQ(store->sources().size(), size_t{kFiles});
  for (const Source& source : store->sources()) {
    EXPECT_EQ(source.state, "done") << source.path;
    std::set<double> starts;
    for (const Sample& sample : store->samples_of(source.id)) starts.insert(sample.start);
    EXPECT_EQ(store->samples_of(source.id).size(), size_t{kClipsPerFile}) << source.path;
    EXPECT_EQ(starts.size(), size_t{kClipsPerFile}) << source.path;
  }
  EXPECT_EQ(stray_files(home, *store), std::vector<std::string>{});
}

TEST(IngestCommand, ExitStatusAndOneLineErrors) {
  TempDir dir;
  const std::string home = "--home " + (dir / "home").string() + " ";
  write_bytes(dir / "bad/empty.flac", "");
  write_bytes(dir / "bad/text.mp3", std::string(3000, 'z'));
  std::string out;
  EXPECT_NE(run_saxdetect(home + "ingest " + (dir / "bad").string(), &out), 0) << out;
  EXPECT_NE(out.find("error: " + (dir / "bad/empty.flac").string() + ": empty file (0 bytes)\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("error: " + (dir / "bad/text.mp3").string() + ": "), std::string::npos);
  EXPECT_NE(out.find("2 failed"), std::string::npos) << out;

  // Exit status: 1 nothing done, 2 partly done, 0 all done (the failures once gave 0).
  EXPECT_EQ(run_saxdetect(home + "ingest " + (dir / "bad").string(), &out), 1) << out;
  write_tone_file(dir / "bad/fine.wav", 5.0, 22050, 1);
  EXPECT_EQ(run_saxdetect(home + "ingest " + (dir / "bad").string(), &out), 2) << out;
  EXPECT_NE(out.find("ingested 1 of 3 files"), std::string::npos) << out;
  EXPECT_EQ(run_saxdetect(home + "ingest " + (dir / "bad/fine.wav").string(), &out), 0) << out;
  write_tone_file(dir / "short/moment.wav", 0.05, 22050, 1);
  write_tone_file(dir / "short/fine.wav", 5.0, 22050, 1, 300);
  EXPECT_EQ(run_saxdetect(home + "ingest " + (dir / "short").string(), &out), 2) << out;
  EXPECT_NE(out.find((dir / "short/moment.wav").string() + ": gave no sample"), std::string::npos)
      << out;
  EXPECT_EQ(run_saxdetect(home + "ingest --help", &out), 0);
  EXPECT_NE(out.find("Exit status: 0 when every input was done, 1 when none was, 2 when only"),
            std::string::npos)
      << out;

  EXPECT_NE(run_saxdetect(home + "ingest " + (dir / "nothing-here").string(), &out), 0);
  EXPECT_NE(run_saxdetect(home + "ingest --length 0 " + (dir / "bad").string(), &out), 0);
}

TEST(IngestCommand, AReadOnlyHomeSaysSo) {
  // It once said "unable to open database file (in: PRAGMA journal_mode = WAL)".
  TempDir dir;
  const fs::path home = dir / "home";
  write_tone_file(dir / "song.wav", 5.0, 22050, 1);
  std::string out;
  ASSERT_EQ(
      run_saxdetect("--home " + home.string() + " ingest " + (dir / "song.wav").string(), &out), 0)
      << out;
  // A read-only bind mount in a mount namespace of its own (root ignores file modes).
  const std::string mount = "mount --bind " + home.string() + " " + home.string() +
                            " && mount -o remount,bind,ro " + home.string();
  if (testing::run_shell("unshare -m sh -c '" + mount + "'") != 0)
    GTEST_SKIP() << "cannot make a read-only mount here";
  const int status = testing::run_shell("unshare -m sh -c '" + mount + " && " + SAXDETECT_BIN +
                                            " --home " + home.string() + " status'",
                                        &out);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("is read-only"), std::string::npos) << out;
  EXPECT_NE(out.find(home.string()), std::string::npos) << out;
}

TEST(StatusCommand, JsonCountsSourcesSamplesAndVotes) {
  TempDir dir;
  const Home home{dir / "home"};
  write_tone_file(dir / "library/a.flac", 10.0, 22050, 1);
  write_tone_file(dir / "library/b.ogg", 15.5, 44100, 2);
  std::string out;
  ASSERT_EQ(
      run_saxdetect("--home " + home.root.string() + " ingest " + (dir / "library").string(), &out),
      0)
      << out;
  {
    auto store = open_store(home);
    const auto samples = store->samples();
    ASSERT_EQ(samples.size(), 5u);
    store->add_vote(samples[0].id, "ana", Label::sax);
    store->add_vote(samples[0].id, "ben", Label::sax);
    store->add_vote(samples[1].id, "ana", Label::not_sax);
    store->add_vote(samples[2].id, "ben", Label::unsure);
  }
  ASSERT_EQ(run_saxdetect("--home " + home.root.string() + " status --json", &out), 0) << out;
  const auto json = nlohmann::json::parse(out);
  EXPECT_EQ(json["sources"], 2);
  EXPECT_EQ(json["samples"], 5);
  EXPECT_EQ(json["labeled"], 3);
  EXPECT_EQ(json["unlabeled"], 2);
  EXPECT_EQ(json["votes"], 4);
  EXPECT_EQ(json["labels"]["sax"], 2);
  EXPECT_EQ(json["labels"]["not_sax"], 1);
  EXPECT_EQ(json["labels"]["unsure"], 1);
  EXPECT_NEAR(json["audio_seconds"].get<double>(), 25.5, 0.01);  // whole sources

  ASSERT_EQ(run_saxdetect("--home " + home.root.string() + " status", &out), 0) << out;
  EXPECT_NE(out.find("Sources     2"), std::string::npos) << out;
  EXPECT_NE(out.find("Votes       4: not_sax 1, sax 2, unsure 1"), std::string::npos) << out;

  EXPECT_NE(run_saxdetect("--home " + (dir / "empty-home").string() + " status", &out), 0);
  EXPECT_NE(out.find("no store here yet"), std::string::npos) << out;
}

}  // namespace
}  // namespace sax
