// The store suite, written once and run against every back end (see backend.h).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "backend.h"
#include "common/error.h"
#include "store/schema.h"
#include "store/sql_store.h"

namespace sax {
namespace {

using testing::TestDatabase;

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>(GetParam());
    if (!db_->available()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
    store_ = db_->open();
  }

  int64_t add_source(const std::string& name, const std::string& worker = "w1",
                     const std::string& title = "", const std::string& artist = "") {
    Source source;
    source.title = title;
    source.artist = artist;
    source.path = "/music/" + name + ".flac";
    source.hash = "hash-" + name;
    source.codec = "flac";
    source.sample_rate = 44100;
    source.channels = 2;
    return store_->claim_source(source, worker).source_id;
  }

  int64_t add_sample(int64_t source_id, double start, bool silent = false) {
    Sample sample;
    sample.source_id = source_id;
    sample.start = start;
    sample.duration = 5;
    sample.path = "samples/" + std::to_string(source_id) + "_" + std::to_string(start) + ".flac";
    sample.silent = silent;
    return store_->add_sample(sample);
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

NextQuery query_for(const std::string& annotator, int votes_wanted, const std::string& model,
                    std::vector<int64_t> exclude = {}) {
  NextQuery query;
  query.annotator = annotator;
  query.votes_wanted = votes_wanted;
  query.model = model;
  query.exclude = std::move(exclude);
  return query;
}

Source source_named(const std::string& name) {
  Source source;
  source.path = "/music/" + name;
  source.hash = "hash-" + name;
  return source;
}

// ---- schema ------------------------------------------------------------------------------

TEST_P(StoreTest, MigratesFromEmptyAndReopensWithDataKept) {
  EXPECT_EQ(store_->backend(), GetParam());
  const int64_t source = add_source("a");
  const int64_t sample = add_sample(source, 0);
  store_->add_vote(sample, "ana", Label::sax);
  store_.reset();

  auto reopened = db_->open();
  EXPECT_EQ(reopened->status().votes, 1);
  EXPECT_EQ(reopened->sample(sample)->source_id, source);
  EXPECT_GE(sql::latest_schema_version(), 1);
}

TEST_P(StoreTest, UpgradesAnOlderSchemaKeepingItsRows) {
  TestDatabase old(GetParam());
  const Home home{old.dir().path()};
  open_database(home, old.url(), 1);
  // Written as that version's code would have: only the columns version 1 has.
  old.run_sql(
      "INSERT INTO sources (path, hash, state, created) VALUES ('/music/kept', 'hash-kept', "
      "'done', '2026-01-01T00:00:00.000Z')");
  auto upgraded = old.open();
  ASSERT_EQ(upgraded->sources().size(), 1u);
  EXPECT_EQ(upgraded->sources()[0].hash, "hash-kept");
  EXPECT_TRUE(upgraded->sax_times().empty()) << "an old source's sax times are not known";
  int64_t version = 0;
  open_database(home, old.url())->read([&](sql::Connection& conn) {
    version = conn.query("SELECT max(version) FROM schema_version").at(0).integer(0);
  });
  EXPECT_EQ(version, sql::latest_schema_version());
  EXPECT_GE(version, 2);
}

TEST_P(StoreTest, RefusesADatabaseNewerThanItself) {
  store_.reset();
  db_->run_sql("INSERT INTO schema_version (version) VALUES (" +
               std::to_string(sql::latest_schema_version() + 1) + ")");
  try {
    db_->open();
    FAIL() << "opened a newer schema";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

// ---- sources -----------------------------------------------------------------------------

TEST_P(StoreTest, TheFirstSampleFormatClaimedIsTheStoresForGood) {
  EXPECT_FALSE(store_->sample_format());
  EXPECT_EQ(store_->claim_sample_format({22050, 5}), (SampleFormat{22050, 5}));
  // Another format is not recorded: the caller compares and refuses.
  EXPECT_EQ(store_->claim_sample_format({16000, 5}), (SampleFormat{22050, 5}));
  EXPECT_EQ(store_->claim_sample_format({22050, 2.5}), (SampleFormat{22050, 5}));
  EXPECT_EQ(db_->open()->sample_format(), (SampleFormat{22050, 5}));  // kept across opens
}

TEST_P(StoreTest, ClaimsResumesAndFinishesASource) {
  auto first = store_->claim_source(source_named("a"), "w1");
  EXPECT_EQ(first.claim, Claim::fresh);
  EXPECT_EQ(store_->claim_source(source_named("a"), "w1").claim, Claim::resumed);
  EXPECT_EQ(store_->claim_source(source_named("a"), "w2").claim, Claim::busy);
  EXPECT_EQ(store_->source(first.source_id)->state, "ingesting");

  store_->finish_source(first.source_id, 123.5);
  auto again = store_->claim_source(source_named("a"), "w2");
  EXPECT_EQ(again.claim, Claim::already_done);
  EXPECT_EQ(again.source_id, first.source_id);
  auto stored = store_->source_by_hash("hash-a");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, "done");
  EXPECT_DOUBLE_EQ(stored->duration, 123.5);
  EXPECT_THROW(store_->finish_source(9999, 1), Error);
}

TEST_P(StoreTest, TakesOverAnExpiredClaimAndTheOldWorkerLearnsIt) {
  auto first = store_->claim_source(source_named("a"), "w1", 600);
  EXPECT_EQ(store_->claim_source(source_named("a"), "w2", 600).claim, Claim::busy);
  auto taken = store_->claim_source(source_named("a"), "w2", /*lease_seconds=*/0);
  EXPECT_EQ(taken.claim, Claim::resumed);
  EXPECT_EQ(taken.source_id, first.source_id);
  EXPECT_NO_THROW(store_->renew_claim(first.source_id, "w2"));
  EXPECT_THROW(store_->renew_claim(first.source_id, "w1"), Error);
}

TEST_P(StoreTest, ListsSourcesWithTheirMetadataAndSampleCounts) {
  Source source = source_named("tagged");
  source.title = "So What";
  source.artist = "Miles Davis";
  source.album = "Kind of Blue";
  source.codec = "mp3";
  source.sample_rate = 48000;
  source.channels = 2;
  const int64_t id = store_->claim_source(source, "w1").source_id;
  add_sample(id, 0);
  add_sample(id, 5);
  auto all = store_->sources();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].title, "So What");
  EXPECT_EQ(all[0].artist, "Miles Davis");
  EXPECT_EQ(all[0].album, "Kind of Blue");
  EXPECT_EQ(all[0].codec, "mp3");
  EXPECT_EQ(all[0].sample_rate, 48000);
  EXPECT_EQ(all[0].channels, 2);
  EXPECT_EQ(all[0].samples, 2);
  EXPECT_FALSE(store_->source_by_hash("missing"));
}

TEST_P(StoreTest, KeepsSaxTimesPerSourceAndTellsUnknownFromNone) {
  const int64_t with_sax = add_source("with-sax"), without = add_source("without");
  add_source("unknown");
  store_->set_sax_times(with_sax, {{0.5, 2.25}, {10, 12.125}});
  store_->set_sax_times(without, {});
  auto times = store_->sax_times();
  ASSERT_EQ(times.size(), 2u) << "the third source's times are not known";
  EXPECT_EQ(times.at(with_sax), (std::vector<TimeRange>{{0.5, 2.25}, {10, 12.125}}));
  EXPECT_TRUE(times.at(without).empty());

  store_->set_sax_times(with_sax, {{3, 4}});  // replaces, not appends
  EXPECT_EQ(store_->sax_times().at(with_sax), (std::vector<TimeRange>{{3, 4}}));
}

TEST_P(StoreTest, RejectsSaxTimesForUnknownSourcesOrBackwardRanges) {
  const int64_t id = add_source("song");
  store_->set_sax_times(id, {{1, 2}});
  EXPECT_THROW(store_->set_sax_times(id + 100, {{1, 2}}), Error);
  try {
    store_->set_sax_times(id, {{5, 4}});
    FAIL() << "accepted a backward range";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[5, 4]"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store_->sax_times().at(id), (std::vector<TimeRange>{{1, 2}})) << "kept";
}

// ---- samples -----------------------------------------------------------------------------

TEST_P(StoreTest, AddSampleIsIdempotentPerSourceAndStart) {
  const int64_t source = add_source("a");
  int calls = 0;
  Sample sample;
  sample.source_id = source;
  sample.start = 2.5;
  sample.duration = 5;
  sample.path = "samples/x.flac";
  sample.web_path = "samples/x.mp3";
  sample.hash = "pcm";
  sample.rms = 0.25;
  const int64_t id = store_->add_sample(sample, [&] { ++calls; });
  const int64_t again = store_->add_sample(sample, [&] { ++calls; });
  EXPECT_EQ(id, again);
  EXPECT_EQ(calls, 1);
  auto stored = store_->sample(id);
  ASSERT_TRUE(stored);
  EXPECT_DOUBLE_EQ(stored->start, 2.5);
  EXPECT_EQ(stored->web_path, "samples/x.mp3");
  EXPECT_DOUBLE_EQ(stored->rms, 0.25);
  EXPECT_FALSE(stored->created.empty());
  EXPECT_EQ(store_->samples_of(source).size(), 1u);
}

TEST_P(StoreTest, AddSampleLeavesNoRowWhenMakeVisibleThrows) {
  const int64_t source = add_source("a");
  Sample sample;
  sample.source_id = source;
  sample.start = 0;
  sample.path = "samples/x.flac";
  EXPECT_THROW(store_->add_sample(sample, [] { throw Error("rename failed"); }), Error);
  EXPECT_TRUE(store_->samples_of(source).empty());
  // The store is still usable and the same sample can be added afterwards.
  EXPECT_GT(store_->add_sample(sample), 0);
  EXPECT_EQ(store_->samples_of(source).size(), 1u);
}

TEST_P(StoreTest, AddSampleRejectsAnUnknownSource) {
  Sample sample;
  sample.source_id = 4242;
  sample.path = "samples/x.flac";
  EXPECT_THROW(store_->add_sample(sample), Error);
}

TEST_P(StoreTest, ListsSamplesWithOrWithoutSilence) {
  const int64_t source = add_source("a");
  add_sample(source, 0);
  add_sample(source, 5, /*silent=*/true);
  EXPECT_EQ(store_->samples(true).size(), 2u);
  auto audible = store_->samples(false);
  ASSERT_EQ(audible.size(), 1u);
  EXPECT_FALSE(audible[0].silent);
  EXPECT_FALSE(store_->sample(9999));
}

// ---- votes -------------------------------------------------------------------------------

TEST_P(StoreTest, ASecondVoteReplacesTheFirst) {
  const int64_t sample = add_sample(add_source("a"), 0);
  EXPECT_FALSE(store_->add_vote(sample, "ana", Label::sax));
  EXPECT_TRUE(store_->add_vote(sample, "ana", Label::not_sax));
  auto votes = store_->votes_for(sample);
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].label, Label::not_sax);
  EXPECT_EQ(votes[0].annotator, "ana");
  EXPECT_EQ(store_->status().votes, 1);
}

TEST_P(StoreTest, UndoRemovesTheAnnotatorsLatestVoteOnly) {
  const int64_t source = add_source("a");
  const int64_t s1 = add_sample(source, 0), s2 = add_sample(source, 5);
  store_->add_vote(s1, "ana", Label::sax);
  store_->add_vote(s2, "ana", Label::not_sax);
  store_->add_vote(s2, "bob", Label::sax);
  auto undone = store_->undo_last_vote("ana");
  ASSERT_TRUE(undone);
  EXPECT_EQ(undone->sample_id, s2);
  EXPECT_EQ(undone->label, Label::not_sax);
  EXPECT_EQ(store_->votes_for(s2).size(), 1u);
  EXPECT_EQ(store_->votes_for(s1).size(), 1u);
  // A replaced vote counts as the latest one.
  store_->add_vote(s1, "ana", Label::unsure);
  store_->add_vote(s2, "ana", Label::sax);
  store_->add_vote(s1, "ana", Label::not_sax);
  EXPECT_EQ(store_->undo_last_vote("ana")->sample_id, s1);
  EXPECT_FALSE(store_->undo_last_vote("nobody"));
}

TEST_P(StoreTest, DeletesAllVotesOfOneAnnotator) {
  const int64_t source = add_source("a");
  const int64_t s1 = add_sample(source, 0), s2 = add_sample(source, 5);
  store_->add_vote(s1, "ana", Label::sax);
  store_->add_vote(s2, "ana", Label::sax);
  store_->add_vote(s1, "bob", Label::sax);
  EXPECT_EQ(store_->delete_votes("ana"), 2);
  auto votes = store_->votes();
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].annotator, "bob");
  // Vote counts follow: s2 is wanted again with votes_wanted 1, s1 is not.
  auto next = store_->next_sample(query_for("carl", 1, ""));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, s2);
  EXPECT_EQ(store_->delete_votes("ana"), 0);
}

TEST_P(StoreTest, RejectsVotesForUnknownSamplesAndLeavesNoTrace) {
  EXPECT_THROW(store_->add_vote(777, "ana", Label::sax), Error);
  EXPECT_THROW(store_->add_vote(add_sample(add_source("a"), 0), "", Label::sax), Error);
  auto status = store_->status();
  EXPECT_EQ(status.votes, 0);
  EXPECT_TRUE(status.annotators.empty());
}

// ---- next_sample -------------------------------------------------------------------------

TEST_P(StoreTest, NextSampleNeverRepeatsForAnAnnotatorAndSkipsSilence) {
  const int64_t source = add_source("a");
  std::set<int64_t> audible;
  for (int i = 0; i < 6; ++i) audible.insert(add_sample(source, i * 5.0));
  add_sample(source, 100, /*silent=*/true);
  std::set<int64_t> seen;
  while (auto next = store_->next_sample(query_for("ana", 3, ""))) {
    ASSERT_TRUE(seen.insert(next->id).second) << "sample " << next->id << " offered twice";
    store_->add_vote(next->id, "ana", Label::sax);
  }
  EXPECT_EQ(seen, audible);
}

TEST_P(StoreTest, NextSampleStopsOfferingSamplesWithEnoughVotes) {
  const int64_t source = add_source("a");
  const int64_t s1 = add_sample(source, 0), s2 = add_sample(source, 5);
  store_->add_vote(s1, "ana", Label::sax);
  store_->add_vote(s1, "bob", Label::sax);
  store_->add_vote(s2, "ana", Label::sax);
  auto next = store_->next_sample(query_for("carl", 2, ""));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, s2);
  EXPECT_FALSE(store_->next_sample(query_for("carl", 1, "")));
  auto for_bob = store_->next_sample(query_for("bob", 2, ""));  // bob voted on s1 already
  ASSERT_TRUE(for_bob);
  EXPECT_EQ(for_bob->id, s2);
}

TEST_P(StoreTest, NextSamplePassesOverExcludedSamples) {
  const int64_t source = add_source("a");
  const int64_t s1 = add_sample(source, 0), s2 = add_sample(source, 5), s3 = add_sample(source, 10);
  auto next = store_->next_sample(query_for("ana", 1, "", {s1, s3}));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, s2);
  store_->put_predictions("cnn", {{s1, 0.5}, {s2, 0.9}, {s3, 0.6}});
  next = store_->next_sample(query_for("ana", 1, "cnn", {s1}));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, s3);
  EXPECT_FALSE(store_->next_sample(query_for("ana", 1, "", {s1, s2, s3})));
}

TEST_P(StoreTest, NextSampleSpreadsAcrossSources) {
  std::vector<int64_t> sources;
  for (const char* name : {"a", "b", "c"}) {
    sources.push_back(add_source(name));
    for (int i = 0; i < 4; ++i) add_sample(sources.back(), i * 5.0);
  }
  std::map<int64_t, int> per_source;
  for (int i = 0; i < 6; ++i) {
    auto next = store_->next_sample(query_for("ana", 1, ""));
    ASSERT_TRUE(next);
    ++per_source[next->source_id];
    store_->add_vote(next->id, "ana", Label::not_sax);
  }
  for (int64_t source : sources) EXPECT_EQ(per_source[source], 2) << "source " << source;
}

TEST_P(StoreTest, NextSampleOffersTheMostUncertainFirst) {
  const int64_t source = add_source("a");
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(add_sample(source, i * 5.0));
  store_->put_predictions(
      "cnn1", {{ids[0], 0.05}, {ids[1], 0.9}, {ids[2], 0.45}, {ids[3], 0.7}, {ids[4], 0.99}});
  store_->put_predictions("cnn2", {{ids[4], 0.5}});
  std::vector<int64_t> order;
  while (auto next = store_->next_sample(query_for("ana", 1, "cnn1"))) {
    order.push_back(next->id);
    store_->add_vote(next->id, "ana", Label::sax);
  }
  EXPECT_EQ(order, (std::vector<int64_t>{ids[2], ids[3], ids[1], ids[0], ids[4]}));
  EXPECT_THROW(store_->put_predictions("cnn1", {{ids[0], 1.5}}), Error);
  EXPECT_THROW(store_->put_predictions("cnn1", {{9999, 0.5}}), Error);
}

TEST_P(StoreTest, UncertainFirstFallsBackToUnpredictedSamples) {
  const int64_t source = add_source("a");
  const int64_t predicted = add_sample(source, 0), other = add_sample(source, 5);
  store_->put_predictions("cnn", {{predicted, 0.5}});
  store_->add_vote(predicted, "bob", Label::sax);
  auto next = store_->next_sample(query_for("ana", 1, "cnn"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, other);
}

TEST_P(StoreTest, SamplesWithoutPredictionAreThoseTheModelHasNotScored) {
  const int64_t source = add_source("a");
  const int64_t scored = add_sample(source, 0), unscored = add_sample(source, 5);
  store_->put_predictions("builtin", {{scored, 0.2}});
  store_->put_predictions("other", {{unscored, 0.2}});
  std::vector<int64_t> ids;
  for (const auto& s : store_->samples_without_prediction("builtin")) ids.push_back(s.id);
  EXPECT_EQ(ids, std::vector<int64_t>{unscored});
  EXPECT_EQ(store_->samples_without_prediction("nobody").size(), 2u);
}

// ---- reports -----------------------------------------------------------------------------

TEST_P(StoreTest, StatusCountsVotesAndComputesKappa) {
  const int64_t source = add_source("a");
  store_->finish_source(source, 60);
  const int64_t a = add_sample(source, 0), b = add_sample(source, 5), c = add_sample(source, 10);
  add_sample(source, 15);                   // never voted on
  add_sample(source, 20, /*silent=*/true);  // silent
  store_->add_vote(a, "ana", Label::sax);
  store_->add_vote(a, "bob", Label::sax);
  store_->add_vote(b, "ana", Label::not_sax);
  store_->add_vote(b, "bob", Label::not_sax);
  store_->add_vote(c, "ana", Label::sax);
  store_->add_vote(c, "bob", Label::not_sax);
  auto status = store_->status();
  EXPECT_EQ(status.sources, 1);
  EXPECT_EQ(status.samples, 5);
  EXPECT_EQ(status.silent, 1);
  EXPECT_DOUBLE_EQ(status.audio_seconds, 60);
  EXPECT_EQ(status.labeled, 3);
  EXPECT_EQ(status.unlabeled, 2);
  EXPECT_EQ(status.votes, 6);
  EXPECT_EQ(status.labels.at("sax"), 3);
  EXPECT_EQ(status.labels.at("not_sax"), 3);
  EXPECT_EQ(status.labels.at("unsure"), 0);
  EXPECT_EQ(status.reconciled.at("sax"), 1);
  EXPECT_EQ(status.reconciled.at("not_sax"), 1);
  EXPECT_EQ(status.reconciled.at("unsure"), 1);  // the tie on c
  EXPECT_EQ(status.by_vote_count.at(0), 2);
  EXPECT_EQ(status.by_vote_count.at(2), 3);
  // Hand computation: P_i = 1, 1, 0 -> P = 2/3; p_sax = p_not = 1/2 -> Pe = 1/2;
  // kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
  EXPECT_NEAR(status.kappa, 1.0 / 3.0, 1e-12);
  ASSERT_EQ(status.annotators.size(), 2u);
  for (const auto& annotator : status.annotators) {
    EXPECT_EQ(annotator.votes, 3);
    EXPECT_EQ(annotator.today, 3);
    EXPECT_NEAR(annotator.agreement, 2.0 / 3.0, 1e-12);  // c reconciles to unsure
  }
  ASSERT_EQ(status.votes_by_day.size(), 1u);
  EXPECT_EQ(status.votes_by_day.begin()->second, 6);
}

TEST_P(StoreTest, LabeledSamplesCarryTheReconciledLabel) {
  const int64_t source = add_source("a");
  const int64_t a = add_sample(source, 0), b = add_sample(source, 5), c = add_sample(source, 10);
  store_->add_vote(a, "ana", Label::sax);
  store_->add_vote(a, "bob", Label::sax);
  store_->add_vote(a, "cid", Label::not_sax);
  store_->add_vote(b, "ana", Label::not_sax);
  store_->add_vote(c, "ana", Label::unsure);
  auto labeled = store_->labeled_samples();
  ASSERT_EQ(labeled.size(), 2u);
  EXPECT_EQ(labeled[0].sample.id, a);
  EXPECT_EQ(labeled[0].label, Label::sax);
  EXPECT_EQ(labeled[0].votes, 3);
  EXPECT_EQ(labeled[1].sample.id, b);
  EXPECT_EQ(labeled[1].label, Label::not_sax);
  EXPECT_EQ(labeled[1].votes, 1);
}

TEST_P(StoreTest, LabeledSamplesOfOneRecordingShareItsGroup) {
  // Two excerpts of one song (same tags), a different song by the same artist, an untagged file.
  const int64_t first = add_source("a", "w1", "Night in Venice", "Kevin MacLeod");
  const int64_t second = add_source("b", "w1", "Night in Venice", "Kevin MacLeod");
  const int64_t other = add_source("c", "w1", "Hot Swing", "Kevin MacLeod");
  const int64_t untagged = add_source("d");
  for (int64_t source : {first, second, other, untagged})
    store_->add_vote(add_sample(source, 0), "ana", Label::sax);
  std::map<int64_t, int64_t> group_of_source;
  for (const auto& s : store_->labeled_samples()) group_of_source[s.sample.source_id] = s.group();
  EXPECT_EQ(group_of_source.at(first), first);
  EXPECT_EQ(group_of_source.at(second), first);
  EXPECT_EQ(group_of_source.at(other), other);
  EXPECT_EQ(group_of_source.at(untagged), untagged);
}

// ---- concurrency -------------------------------------------------------------------------

TEST_P(StoreTest, ThirtyTwoThreadsVotingLoseAndDuplicateNothing) {
  const int64_t source = add_source("a");
  std::vector<int64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(add_sample(source, i * 5.0));
  constexpr int kThreads = 32;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        const std::string name = "annotator" + std::to_string(t);
        for (int64_t id : ids) store_->add_vote(id, name, t % 2 ? Label::sax : Label::not_sax);
        store_->add_vote(ids[0], name, Label::unsure);  // a replacement, not a new vote
        store_->next_sample(query_for(name, 100, ""));
        store_->status();
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto status = store_->status();
  EXPECT_EQ(status.votes, kThreads * 20);
  EXPECT_EQ(status.labels.at("unsure"), kThreads);
  EXPECT_EQ(status.by_vote_count.at(kThreads), 20);
  EXPECT_EQ(status.annotators.size(), static_cast<size_t>(kThreads));
  // The denormalised vote counts agree: with votes_wanted = kThreads nothing is left.
  EXPECT_FALSE(store_->next_sample(query_for("late", kThreads, "")));
  EXPECT_TRUE(store_->next_sample(query_for("late", kThreads + 1, "")));
}

TEST_P(StoreTest, ConcurrentFailingWritesRollBackAloneAndOthersCommit) {
  // SQLite batches concurrent writes into one transaction: a failing one must take only
  // itself back, neither the writes batched with it nor the store's consistency.
  const int64_t source = add_source("a");
  const int64_t sample = add_sample(source, 0);
  constexpr int kThreads = 32, kRounds = 10;
  std::atomic<int> unexpected{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        try {
          if (t % 2) {
            store_->add_vote(sample, "a" + std::to_string(t) + "-" + std::to_string(round),
                             Label::sax);
            continue;
          }
          Sample doomed;
          doomed.source_id = source;
          doomed.start = 1000.0 + t * kRounds + round;
          doomed.path = "samples/doomed.flac";
          store_->add_sample(doomed, [] { throw Error("rename failed"); });
          ++unexpected;
        } catch (const Error&) {
          ++refused;
        } catch (...) {
          ++unexpected;
        }
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(refused.load(), kThreads / 2 * kRounds);
  EXPECT_EQ(store_->votes_for(sample).size(), static_cast<size_t>(kThreads / 2 * kRounds));
  EXPECT_EQ(store_->samples_of(source).size(), 1u);
  EXPECT_EQ(store_->status().by_vote_count.at(kThreads / 2 * kRounds), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// ---- pure functions ----------------------------------------------------------------------

TEST(Reconcile, MajorityWinsTiesAndUnsureMajoritiesAreUnsure) {
  using L = Label;
  EXPECT_EQ(reconcile({}), L::unsure);
  EXPECT_EQ(reconcile({L::sax}), L::sax);
  EXPECT_EQ(reconcile({L::sax, L::sax, L::not_sax}), L::sax);
  EXPECT_EQ(reconcile({L::not_sax, L::unsure, L::not_sax}), L::not_sax);
  EXPECT_EQ(reconcile({L::sax, L::not_sax}), L::unsure);
  EXPECT_EQ(reconcile({L::unsure, L::unsure, L::sax}), L::unsure);
  EXPECT_EQ(reconcile({L::sax, L::unsure}), L::unsure);
}

TEST(Labels, NamesRoundTrip) {
  for (Label label : {Label::sax, Label::not_sax, Label::unsure})
    EXPECT_EQ(parse_label(label_name(label)), label);
  EXPECT_FALSE(parse_label("Sax"));
  EXPECT_FALSE(parse_label(""));
}

TEST(OpenStore, RejectsAnUnknownUrl) {
  testing::TempDir dir;
  EXPECT_THROW(open_store(Home{dir.path()}, "mysql://x"), Error);
}

TEST(OpenStore, NamesAFileThatIsNotADatabase) {
  testing::TempDir dir;
  const auto file = dir / "notes.db";
  std::ofstream(file) << "these are not the tables you are looking for\n";
  try {
    open_store(Home{dir.path()}, "sqlite:" + file.string());
    FAIL() << "opened a text file as a store";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a database"), std::string::npos) << e.what();
  }
}

TEST(OpenStore, UsesSqliteInTheHomeByDefault) {
  testing::TempDir dir;
  auto store = open_store(Home{dir / "home"}, "");
  EXPECT_EQ(store->backend(), "sqlite");
  EXPECT_TRUE(std::filesystem::exists(Home{dir / "home"}.database()));
}

}  // namespace
}  // namespace sax
