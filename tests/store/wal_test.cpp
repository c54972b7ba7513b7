// The SQLite write-ahead log under sustained voting with readers that never pause: it once
// grew by ~20 KB a vote (1.1 GB after 55,000 votes) and shrank only at a clean shutdown.
#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "common/home.h"
#include "store/store.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;

uintmax_t size_or_zero(const fs::path& file) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(file, ec);
  return ec ? 0 : size;
}

TEST(SqliteWal, StaysBoundedUnderSustainedVotingWithBusyReaders) {
  testing::TempDir dir;
  Home home{dir / "home"};
  home.create();
  auto store = open_store(home);
  Source source;
  source.path = "/music/song.flac";
  source.hash = "h";
  const int64_t source_id = store->claim_source(source, "test").source_id;
  std::vector<int64_t> samples;
  for (int i = 0; i < 200; ++i) {
    Sample sample;
    sample.source_id = source_id;
    sample.start = 5.0 * i;
    sample.duration = 5;
    sample.path = "samples/" + std::to_string(i) + ".flac";
    samples.push_back(store->add_sample(sample));
  }
  store->finish_source(source_id, 1000);

  // Readers overlapping without a gap, as 32 labellers' page loads do.
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&, r] {
      NextQuery query;
      query.annotator = "reader" + std::to_string(r);
      while (!done) store->next_sample(query);
    });
  const fs::path wal = home.root / (home.database().filename().string() + "-wal");
  uintmax_t largest = 0;
  const Label labels[] = {Label::sax, Label::not_sax, Label::unsure};
  for (int vote = 0; vote < 20000; ++vote) {
    store->add_vote(samples[vote % samples.size()], "annotator" + std::to_string(vote % 97),
                    labels[vote % 3]);
    if (vote % 250 == 0) largest = std::max(largest, size_or_zero(wal));
  }
  done = true;
  for (auto& reader : readers) reader.join();
  largest = std::max(largest, size_or_zero(wal));
  RecordProperty("largest_wal_bytes", std::to_string(largest));
  EXPECT_GT(fs::file_size(home.database()), 0u);
  EXPECT_LT(largest, 48u << 20) << "bytes in " << wal;
  // 200 samples and 97 names (coprime) pair up 19,400 ways; the 600 votes past that replace.
  EXPECT_EQ(store->votes().size(), 19400u);
}

}  // namespace
}  // namespace sax
