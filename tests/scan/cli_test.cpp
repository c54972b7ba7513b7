// `saxdetect scan` and `saxdetect library` end to end: a small synthetic library, labelled from
// its truth and used to train a small CNN, is scanned; the listing is checked against the
// truth, then rescans (nothing; a changed file), a scan killed with SIGKILL and rerun, bad
// files, playlists, and two scan processes sharing one PostgreSQL store.
// The tests of this suite run in order on one data home.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "scan/scan.h"
#include "support/pg_schema.h"
#include "support/testing.h"

namespace sax::testing {
namespace {

namespace fs = std::filesystem;

// Small and fast, still enough for a model that finds the sax in the songs it was trained on.
const char* const kTrainConfig = R"({
  "kind": "cnn",
  "features": {"n_mels": 64, "frames": 54},
  "net": {"depth": 3, "channels": 8, "hidden": 32, "dropout": 0.1},
  "augment": false,
  "epochs": 20, "batch_size": 8, "lr": 3e-3, "patience": 20, "seed": 1, "threads": 2,
  "validation_fraction": 0.15, "test_fraction": 0.1})";

// stdout only in *out; stderr (progress, errors) in *err when given.
int run(const std::string& args, std::string* out, std::string* err = nullptr) {
  static std::atomic<int> count{0};
  const std::string err_file = "/tmp/saxdetect-scan-test-" + std::to_string(getpid()) + "-" +
                               std::to_string(++count) + ".err";
  const int status =
      run_shell("(" + std::string(SAXDETECT_BIN) + " " + args + " 2>" + err_file + ")", out);
  if (err) {
    std::ifstream in(err_file);
    err->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  fs::remove(err_file);
  return status;
}

size_t scanned_count(const std::string& summary) {
  std::smatch match;
  if (!std::regex_search(summary, match, std::regex("scanned (\\d+) of (\\d+)"))) return 999;
  return std::stoul(match[1]);
}

class ScanCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const std::string h = home();
    std::string out;
    ASSERT_EQ(run("--home " + h + " -q synth --out " + library() +
                      " --songs 16 --seconds 20 --seed 3 --format wav",
                  &out),
              0);
    ASSERT_EQ(run("--home " + h + " -q ingest " + library(), &out), 0);
    ASSERT_EQ(
        run("--home " + h + " -q labels import --from-truth " + library() + "/truth.json", &out),
        0);
    std::ofstream(*dir_ / "train.json") << kTrainConfig;
    ASSERT_EQ(run("--home " + h + " -q train --config " + (*dir_ / "train.json").string() +
                      " --out small",
                  &out),
              0);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string home() { return (*dir_ / "home").string(); }
  static std::string library() { return (*dir_ / "library").string(); }
  static nlohmann::json truth() {
    std::ifstream in(*dir_ / "library" / "truth.json");
    return nlohmann::json::parse(in).at("songs");
  }
  static nlohmann::json listing(const std::string& extra = "") {
    std::string out;
    EXPECT_EQ(run("--home " + home() + " library --json " + extra, &out), 0);
    return nlohmann::json::parse(out);
  }
  static TempDir* dir_;
};
TempDir* ScanCli::dir_ = nullptr;

TEST_F(ScanCli, ScanThenLibraryJsonAgreesWithTheTruth) {
  std::string summary, err;
  ASSERT_EQ(run("--home " + home() + " scan --jobs 2", &summary, &err), 0) << err;
  EXPECT_EQ(scanned_count(summary), 16u) << summary;
  const auto songs = listing();
  ASSERT_EQ(songs.size(), 16u);
  size_t agree = 0;
  for (const auto& song : truth()) {
    const std::string name = fs::path(song.at("file").get<std::string>()).filename();
    const auto found = std::find_if(songs.begin(), songs.end(),
                                    [&](const auto& s) { return s.at("name") == name; });
    ASSERT_NE(found, songs.end()) << name;
    EXPECT_NEAR(found->at("duration").get<double>(), song.at("duration").get<double>(), 0.1);
    EXPECT_EQ(found->at("status"), "done");
    agree += found->at("sax").get<bool>() == !song.at("sax").empty();
  }
  // Songs the model was trained on: most verdicts right (a random model gets about 8; this
  // small model gets 12).
  EXPECT_GE(agree, 11u);
  // What `predict` says of each file with the same model (its JSON rounds shares to 0.001).
  std::string out;
  ASSERT_EQ(run("--home " + home() + " predict --json " + library(), &out), 0);
  for (const auto& predicted : nlohmann::json::parse(out)) {
    const std::string name = fs::path(predicted.at("file").get<std::string>()).filename();
    const auto found = std::find_if(songs.begin(), songs.end(),
                                    [&](const auto& s) { return s.at("name") == name; });
    ASSERT_NE(found, songs.end()) << name;
    EXPECT_EQ(found->at("sax"), predicted.at("sax")) << name;
    EXPECT_NEAR(found->at("share").get<double>(), predicted.at("sax_share").get<double>(), 1e-3)
        << name;
    EXPECT_EQ(found->at("segments").size(), predicted.at("segments").size()) << name;
  }
  for (const auto& song : listing("--sax")) EXPECT_TRUE(song.at("sax").get<bool>());
  const auto by_share = listing("--sort share");
  for (size_t i = 1; i < by_share.size(); ++i)
    EXPECT_GE(by_share[i - 1].at("share").get<double>(), by_share[i].at("share").get<double>());
}

TEST_F(ScanCli, RescanScansNothing) {
  std::string out;
  ASSERT_EQ(run("--home " + home() + " scan", &out), 0);  // nothing left to scan after this
  ASSERT_EQ(run("--home " + home() + " scan", &out), 0);
  EXPECT_EQ(scanned_count(out), 0u) << out;
  EXPECT_NE(out.find("16 up to date"), std::string::npos) << out;
}

TEST_F(ScanCli, ChangedFileIsRescanned) {
  std::string out;
  ASSERT_EQ(run("--home " + home() + " scan", &out), 0);
  const auto songs = truth();
  const fs::path target = *dir_ / "library" / songs[0].at("file").get<std::string>();
  const fs::path other = *dir_ / "library" / songs[1].at("file").get<std::string>();
  fs::copy_file(other, target, fs::copy_options::overwrite_existing);
  fs::last_write_time(target, fs::last_write_time(target) + std::chrono::seconds(5));
  ASSERT_EQ(run("--home " + home() + " scan", &out), 0);
  EXPECT_EQ(scanned_count(out), 1u) << out;
}

TEST_F(ScanCli, KilledScanRerunGivesOneWholeResultPerSong) {
  // A copy of the model is another model id: a full scan to interrupt.
  const fs::path copy = *dir_ / "copy";
  fs::copy(fs::path(home()) / "models" / "small", copy);
  std::ofstream(copy / "model.json", std::ios::app) << "\n";
  const std::string model = scan_model_id(Home{}, copy.string());
  const pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
    execl(SAXDETECT_BIN, SAXDETECT_BIN, "--home", home().c_str(), "scan", "--jobs", "1", "--model",
          copy.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  Home h{home()};
  auto store = open_store(h);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int64_t before = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    before = store->scan_counts(model).scanned;
    if (before > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  before = store->scan_counts(model).scanned;
  std::string out;
  ASSERT_EQ(run("--home " + home() + " scan --model " + copy.string(), &out), 0);
  EXPECT_EQ(static_cast<int64_t>(scanned_count(out)), 16 - before) << out << " after " << before;
  const auto states = store->scan_states(model);
  ASSERT_EQ(states.size(), 16u);
  for (const auto& [id, state] : states) EXPECT_EQ(state.first, "done") << id;
  LibraryQuery query;
  query.model = model;
  for (const auto& entry : store->library(query).entries) {
    EXPECT_GT(entry.result.duration, 19.9);
    EXPECT_FALSE(store->scan_result(entry.result.source_id, model)->curve.empty());
  }
}

TEST_F(ScanCli, BadFilesAreNamedAndTheRestScanned) {
  const fs::path folder = *dir_ / "more";
  fs::create_directories(folder);
  write_bytes(folder / "broken.mp3", "not audio at all");
  const auto songs = truth();
  fs::copy_file(*dir_ / "library" / songs[2].at("file").get<std::string>(), folder / "good.wav");
  std::string out, err;
  EXPECT_EQ(run("--home " + home() + " scan " + folder.string(), &out, &err), 1);
  EXPECT_NE(err.find("broken.mp3"), std::string::npos) << err;
  EXPECT_NE(out.find("1 failed"), std::string::npos) << out;
  EXPECT_NE(out.find("of 1 songs"), std::string::npos) << out;  // good.wav, known by content
}

TEST_F(ScanCli, PlaylistsOfSongsAndPassages) {
  std::string out;
  ASSERT_EQ(run("--home " + home() + " scan", &out), 0);
  ASSERT_EQ(run("--home " + home() + " library --sax --m3u", &out), 0);
  EXPECT_EQ(out.rfind("#EXTM3U\n", 0), 0u);
  const size_t sax_songs = listing("--sax").size();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), static_cast<long>(1 + 2 * sax_songs));
  ASSERT_EQ(run("--home " + home() + " library --sax --m3u --passages", &out), 0);
  EXPECT_NE(out.find("#EXTVLCOPT:start-time="), std::string::npos) << out;
  EXPECT_NE(out.find("#EXTVLCOPT:stop-time="), std::string::npos) << out;
  ASSERT_EQ(run("--home " + home() + " library --csv --no-sax", &out), 0);
  EXPECT_EQ(out.rfind("path,name,status,sax,", 0), 0u);
  std::string err;
  EXPECT_NE(run("--home " + home() + " library --passages", &out, &err), 0);
  EXPECT_NE(err.find("--passages goes with --m3u"), std::string::npos) << err;
}

TEST_F(ScanCli, TwoProcessesOnPostgresqlScanEachSongOnce) {
  PgSchema pg("scancli");
  if (pg.url().empty()) GTEST_SKIP() << "$SAXDETECT_TEST_PG is not set";
  const std::string pg_home = (*dir_ / "pg-home").string();
  fs::create_directories(fs::path(pg_home) / "models");
  fs::copy(fs::path(home()) / "models" / "small", fs::path(pg_home) / "models" / "small");
  std::ofstream(fs::path(pg_home) / "models" / "current") << "small\n";
  const std::string db = " --db '" + pg.url() + "' --home " + pg_home;
  std::string out;
  ASSERT_EQ(run(db + " -q ingest " + library(), &out), 0);
  std::string a, b;
  std::thread first([&] { run(db + " scan --jobs 1", &a); });
  run(db + " scan --jobs 1", &b);
  first.join();
  ASSERT_EQ(run(db + " library --json", &out), 0);
  const size_t songs = nlohmann::json::parse(out).size();
  EXPECT_GE(songs, 15u);  // 16 files, two of them alike since ChangedFileIsRescanned
  EXPECT_EQ(scanned_count(a) + scanned_count(b), songs) << a << b;
  EXPECT_GT(scanned_count(a), 0u) << a;  // both worked
  EXPECT_GT(scanned_count(b), 0u) << b;
}

}  // namespace
}  // namespace sax::testing
