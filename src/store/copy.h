#pragma once
// Copying a whole store from one database to another (SQLite -> PostgreSQL, or any pair),
// verified by row counts and checksums computed the same way on both sides.
#include <cstdint>
#include <string>
#include <vector>

#include "common/progress.h"
#include "store/sql.h"

namespace sax {

struct TableDigest {
  std::string table;
  int64_t rows = 0;
  std::string checksum;  // SHA-256 over the rows in a fixed order, values in a canonical text
};

// Every table's row count and checksum.
std::vector<TableDigest> digest_store(sql::Database& db);

// Copies every row (ids kept) into `to`, which must hold no rows yet, in one transaction, then
// compares digests of both sides. Throws sax::Error naming the table when anything differs.
// Memory holds one table at a time.
std::vector<TableDigest> copy_store(sql::Database& from, sql::Database& to,
                                    Progress::Mode progress = Progress::Mode::automatic);

}  // namespace sax
