#include "backend.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include <pqxx/pqxx>

#include "store/sqlite_db.h"

namespace sax::testing {

namespace {

std::string pg_base_url() {
  const char* url = std::getenv("SAXDETECT_TEST_PG");
  return url ? url : "";
}

std::string with_schema(const std::string& url, const std::string& schema) {
  const char* separator = url.find('?') == std::string::npos ? "?" : "&";
  return url + separator + "options=-csearch_path%3D" + schema + "&application_name=" + schema;
}

void run_admin(const std::string& statement) {
  pqxx::connection admin(pg_base_url());
  pqxx::nontransaction tx(admin);
  tx.exec(statement);
}

}  // namespace

TestDatabase::TestDatabase(const std::string& backend) {
  if (backend == "sqlite") {
    url_ = "sqlite:" + (dir_ / "store.db").string();
    return;
  }
  if (pg_base_url().empty()) return;
  static std::atomic<int> counter{0};
  pg_schema_ = "saxtest_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  run_admin("DROP SCHEMA IF EXISTS " + pg_schema_ + " CASCADE; CREATE SCHEMA " + pg_schema_);
  url_ = with_schema(pg_base_url(), pg_schema_);
}

TestDatabase::~TestDatabase() {
  if (pg_schema_.empty()) return;
  try {
    run_admin("DROP SCHEMA IF EXISTS " + pg_schema_ + " CASCADE");
  } catch (const std::exception&) {  // best effort: the cluster is thrown away anyway
  }
}

std::unique_ptr<Store> TestDatabase::open() const { return open_store(Home{dir_.path()}, url_); }

void TestDatabase::run_sql(const std::string& statement) const {
  if (url_.rfind("sqlite:", 0) == 0) {
    auto db = sql::open_sqlite(url_.substr(7));
    db->write([&](sql::Connection& conn) { conn.run_once(statement); });
    return;
  }
  pqxx::connection conn(url_);
  pqxx::work tx(conn);
  tx.exec(statement);
  tx.commit();
}

}  // namespace sax::testing
