// A source replaced by new content at the same path, or dropped: where the votes on its samples
// go. On every back end, and from a store of the previous schema version.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "backend.h"
#include "store/schema.h"
#include "store/sql_store.h"

namespace sax {
namespace {

using testing::TestDatabase;

class ReplaceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>(GetParam());
    if (!db_->available()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
    store_ = db_->open();
  }

  int64_t add_source(const std::string& path, const std::string& hash) {
    Source source;
    source.path = path;
    source.hash = hash;
    return store_->claim_source(source, "w").source_id;
  }

  int64_t add_sample(int64_t source_id, double start, const std::string& audio_hash) {
    Sample sample;
    sample.source_id = source_id;
    sample.start = start;
    sample.duration = 5;
    sample.hash = audio_hash;
    sample.path = "samples/" + std::to_string(source_id) + "/" + std::to_string(start) + ".flac";
    return store_->add_sample(sample);
  }

  std::set<std::string> retired_summary() {
    std::set<std::string> out;
    for (const RetiredVote& v : store_->retired_votes())
      out.insert(v.annotator + " " + std::string(label_name(v.label)) + " " + v.sample_hash + " " +
                 v.source_hash);
    return out;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_P(ReplaceTest, FinishingNewContentAtAPathMovesVotesToTheSameAudioAndRetiresTheRest) {
  const int64_t old_id = add_source("/music/song.flac", "old");
  const int64_t unchanged = add_sample(old_id, 0, "audio-a");
  const int64_t changed = add_sample(old_id, 5, "audio-b");
  const int64_t unvoted = add_sample(old_id, 10, "audio-c");
  store_->finish_source(old_id, 15);
  store_->add_vote(unchanged, "ana", Label::sax);
  store_->add_vote(unchanged, "bob", Label::not_sax);
  store_->add_vote(changed, "ana", Label::unsure);
  const int64_t other = add_source("/music/other.flac", "other");  // another path: untouched
  const int64_t elsewhere = add_sample(other, 0, "audio-a");
  store_->add_vote(elsewhere, "ana", Label::sax);

  const int64_t new_id = add_source("/music/song.flac", "new");
  const int64_t same_audio = add_sample(new_id, 0, "audio-a");
  const int64_t new_audio = add_sample(new_id, 5, "audio-z");
  store_->add_vote(same_audio, "bob", Label::sax);  // bob labelled it again meanwhile
  const Replacement replaced = store_->finish_source(new_id, 10);

  EXPECT_EQ(replaced.sources, 1);
  EXPECT_EQ(replaced.votes_moved, 1);    // ana's
  EXPECT_EQ(replaced.votes_retired, 2);  // bob's first (he has a newer one) and ana's on b
  const std::string unvoted_clip = "samples/" + std::to_string(old_id) + "/10.000000.flac";
  EXPECT_EQ(replaced.unused_clips, std::vector<std::string>{unvoted_clip});
  EXPECT_FALSE(store_->source(old_id));
  EXPECT_FALSE(store_->sample(unvoted));
  EXPECT_EQ(store_->sources().size(), 2u);
  EXPECT_EQ(store_->votes_for(same_audio).size(), 2u);
  EXPECT_EQ(retired_summary(),
            (std::set<std::string>{"bob not_sax audio-a old", "ana unsure audio-b old"}));

  // The moved vote counts on its new sample: with two votes wanted only new_audio is offered
  // on this path.
  NextQuery query;
  query.annotator = "carl";
  query.votes_wanted = 2;
  query.exclude = {elsewhere};
  const auto next = store_->next_sample(query);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, new_audio);
  EXPECT_EQ(store_->status().votes, 3);
}

TEST_P(ReplaceTest, ADroppedSourceRetiresItsVotesAndFreesItsOtherClips) {
  const int64_t id = add_source("/music/growing.wav", "partial");
  const int64_t voted = add_sample(id, 0, "audio-a");
  add_sample(id, 5, "audio-b");
  store_->add_vote(voted, "ana", Label::sax);
  const Replacement dropped = store_->drop_source(id);
  EXPECT_EQ(dropped.sources, 1);
  EXPECT_EQ(dropped.votes_moved, 0);
  EXPECT_EQ(dropped.votes_retired, 1);
  EXPECT_EQ(dropped.unused_clips.size(), 1u);
  EXPECT_TRUE(store_->sources().empty());
  EXPECT_TRUE(store_->votes().empty());
  const auto retired = store_->retired_votes();
  ASSERT_EQ(retired.size(), 1u);
  EXPECT_EQ(retired[0].source_path, "/music/growing.wav");
  EXPECT_EQ(retired[0].sample_path, "samples/" + std::to_string(id) + "/0.000000.flac");
  EXPECT_FALSE(retired[0].retired.empty());
  // An annotator's removal reaches their retired votes too.
  EXPECT_EQ(store_->delete_votes("ana"), 1);
  EXPECT_TRUE(store_->retired_votes().empty());
}

TEST_P(ReplaceTest, UpgradesAStoreOfTheVersionBeforeAndReplacesInIt) {
  TestDatabase old(GetParam());
  const int previous = sql::latest_schema_version() - 1;
  open_database(Home{old.dir().path()}, old.url(), previous);
  // Rows as that version's code wrote them.
  old.run_sql(
      "INSERT INTO sources (path, hash, state, created) VALUES ('/music/a.flac', 'old', 'done', "
      "'2026-01-01T00:00:00.000Z')");
  old.run_sql(
      "INSERT INTO samples (source_id, start, duration, path, hash, created, vote_count) "
      "SELECT id, 0, 5, 'samples/old/0.flac', 'audio-a', '2026-01-01T00:00:00.000Z', 1 FROM "
      "sources");
  old.run_sql("INSERT INTO annotators (name, created) VALUES ('ana', '2026-01-01T00:00:00.000Z')");
  old.run_sql(
      "INSERT INTO votes (sample_id, annotator_id, label, created) SELECT s.id, a.id, 'sax', "
      "'2026-01-01T00:00:00.000Z' FROM samples s, annotators a");
  store_ = old.open();
  EXPECT_TRUE(store_->retired_votes().empty());
  ASSERT_EQ(store_->votes().size(), 1u);

  const int64_t new_id = add_source("/music/a.flac", "new");
  add_sample(new_id, 0, "audio-b");
  const Replacement replaced = store_->finish_source(new_id, 5);
  EXPECT_EQ(replaced.votes_retired, 1);
  EXPECT_TRUE(store_->votes().empty());
  ASSERT_EQ(store_->retired_votes().size(), 1u);
  EXPECT_EQ(store_->retired_votes()[0].created, "2026-01-01T00:00:00.000Z");
}

INSTANTIATE_TEST_SUITE_P(Backends, ReplaceTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sax
