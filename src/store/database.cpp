// Choosing and opening the database behind a store URL.
#include <cstdlib>

#include "common/error.h"
#include "store/pg_db.h"
#include "store/schema.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"

namespace sax {

namespace {

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

std::unique_ptr<sql::Database> open_unmigrated(const Home& home, const std::string& db_url) {
  std::string url = db_url;
  if (url.empty())
    if (const char* env = std::getenv("SAXDETECT_DB")) url = env;
  if (url.empty()) {
    home.create();
    return sql::open_sqlite(home.database());
  }
  if (starts_with(url, "sqlite:")) return sql::open_sqlite(url.substr(7));
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://"))
    return sql::open_postgres(url);
  throw Error("database URL '" + sql::redact_url(url) +
              "' is not understood: use postgresql://user@host/dbname or sqlite:PATH");
}

}  // namespace

std::unique_ptr<sql::Database> open_database(const Home& home, const std::string& db_url,
                                             int schema_version) {
  auto db = open_unmigrated(home, db_url);
  sql::migrate(*db, schema_version);
  return db;
}

}  // namespace sax
