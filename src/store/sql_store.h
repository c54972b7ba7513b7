#pragma once
// The Store written once over sql::Database; SQLite and PostgreSQL differ only below it.
#include <memory>

#include "store/schema.h"
#include "store/sql.h"
#include "store/store.h"

namespace sax {

// Opens the database a URL names (as open_store documents) and migrates its schema up to
// schema_version (tests ask for older versions to test upgrades).
std::unique_ptr<sql::Database> open_database(const Home& home, const std::string& db_url,
                                             int schema_version = sql::latest_schema_version());

// Serves the Store interface from a migrated database.
std::unique_ptr<Store> make_sql_store(std::unique_ptr<sql::Database> db);

}  // namespace sax
