#pragma once
// The small SQL layer both back ends implement, so the store's logic (store/sql_store.cpp) is
// written once. Statements use $1, $2, ... placeholders, which PostgreSQL understands natively
// and SQLite treats as named parameters; everything else in them is portable SQL.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sax::sql {

// A parameter or a column value. PostgreSQL returns every column as text; the getters below
// convert, so callers never care which back end produced a row.
using Value = std::variant<std::nullptr_t, int64_t, double, std::string>;
using Params = std::vector<Value>;

class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool is_null(size_t column) const;
  int64_t integer(size_t column) const;   // NULL reads as 0
  double real(size_t column) const;       // NULL reads as 0
  std::string text(size_t column) const;  // NULL reads as ""

 private:
  std::vector<Value> values_;
};

using Rows = std::vector<Row>;

// One connection inside a transaction the Database opened for it.
class Connection {
 public:
  virtual ~Connection() = default;
  // A statement with parameters (prepared once per connection and cached).
  virtual Rows query(const std::string& sql, const Params& params = {}) = 0;
  // Same, returning the number of rows changed.
  virtual int64_t execute(const std::string& sql, const Params& params = {}) = 0;
  // A statement run once, without parameters (schema changes); never cached.
  virtual void run_once(const std::string& sql) = 0;
};

// Differences between the back ends that portable SQL cannot hide.
struct Dialect {
  std::string name;            // "sqlite" or "postgresql"
  std::string id_column;       // an auto-numbered 64-bit primary key
  std::string lock_rows;       // appended to SELECTs that claim rows ("" or FOR UPDATE ...)
  std::string migration_lock;  // run first in the migration transaction ("" when not needed)
  // After rows were inserted with explicit ids: makes new ids continue after them ("{table}"
  // stands for the table; "" when the back end does that by itself).
  std::string continue_ids;
  // Data-modifying statements inside WITH (PostgreSQL has them, SQLite does not): several
  // changes in one statement, hence one round trip.
  bool writes_in_with = false;
};

class Database {
 public:
  virtual ~Database() = default;
  // Runs work inside one transaction that writes; commits when work returns, rolls back when
  // it throws (and rethrows). Returns only after the commit succeeded.
  virtual void write(const std::function<void(Connection&)>& work) = 0;
  // Runs one statement as a write transaction of its own and returns its rows. On PostgreSQL
  // that is one round trip (write() adds a BEGIN and a COMMIT, each a round trip). Retried
  // like write() when the connection drops, even mid-statement where the outcome is unknown,
  // so the statement must leave the same end state when it runs twice.
  virtual Rows write_one(const std::string& sql, const Params& params) = 0;
  // Runs work inside one read-only snapshot.
  virtual void read(const std::function<void(Connection&)>& work) = 0;
  virtual const Dialect& dialect() const = 0;
};

// Formats a double so that it reads back bit-for-bit (text parameters must round-trip).
std::string exact_text(double value);

}  // namespace sax::sql
