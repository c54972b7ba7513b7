#pragma once
// PostgreSQL (libpqxx) behind the sql::Database interface: a pool of connections, each with
// its prepared statements; transient failures (server restarting, connection dropped before
// commit, serialisation conflicts) are retried with backoff, and a commit whose outcome is
// unknown is reported as an error, never as success.
#include <memory>
#include <string>

#include "store/sql.h"

namespace sax::sql {

std::unique_ptr<Database> open_postgres(const std::string& url);

// The URL with any password replaced by "***", for messages.
std::string redact_url(const std::string& url);

}  // namespace sax::sql
