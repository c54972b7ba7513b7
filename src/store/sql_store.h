#pragma once
// The Store written once over sql::Database; SQLite and PostgreSQL differ only below it.
#include <memory>

#include "store/sql.h"
#include "store/store.h"

namespace sax {

// Migrates the database, then serves the Store interface from it.
std::unique_ptr<Store> make_sql_store(std::unique_ptr<sql::Database> db);

}  // namespace sax
