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

// postgresql://user@host:port/db -> same with another database name.
std::string with_database(const std::string& url, const std::string& database) {
  const auto slash = url.rfind('/');
  return url.substr(0, slash + 1) + database;
}

}  // namespace

std::string create_pg_database(const std::string& name) {
  const std::string base = pg_base_url();
  if (base.empty()) return "";
  pqxx::connection admin(base);
  pqxx::nontransaction tx(admin);
  tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name));
  tx.exec("CREATE DATABASE " + tx.quote_name(name));
  return with_database(base, name);
}

void drop_pg_database(const std::string& name) {
  try {
    pqxx::connection admin(pg_base_url());
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
  } catch (const std::exception&) {  // best effort: the cluster is thrown away anyway
  }
}

TestDatabase::TestDatabase(const std::string& backend) {
  if (backend == "sqlite") {
    url_ = "sqlite:" + (dir_ / "store.db").string();
    return;
  }
  static std::atomic<int> counter{0};
  pg_database_ = "saxtest_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  url_ = create_pg_database(pg_database_);
}

TestDatabase::~TestDatabase() {
  if (!pg_database_.empty() && !url_.empty()) drop_pg_database(pg_database_);
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
