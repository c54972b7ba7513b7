// The vote path's cost and its behaviour under concurrent votes, on every back end. The store
// runs over a Database that counts what it is asked, so the tests see transactions and
// statements, which on PostgreSQL are round trips.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "backend.h"
#include "store/sql_store.h"

namespace sax {
namespace {

using testing::TestDatabase;

struct Counts {
  std::atomic<int> writes{0}, single_statement_writes{0}, reads{0}, statements{0};
};

class CountingConnection final : public sql::Connection {
 public:
  CountingConnection(sql::Connection& inner, Counts& counts) : inner_(inner), counts_(counts) {}
  sql::Rows query(const std::string& sql, const sql::Params& params) override {
    ++counts_.statements;
    return inner_.query(sql, params);
  }
  int64_t execute(const std::string& sql, const sql::Params& params) override {
    ++counts_.statements;
    return inner_.execute(sql, params);
  }
  void run_once(const std::string& sql) override {
    ++counts_.statements;
    inner_.run_once(sql);
  }

 private:
  sql::Connection& inner_;
  Counts& counts_;
};

class CountingDatabase final : public sql::Database {
 public:
  CountingDatabase(std::unique_ptr<sql::Database> inner, Counts& counts)
      : inner_(std::move(inner)), counts_(counts) {}
  void write(const std::function<void(sql::Connection&)>& work) override {
    ++counts_.writes;
    inner_->write([&](sql::Connection& conn) {
      CountingConnection counting(conn, counts_);
      work(counting);
    });
  }
  sql::Rows write_one(const std::string& sql, const sql::Params& params) override {
    ++counts_.single_statement_writes;
    ++counts_.statements;
    return inner_->write_one(sql, params);
  }
  void read(const std::function<void(sql::Connection&)>& work) override {
    ++counts_.reads;
    inner_->read([&](sql::Connection& conn) {
      CountingConnection counting(conn, counts_);
      work(counting);
    });
  }
  const sql::Dialect& dialect() const override { return inner_->dialect(); }

 private:
  std::unique_ptr<sql::Database> inner_;
  Counts& counts_;
};

class VotePathTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>(GetParam());
    if (!db_->available()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
    store_ = make_sql_store(std::make_unique<CountingDatabase>(
        open_database(Home{db_->dir().path()}, db_->url()), counts_));
    Source source;
    source.path = "/music/a.flac";
    source.hash = "hash-a";
    const int64_t source_id = store_->claim_source(source, "w").source_id;
    for (int i = 0; i < 2; ++i) {
      Sample sample;
      sample.source_id = source_id;
      sample.start = 5.0 * i;
      sample.path = "samples/a" + std::to_string(i) + ".flac";
      samples_.push_back(store_->add_sample(sample));
    }
  }

  void reset_counts() {
    counts_.writes = counts_.single_statement_writes = counts_.reads = counts_.statements = 0;
  }

  Counts counts_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
  std::vector<int64_t> samples_;
};

TEST_P(VotePathTest, AVoteIsOneStatementOnPostgresqlAndOneTransactionOnSqlite) {
  store_->add_vote(samples_[0], "ana", Label::sax);   // ana's first vote registers her
  for (Label label : {Label::not_sax, Label::sax}) {  // a first vote on s1, then a replacement
    reset_counts();
    store_->add_vote(samples_[1], "ana", label);
    EXPECT_EQ(counts_.reads, 0);
    if (GetParam() == "postgresql") {
      EXPECT_EQ(counts_.single_statement_writes, 1);
      EXPECT_EQ(counts_.writes, 0);
      EXPECT_EQ(counts_.statements, 1);
    } else {
      EXPECT_EQ(counts_.single_statement_writes + counts_.writes, 1);
    }
  }
}

TEST_P(VotePathTest, UnknownSampleIsItsOwnErrorAndRegistersNobody) {
  EXPECT_THROW(store_->add_vote(987654, "newcomer", Label::sax), UnknownSample);
  EXPECT_TRUE(store_->status().annotators.empty());
  EXPECT_TRUE(store_->votes().empty());
}

TEST_P(VotePathTest, ReplacingAVoteKeepsTheCountsAndMakesItTheLatest) {
  EXPECT_FALSE(store_->add_vote(samples_[0], "ana", Label::sax));
  EXPECT_FALSE(store_->add_vote(samples_[1], "ana", Label::sax));
  EXPECT_TRUE(store_->add_vote(samples_[0], "ana", Label::not_sax));
  const auto undone = store_->undo_last_vote("ana");
  ASSERT_TRUE(undone);
  EXPECT_EQ(undone->sample_id, samples_[0]);
  EXPECT_EQ(undone->label, Label::not_sax);
  // samples_[1] still has its one vote: with one vote wanted, only samples_[0] is offered.
  NextQuery query;
  query.annotator = "bob";
  const auto next = store_->next_sample(query);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, samples_[0]);
}

// A double-click sends the same vote twice at once: one vote, counted once, the others replace.
TEST_P(VotePathTest, SimultaneousVotesOfOneAnnotatorOnOneSampleCountOnce) {
  constexpr int kThreads = 16;
  std::atomic<int> fresh{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        if (!store_->add_vote(samples_[0], "ana", t % 2 ? Label::sax : Label::unsure)) ++fresh;
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fresh.load(), 1);
  EXPECT_EQ(store_->votes_for(samples_[0]).size(), 1u);
  NextQuery query;
  query.annotator = "bob";
  const auto next = store_->next_sample(query);  // samples_[0] has its one vote: not offered
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, samples_[1]);
  query.votes_wanted = 2;
  query.exclude = {samples_[1]};
  EXPECT_TRUE(store_->next_sample(query)) << "counted more than once";
}

INSTANTIATE_TEST_SUITE_P(Backends, VotePathTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sax
