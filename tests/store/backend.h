#pragma once
// Runs the store suite once per back end: SQLite in a temporary folder always, PostgreSQL when
// $SAXDETECT_TEST_PG names a server (each test gets a database of its own, dropped after).
#include <memory>
#include <string>

#include "store/store.h"
#include "support/testing.h"

namespace sax::testing {

class TestDatabase {
 public:
  explicit TestDatabase(const std::string& backend);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  bool available() const { return !url_.empty(); }
  const std::string& url() const { return url_; }  // sqlite:PATH or postgresql://...
  std::unique_ptr<Store> open() const;
  // Runs one statement outside the Store (to set up states the interface cannot reach).
  void run_sql(const std::string& statement) const;
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::string url_;
  std::string pg_admin_url_, pg_database_;
};

// The URL of a fresh PostgreSQL database on $SAXDETECT_TEST_PG, or "" when it is unset.
std::string create_pg_database(const std::string& name);
void drop_pg_database(const std::string& name);

}  // namespace sax::testing
