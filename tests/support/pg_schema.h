#pragma once
// A PostgreSQL schema of its own for one test, in the server $SAXDETECT_TEST_PG names, selected
// through the URL's search_path (far cheaper than a database) and dropped when the object dies.
// url() is empty when $SAXDETECT_TEST_PG is unset: the test should GTEST_SKIP().
#include <string>

namespace sax::testing {

class PgSchema {
 public:
  explicit PgSchema(const std::string& prefix);
  ~PgSchema();
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;

  const std::string& url() const { return url_; }

 private:
  void admin(const std::string& statement) const;
  std::string base_, name_, url_;
};

}  // namespace sax::testing
