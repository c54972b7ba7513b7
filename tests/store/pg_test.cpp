// What only PostgreSQL can do wrong: the server is far away and connections fail.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "backend.h"
#include "common/error.h"
#include "store/pg_db.h"

namespace sax {
namespace {

using testing::TestDatabase;

std::string error_opening(const std::string& url) {
  testing::TempDir dir;
  try {
    open_store(Home{dir.path()}, url);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PgStore, ServerDownIsAClearErrorAfterRetrying) {
  // Port 1 on localhost: nothing listens there.
  const std::string message = error_opening("postgresql://someone@127.0.0.1:1/db");
  EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
  EXPECT_NE(message.find("attempts"), std::string::npos) << message;
}

TEST(PgStore, MissingDatabaseAndUnknownUserAreClearErrors) {
  TestDatabase db("postgresql");
  if (!db.available()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
  const std::string base_url = std::getenv("SAXDETECT_TEST_PG");
  const std::string base = base_url.substr(0, base_url.rfind('/') + 1);
  std::string message = error_opening(base + "no_such_database");
  EXPECT_NE(message.find("no_such_database"), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
  EXPECT_EQ(message.find("attempts"), std::string::npos) << "retried a permanent failure";

  const std::string wrong_user =
      "postgresql://nobody_here:secret@" + base_url.substr(base_url.find('@') + 1);
  message = error_opening(wrong_user);
  EXPECT_NE(message.find("nobody_here"), std::string::npos) << message;
  EXPECT_EQ(message.find("secret"), std::string::npos) << "password shown: " << message;
}

TEST(PgStore, RedactsPasswordsInUrls) {
  EXPECT_EQ(sql::redact_url("postgresql://ana:pw@host/db"), "postgresql://ana:***@host/db");
  EXPECT_EQ(sql::redact_url("postgresql://ana@host:5432/db"), "postgresql://ana@host:5432/db");
}

TEST(PgStore, VotesSurviveTheServerDroppingEveryConnection) {
  TestDatabase db("postgresql");
  if (!db.available()) GTEST_SKIP() << "SAXDETECT_TEST_PG is not set";
  auto store = db.open();
  Source source;
  source.path = "/a.mp3";
  source.hash = "a";
  const int64_t source_id = store->claim_source(source, "w").source_id;
  Sample sample;
  sample.source_id = source_id;
  sample.path = "samples/a.flac";
  const int64_t sample_id = store->add_sample(sample);
  store->add_vote(sample_id, "ana", Label::sax);

  // As a server restart or an idle timeout would: kill every session of this store.
  pqxx::connection admin(std::getenv("SAXDETECT_TEST_PG"));
  pqxx::nontransaction tx(admin);
  auto killed =
      tx.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = " +
              tx.quote(db.pg_schema()));
  ASSERT_GE(killed.size(), 1u);

  EXPECT_NO_THROW(store->add_vote(sample_id, "bob", Label::not_sax));
  EXPECT_EQ(store->votes_for(sample_id).size(), 2u);
}

}  // namespace
}  // namespace sax
