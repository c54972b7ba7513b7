// Copying a store into another database (saxdetect migrate), into each back end.
#include <gtest/gtest.h>

#include "backend.h"
#include "common/error.h"
#include "store/copy.h"
#include "store/sql_store.h"

namespace sax {
namespace {

using testing::TestDatabase;

// A small store with every kind of row, including replaced and undone votes.
void fill(Store& store) {
  for (int s = 0; s < 3; ++s) {
    Source source;
    source.path = "/library/" + std::to_string(s) + ".flac";
    source.hash = "h" + std::to_string(s);
    source.title = "Title with 'quotes' and ünïcode";
    const int64_t source_id = store.claim_source(source, "w").source_id;
    for (int i = 0; i < 4; ++i) {
      Sample sample;
      sample.source_id = source_id;
      sample.start = i * 5.0 + 0.1;
      sample.duration = 5;
      sample.rms = 0.1 / (i + 1);  // not exactly representable: must survive as text
      sample.silent = i == 3;
      sample.path = "samples/" + std::to_string(source_id) + "/" + std::to_string(i) + ".flac";
      const int64_t id = store.add_sample(sample);
      store.add_vote(id, "ana", Label::sax);
      if (i % 2) store.add_vote(id, "bob", Label::not_sax);
      store.put_predictions("cnn", {{id, 0.3 + 0.1 * i}});
    }
    if (s < 2) store.finish_source(source_id, 20.5);
    if (s == 0) store.set_sax_times(source_id, {{0.1, 1.0 / 3}});  // must survive exactly
  }
  store.add_vote(1, "ana", Label::unsure);  // replaced
  store.undo_last_vote("bob");
  // A source dropped with a vote on it leaves a retired vote.
  Source dropped;
  dropped.path = "/library/dropped.flac";
  dropped.hash = "dropped";
  Sample sample;
  sample.source_id = store.claim_source(dropped, "w").source_id;
  sample.path = "samples/dropped/0.flac";
  store.add_vote(store.add_sample(sample), "dora", Label::unsure);
  store.drop_source(sample.source_id);
  store.claim_sample_format({16000, 4});
}

class CopyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CopyTest, CopiesEverythingAndTheCopyKeepsWorking) {
  TestDatabase source_db("sqlite"), target_db(GetParam());
  if (!target_db.available()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
  fill(*source_db.open());
  auto from = open_database(Home{source_db.dir().path()}, source_db.url());
  auto to = open_database(Home{target_db.dir().path()}, target_db.url());

  const auto digests = copy_store(*from, *to, Progress::Mode::never);
  ASSERT_EQ(digests.size(), 8u);
  EXPECT_EQ(digests[0].table, "sources");
  EXPECT_EQ(digests[5].table, "scans");
  EXPECT_EQ(digests[6].table, "retired_votes");
  EXPECT_EQ(digests[6].rows, 1);
  EXPECT_EQ(digests[7].table, "sample_format");
  EXPECT_EQ(digests[0].rows, 3);
  EXPECT_EQ(digests[1].rows, 12);
  EXPECT_EQ(digests[3].rows, 12 + 6 - 1);
  EXPECT_EQ(digest_store(*to)[3].checksum, digests[3].checksum);

  auto original = source_db.open();
  auto copy = target_db.open();
  EXPECT_EQ(copy->votes().size(), original->votes().size());
  ASSERT_EQ(copy->retired_votes().size(), 1u);
  EXPECT_EQ(copy->sample_format(), (SampleFormat{16000, 4}));
  EXPECT_EQ(copy->retired_votes()[0].annotator, "dora");
  const auto a = original->status(), b = copy->status();
  EXPECT_EQ(a.reconciled, b.reconciled);
  EXPECT_EQ(a.by_vote_count, b.by_vote_count);
  EXPECT_DOUBLE_EQ(a.kappa, b.kappa);
  EXPECT_EQ(copy->sample(5)->rms, original->sample(5)->rms);
  EXPECT_EQ(copy->source_by_hash("h0")->title, "Title with 'quotes' and ünïcode");
  EXPECT_EQ(copy->sax_times(), original->sax_times());
  EXPECT_EQ(copy->sax_times().size(), 1u);
  EXPECT_EQ(copy->undo_last_vote("ana")->sample_id, original->undo_last_vote("ana")->sample_id);

  // New rows get fresh ids after the copied ones.
  Source fresh;
  fresh.path = "/library/new.flac";
  fresh.hash = "new";
  EXPECT_EQ(copy->claim_source(fresh, "w").source_id, 4);
  EXPECT_FALSE(copy->add_vote(12, "carl", Label::sax));
}

TEST_P(CopyTest, RefusesATargetThatHoldsData) {
  TestDatabase source_db("sqlite"), target_db(GetParam());
  if (!target_db.available()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
  fill(*source_db.open());
  fill(*target_db.open());
  auto from = open_database(Home{source_db.dir().path()}, source_db.url());
  auto to = open_database(Home{target_db.dir().path()}, target_db.url());
  const auto before = digest_store(*to);
  try {
    copy_store(*from, *to, Progress::Mode::never);
    FAIL() << "copied into a store with data";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sources"), std::string::npos) << e.what();
  }
  const auto after = digest_store(*to);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i].checksum, after[i].checksum);
}

INSTANTIATE_TEST_SUITE_P(Targets, CopyTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST(MigrateCommand, CopiesAndReportsVerifiedCounts) {
  TestDatabase source_db("sqlite"), target_db("sqlite");
  fill(*source_db.open());
  std::string out;
  const int status = testing::run_saxdetect(
      "migrate --from " + source_db.url() + " --to " + target_db.url(), &out);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("votes"), std::string::npos) << out;
  EXPECT_NE(out.find("checksums match"), std::string::npos) << out;
  EXPECT_EQ(target_db.open()->votes().size(), 17u);

  // A second run refuses: the target is no longer empty.
  EXPECT_NE(testing::run_saxdetect("migrate --from " + source_db.url() + " --to " + target_db.url(),
                                   &out),
            0);
  EXPECT_NE(out.find("empty store only"), std::string::npos) << out;

  EXPECT_NE(
      testing::run_saxdetect("migrate --from sqlite:" + (source_db.dir() / "missing.db").string() +
                                 " --to " + target_db.url(),
                             &out),
      0);
  EXPECT_NE(out.find("missing.db: no such file"), std::string::npos) << out;
}

}  // namespace
}  // namespace sax
