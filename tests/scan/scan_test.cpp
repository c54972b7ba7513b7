// scan_sources and the store's scan results with the tone scorer (a 1 kHz tone is the
// "saxophone"), on SQLite and, when $SAXDETECT_TEST_PG names a server, on PostgreSQL: results
// against the truth, incremental rescans, changed, missing and bad files, claims left by dead
// workers, and several workers sharing the work.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "common/hash.h"
#include "detect/fake_scorer.h"
#include "scan/library.h"
#include "scan/scan.h"
#include "support/pg_schema.h"
#include "support/testing.h"

namespace sax::testing {
namespace {

namespace fs = std::filesystem;
using Sax = std::vector<std::pair<double, double>>;

// Counts every window it scores across all instances, so tests see what was scanned.
class CountingScorer : public ToneScorer {
 public:
  explicit CountingScorer(std::atomic<int>& songs) : songs_(songs) {}
  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop) override {
    ++songs_;  // 20 s songs fit in one chunk: one call per song
    return ToneScorer::score_sliding(audio, count, hop);
  }

 private:
  std::atomic<int>& songs_;
};

struct Song {
  std::string name;
  Sax sax;
};

class ScanTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      pg_ = std::make_unique<PgSchema>("scan");
      if (pg_->url().empty()) GTEST_SKIP() << "$SAXDETECT_TEST_PG is not set";
    }
    home_.root = dir_ / "home";
    home_.create();
    store_ = open_store(home_, pg_ ? pg_->url() : "");
  }

  int64_t add(const Song& song) {
    const fs::path file = dir_ / "music" / song.name;
    fs::create_directories(file.parent_path());
    write_audio(file, song_with_sax(20, song.sax), kFakeRate);
    Source source;
    source.path = file.string();
    source.hash = sha256_file(file);
    const int64_t id = store_->claim_source(source, "test").source_id;
    store_->finish_source(id, 20);
    return id;
  }

  ScanSummary scan(ScanOptions options = {}) {
    options.progress = Progress::Mode::never;
    options.worker = options.worker.empty() ? "tester:1" : options.worker;
    auto make = [this] { return std::make_unique<CountingScorer>(scored_); };
    std::vector<Source> sources;
    for (Source& s : store_->sources()) sources.push_back(std::move(s));
    return scan_sources(*store_, sources, make, "tone-1", options);
  }

  std::vector<LibraryEntry> listing(LibraryQuery query = {}) {
    query.model = "tone-1";
    return store_->library(query).entries;
  }

  TempDir dir_;
  Home home_;
  std::unique_ptr<PgSchema> pg_;
  std::unique_ptr<Store> store_;
  std::atomic<int> scored_{0};
};

const std::vector<Song> kSongs = {
    {"early.wav", {{2, 9}}}, {"clean.wav", {}}, {"late.wav", {{11, 19}}}};

TEST_P(ScanTest, StoresVerdictSegmentsAndCurveAgainstTheTruth) {
  for (const auto& song : kSongs) add(song);
  const ScanSummary summary = scan();
  EXPECT_EQ(summary.scanned, 3u);
  EXPECT_EQ(summary.with_sax, 2u);
  EXPECT_EQ(summary.failed, 0u);
  const auto entries = listing();  // by name: clean, early, late
  ASSERT_EQ(entries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const Song& truth = i == 0 ? kSongs[1] : i == 1 ? kSongs[0] : kSongs[2];
    const auto& r = entries[i].result;
    EXPECT_EQ(library::file_name(entries[i].path), truth.name);
    EXPECT_EQ(r.status, "done");
    EXPECT_EQ(r.sax, !truth.sax.empty()) << truth.name;
    EXPECT_NEAR(r.duration, 20, 0.05);
    const auto segments = library::segments_of(r);
    ASSERT_EQ(segments.size(), truth.sax.size()) << truth.name;
    for (size_t s = 0; s < segments.size(); ++s) {
      EXPECT_NEAR(segments[s][0], truth.sax[s].first, 1.5) << truth.name;
      EXPECT_NEAR(segments[s][1], truth.sax[s].second, 1.5) << truth.name;
    }
  }
  const auto full = store_->scan_result(entries[1].result.source_id, "tone-1");
  ASSERT_TRUE(full);
  const auto curve = decode_curve(full->curve);
  EXPECT_EQ(curve.size(), 19u);  // 2 s windows every second in 20 s
  EXPECT_GT(curve.at(5), 0.9f);  // inside 2-9 s
  EXPECT_LT(curve.at(15), 0.1f);
  EXPECT_EQ(full->file_hash, sha256_file(entries[1].path));
}

TEST_P(ScanTest, RescanScansNothingAndAnotherModelScansAll) {
  for (const auto& song : kSongs) add(song);
  scan();
  scored_ = 0;
  const ScanSummary again = scan();
  EXPECT_EQ(again.scanned, 0u);
  EXPECT_EQ(again.skipped, 3u);
  EXPECT_EQ(scored_, 0);
  EXPECT_EQ(listing().size(), 3u);
}

TEST_P(ScanTest, ChangedFileIsRescanned) {
  for (const auto& song : kSongs) add(song);
  scan();
  const fs::path clean = dir_ / "music" / "clean.wav";
  write_audio(clean, song_with_sax(20, {{5, 15}}), kFakeRate);
  fs::last_write_time(clean, fs::last_write_time(clean) + std::chrono::seconds(5));
  scored_ = 0;
  const ScanSummary again = scan();
  EXPECT_EQ(again.scanned, 1u);
  EXPECT_EQ(again.skipped, 2u);
  EXPECT_EQ(scored_, 1);
  LibraryQuery query;
  query.search = "clean";
  const auto entries = listing(query);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].result.sax);
  EXPECT_EQ(entries[0].result.file_hash, sha256_file(clean));
}

TEST_P(ScanTest, MissingFileKeepsItsResultsAndComesBack) {
  for (const auto& song : kSongs) add(song);
  scan();
  const fs::path early = dir_ / "music" / "early.wav", away = dir_ / "early.away";
  fs::rename(early, away);
  const ScanSummary gone = scan();
  EXPECT_EQ(gone.missing, 1u);
  LibraryQuery query;
  query.verdict = LibraryQuery::Verdict::sax;
  auto entries = listing(query);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].result.status, "missing");
  EXPECT_EQ(library::segments_of(entries[0].result).size(), 1u);  // kept
  EXPECT_EQ(store_->scan_counts("tone-1").missing, 1);
  fs::rename(away, early);
  scored_ = 0;
  scan();
  EXPECT_EQ(scored_, 0);  // same file as scanned: back to done without scoring
  EXPECT_EQ(listing(query)[0].result.status, "done");
}

TEST_P(ScanTest, BadFileIsNamedAndTheRestContinue) {
  for (const auto& song : kSongs) add(song);
  const fs::path bad = dir_ / "music" / "broken.mp3";
  write_bytes(bad, "not audio at all");
  Source source;
  source.path = bad.string();
  source.hash = "broken";
  store_->finish_source(store_->claim_source(source, "test").source_id, 0);
  std::vector<std::string> errors;
  ScanOptions options;
  options.progress = Progress::Mode::never;
  options.worker = "tester:1";
  std::vector<Source> sources = store_->sources();
  const ScanSummary summary = scan_sources(
      *store_, sources, [this] { return std::make_unique<CountingScorer>(scored_); }, "tone-1",
      options, [&](const std::string& line) { errors.push_back(line); });
  EXPECT_EQ(summary.scanned, 3u);
  EXPECT_EQ(summary.failed, 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("broken.mp3"), std::string::npos) << errors[0];
  EXPECT_EQ(listing().size(), 3u);  // errors are not listed
  EXPECT_EQ(store_->scan_counts("tone-1").errors, 1);
  EXPECT_EQ(scan().failed, 0u);  // unchanged bad file: not retried
  options.retry_errors = true;
  EXPECT_EQ(scan(options).failed, 1u);
}

TEST_P(ScanTest, ClaimOfALiveWorkerIsLeftAloneAndADeadOnesIsTakenOver) {
  const int64_t a = add(kSongs[0]);
  const int64_t b = add(kSongs[1]);
  const std::string stamp = "stale";  // a claim from before the file was scanned at all
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string alive = std::string(host) + ":" + std::to_string(getppid());
  // A pid no process has (pid_max is far below it): a worker killed with -9.
  const std::string dead = std::string(host) + ":999999999";
  ASSERT_EQ(store_->claim_scan(a, "tone-1", stamp, alive, 600).claim, ScanClaim::claimed);
  ASSERT_EQ(store_->claim_scan(b, "tone-1", stamp, dead, 600).claim, ScanClaim::claimed);
  EXPECT_TRUE(worker_is_dead(dead));
  EXPECT_FALSE(worker_is_dead(alive));
  const ScanSummary summary = scan();
  EXPECT_EQ(summary.busy, 1u);
  EXPECT_EQ(summary.scanned, 1u);
  EXPECT_EQ(listing().size(), 1u);
  EXPECT_EQ(library::file_name(listing()[0].path), kSongs[1].name);
}

TEST_P(ScanTest, ResultOfAWorkerWhoseClaimWasTakenIsRefused) {
  const int64_t a = add(kSongs[0]);
  ASSERT_EQ(store_->claim_scan(a, "tone-1", "s", "w1", 600).claim, ScanClaim::claimed);
  EXPECT_EQ(store_->claim_scan(a, "tone-1", "s", "w2", 600).claim, ScanClaim::busy);
  ASSERT_EQ(store_->claim_scan(a, "tone-1", "s", "w2", 1e-9).claim, ScanClaim::claimed);
  ScanResult result;
  result.source_id = a;
  result.model = "tone-1";
  result.status = "done";
  result.file_stamp = "s";
  EXPECT_NE(error_of([&] { store_->put_scan(result, "w1"); }).find("no longer claimed"),
            std::string::npos);
  store_->put_scan(result, "w2");
  EXPECT_EQ(store_->claim_scan(a, "tone-1", "s", "w1", 600).claim, ScanClaim::up_to_date);
}

TEST_P(ScanTest, WorkersSplitTheSongsAndScoreEachOnce) {
  for (int i = 0; i < 12; ++i)  // different audio each: sources are told apart by content
    add({"song" + std::to_string(100 + i) + ".wav", {{3, 8 + 0.5 * i}}});
  // Two "machines" (own store connections and worker names) with two threads each.
  auto other = open_store(home_, pg_ ? pg_->url() : "");
  ScanSummary first, second;
  std::thread t([&] {
    ScanOptions options;
    options.jobs = 2;
    options.worker = "machine-a:1";
    options.progress = Progress::Mode::never;
    const auto sources = other->sources();
    first = scan_sources(
        *other, sources, [this] { return std::make_unique<CountingScorer>(scored_); }, "tone-1",
        options);
  });
  ScanOptions options;
  options.jobs = 2;
  options.worker = "machine-b:1";
  second = scan(options);
  t.join();
  EXPECT_EQ(first.scanned + second.scanned, 12u);
  EXPECT_EQ(first.failed + second.failed, 0u);
  EXPECT_EQ(scored_, 12);
  EXPECT_EQ(listing().size(), 12u);
}

TEST_P(ScanTest, LibraryFiltersSortsSearchesAndPages) {
  add({"b_one.wav", {{1, 19}}});
  add({"a_two.wav", {{2, 6}}});
  add({"c%three.wav", {}});
  scan();
  LibraryQuery query;
  query.sort = LibraryQuery::Sort::share;
  query.descending = true;
  auto entries = listing(query);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(library::file_name(entries[0].path), "b_one.wav");
  EXPECT_EQ(library::file_name(entries[2].path), "c%three.wav");
  query = {};
  query.verdict = LibraryQuery::Verdict::no_sax;
  ASSERT_EQ(listing(query).size(), 1u);
  query = {};
  query.min_share = 0.5;
  ASSERT_EQ(listing(query).size(), 1u);
  query = {};
  query.search = "%";  // wildcards are literal
  ASSERT_EQ(listing(query).size(), 1u);
  query.search = "_";
  EXPECT_EQ(listing(query).size(), 2u);
  query.search = "A_TWO";  // case-insensitive
  EXPECT_EQ(listing(query).size(), 1u);
  query = {};
  query.model = "tone-1";
  query.limit = 2;
  query.offset = 2;
  const LibraryPage page = store_->library(query);
  EXPECT_EQ(page.total, 3);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(library::file_name(page.entries[0].path), "c%three.wav");
  const ScanCounts counts = store_->scan_counts("tone-1");
  EXPECT_EQ(counts.scanned, 3);
  EXPECT_EQ(counts.sax, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, ScanTest, ::testing::Values("sqlite", "postgresql"));

TEST(Base64, RoundTripsAndRefusesGarbage) {
  for (size_t n = 0; n < 7; ++n) {
    std::vector<unsigned char> bytes;
    for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<unsigned char>(i * 97 + 3));
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << n;
  }
  EXPECT_EQ(base64_encode({'M', 'a'}), "TWE=");
  EXPECT_NE(error_of([] { base64_decode("TW=E"); }), "(no error)");
  EXPECT_NE(error_of([] { base64_decode("abc"); }), "(no error)");
}

TEST(M3u, NamesAndPathsCannotBreakThePlaylist) {
  LibraryEntry entry;
  entry.path = "/music/odd\n#EXTINF:1,evil.mp3";
  entry.title = "Title\r\n#EXTVLCOPT:start-time=999";
  entry.result.duration = 100;
  entry.result.segments = "[[10.5, 20.25, 0.9]]";
  const std::string songs = library::m3u({entry}, false);
  EXPECT_EQ(songs,
            "#EXTM3U\n#EXTINF:100,Title  #EXTVLCOPT:start-time=999\n"
            "file:///music/odd%0A%23EXTINF%3A1%2Cevil.mp3\n");
  const std::string passages = library::m3u({entry}, true);
  EXPECT_NE(passages.find("#EXTVLCOPT:start-time=10.500\n#EXTVLCOPT:stop-time=20.250\n"),
            std::string::npos)
      << passages;
  entry.path = "/music/plain song.mp3";
  EXPECT_NE(library::m3u({entry}, false).find("\n/music/plain song.mp3\n"), std::string::npos);
}

TEST(Csv, QuotesNamesWithCommasAndQuotes) {
  LibraryEntry entry;
  entry.path = "/m/a,b.mp3";
  entry.title = "say \"hi\"";
  entry.result.segments = "[[1, 2, 0.5]]";
  EXPECT_EQ(library::to_csv(entry),
            "\"/m/a,b.mp3\",\"say \"\"hi\"\"\",,0,0.0000,0.0000,0.00,1.00-2.00\n");
}

}  // namespace
}  // namespace sax::testing
