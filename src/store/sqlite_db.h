#pragma once
// SQLite behind the sql::Database interface: WAL, foreign keys, a busy timeout; one writer
// connection (concurrent writes are batched into one transaction each, see GroupCommit), a
// pool of readers so readers never wait for writers, and checkpoints on a background thread.
// Statements are prepared once per connection.
#include <filesystem>
#include <memory>

#include "store/sql.h"

namespace sax::sql {

std::unique_ptr<Database> open_sqlite(const std::filesystem::path& file);

}  // namespace sax::sql
