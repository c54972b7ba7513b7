#pragma once
// Runs the store suite once per back end: SQLite in a temporary folder always, PostgreSQL when
// $SAXDETECT_TEST_PG names a server. Each PostgreSQL test gets a schema of its own (far
// cheaper than a database), selected through the URL's search_path and dropped after; its
// connections carry the schema's name as application_name.
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
  const std::string& pg_schema() const { return pg_schema_; }

 private:
  TempDir dir_;
  std::string url_;
  std::string pg_schema_;
};

}  // namespace sax::testing
