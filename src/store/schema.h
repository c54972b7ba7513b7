#pragma once
// The store's schema as a list of forward migrations, shared by SQLite and PostgreSQL.
#include <string>
#include <vector>

#include "store/sql.h"

namespace sax::sql {

// Each step is a list of statements; "{id}" stands for the dialect's auto-numbered key.
const std::vector<std::vector<std::string>>& migration_steps();

// The version a fully migrated store has (the number of steps).
int latest_schema_version();

// The tables a store holds, in foreign-key order, with their columns' kinds: what copying
// and checksumming a whole store need. Kept next to the migrations that create them.
struct TableSpec {
  enum class Kind { integer, real, text };
  std::string name;
  std::vector<std::pair<std::string, Kind>> columns;
  std::string order_by;   // a total order, so both back ends list rows identically
  bool numbered = false;  // has an auto-numbered id column
};
const std::vector<TableSpec>& store_tables();

// Brings the database up to target_version (all steps in one transaction) and returns the
// version found before. Throws sax::Error when the database is newer than this program.
int migrate(Database& db, int target_version = latest_schema_version());

}  // namespace sax::sql
