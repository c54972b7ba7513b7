// Several ingest workers sharing one store, each with a Store object of its own (as separate
// processes would have), one of which dies with claims held.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "backend.h"
#include "common/error.h"

namespace sax {
namespace {

using testing::TestDatabase;

constexpr int kSources = 24;
constexpr int kSamplesPerSource = 3;
constexpr double kLeaseSeconds = 1.0;

Source source_number(int i) {
  Source source;
  source.path = "/library/song" + std::to_string(i) + ".mp3";
  source.hash = "content-" + std::to_string(i);
  return source;
}

void add_samples(Store& store, int64_t source_id, int count) {
  for (int i = 0; i < count; ++i) {
    Sample sample;
    sample.source_id = source_id;
    sample.start = i * 5.0;
    sample.duration = 5;
    sample.path = "samples/" + std::to_string(source_id) + "-" + std::to_string(i) + ".flac";
    store.add_sample(sample);
  }
}

class WorkersTest : public ::testing::TestWithParam<std::string> {};

TEST_P(WorkersTest, EverySourceIsFinishedExactlyOnceWhenAWorkerDies) {
  TestDatabase db(GetParam());
  if (!db.available()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
  db.open();  // create the schema before the workers race

  // The doomed worker claims a few sources, writes part of them, and dies (its store closes).
  constexpr int kAbandoned = 3;
  {
    auto doomed = db.open();
    for (int i = 0; i < kAbandoned; ++i) {
      auto claim = doomed->claim_source(source_number(i), "doomed", kLeaseSeconds);
      ASSERT_EQ(claim.claim, Claim::fresh);
      add_samples(*doomed, claim.source_id, 1);
    }
  }

  std::mutex mutex;
  std::map<int64_t, int> finished;  // source id -> finish calls
  std::atomic<int> resumed{0}, failures{0};
  auto work = [&](const std::string& name) {
    try {
      auto store = db.open();
      for (bool all_done = false; !all_done;) {
        all_done = true;
        for (int i = 0; i < kSources; ++i) {
          auto claim = store->claim_source(source_number(i), name, kLeaseSeconds);
          if (claim.claim == Claim::already_done) continue;
          all_done = false;
          if (claim.claim == Claim::busy) continue;
          if (claim.claim == Claim::resumed) ++resumed;
          add_samples(*store, claim.source_id, kSamplesPerSource);
          store->renew_claim(claim.source_id, name);  // throws if it was taken over
          store->finish_source(claim.source_id, 15);
          std::lock_guard lock(mutex);
          ++finished[claim.source_id];
        }
        if (!all_done) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": " << e.what();
      ++failures;
    }
  };
  std::vector<std::thread> workers;
  for (const char* name : {"w1", "w2", "w3"}) workers.emplace_back(work, name);
  for (auto& worker : workers) worker.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(resumed.load(), kAbandoned);  // the dead worker's sources were taken over
  auto store = db.open();
  auto sources = store->sources();
  ASSERT_EQ(sources.size(), static_cast<size_t>(kSources));
  for (const Source& source : sources) {
    EXPECT_EQ(source.state, "done") << source.path;
    EXPECT_EQ(source.samples, kSamplesPerSource) << source.path;
    EXPECT_EQ(finished[source.id], 1) << source.path;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkersTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sax
