#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include "common/error.h"

namespace sax::sql {

namespace {

constexpr int kBusyTimeoutMs = 30000;  // other processes (ingest, serve) share the file
constexpr size_t kMaxReaders = 16;

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(const std::filesystem::path& file, bool writer) : file_(file.string()) {
    const int flags = (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
                      SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(file_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string reason = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error("cannot open database " + file_ + ": " + reason);
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    sqlite3_extended_result_codes(db_, 1);
    run_once("PRAGMA foreign_keys = ON");
    if (writer) {
      run_once("PRAGMA journal_mode = WAL");
      // In WAL mode NORMAL cannot corrupt the database; a power cut may lose only the last
      // commits, and it makes a vote cost no fsync.
      run_once("PRAGMA synchronous = NORMAL");
    }
  }
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Rows query(const std::string& sql, const Params& params) override {
    sqlite3_stmt* stmt = prepared(sql);
    Rows rows;
    Reset reset{stmt};
    bind(stmt, sql, params);
    for (int rc = sqlite3_step(stmt);; rc = sqlite3_step(stmt)) {
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail(sql);
      rows.emplace_back(read_row(stmt));
    }
    return rows;
  }

  int64_t execute(const std::string& sql, const Params& params) override {
    query(sql, params);
    return sqlite3_changes64(db_);
  }

  void run_once(const std::string& sql) override {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }

 private:
  struct Reset {
    sqlite3_stmt* stmt;
    ~Reset() {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    }
  };

  [[noreturn]] void fail(const std::string& sql) const {
    throw Error("database " + file_ + ": " + sqlite3_errmsg(db_) + " (in: " + sql.substr(0, 60) +
                ")");
  }

  sqlite3_stmt* prepared(const std::string& sql) {
    if (auto found = statements_.find(sql); found != statements_.end()) return found->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
      fail(sql);
    statements_.emplace(sql, stmt);
    return stmt;
  }

  void bind(sqlite3_stmt* stmt, const std::string& sql, const Params& params) {
    for (size_t i = 0; i < params.size(); ++i) {
      // "$N" is a named parameter to SQLite; look its slot up so $2 may appear before $1.
      const int slot = sqlite3_bind_parameter_index(stmt, ("$" + std::to_string(i + 1)).c_str());
      if (slot == 0) continue;  // a parameter the statement does not use
      int rc = SQLITE_OK;
      const Value& value = params[i];
      if (std::holds_alternative<std::nullptr_t>(value)) rc = sqlite3_bind_null(stmt, slot);
      if (auto* i64 = std::get_if<int64_t>(&value)) rc = sqlite3_bind_int64(stmt, slot, *i64);
      if (auto* real = std::get_if<double>(&value)) rc = sqlite3_bind_double(stmt, slot, *real);
      if (auto* text = std::get_if<std::string>(&value))
        rc = sqlite3_bind_text(stmt, slot, text->data(), static_cast<int>(text->size()),
                               SQLITE_STATIC);
      if (rc != SQLITE_OK) fail(sql);
    }
  }

  static Row read_row(sqlite3_stmt* stmt) {
    const int columns = sqlite3_column_count(stmt);
    std::vector<Value> values;
    values.reserve(columns);
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL:
          values.emplace_back(nullptr);
          break;
        case SQLITE_INTEGER:
          values.emplace_back(int64_t{sqlite3_column_int64(stmt, c)});
          break;
        case SQLITE_FLOAT:
          values.emplace_back(sqlite3_column_double(stmt, c));
          break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          values.emplace_back(std::string(text, sqlite3_column_bytes(stmt, c)));
        }
      }
    }
    return Row(std::move(values));
  }

  std::string file_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(const std::filesystem::path& file)
      : file_(file), writer_(file, /*writer=*/true) {
    dialect_ = {"sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT", "", "", ""};
  }

  void write(const std::function<void(Connection&)>& work) override {
    std::lock_guard lock(write_mutex_);
    in_transaction(writer_, "BEGIN IMMEDIATE", work);
  }

  void read(const std::function<void(Connection&)>& work) override {
    std::unique_ptr<SqliteConnection> reader = take_reader();
    try {
      in_transaction(*reader, "BEGIN", work);
    } catch (...) {
      give_back(std::move(reader));
      throw;
    }
    give_back(std::move(reader));
  }

  const Dialect& dialect() const override { return dialect_; }

 private:
  static void in_transaction(SqliteConnection& conn, const char* begin,
                             const std::function<void(Connection&)>& work) {
    conn.run_once(begin);
    try {
      work(conn);
    } catch (...) {
      try {
        conn.run_once("ROLLBACK");
      } catch (const Error&) {  // already rolled back by SQLite itself
      }
      throw;
    }
    conn.run_once("COMMIT");
  }

  std::unique_ptr<SqliteConnection> take_reader() {
    std::unique_lock lock(pool_mutex_);
    pool_ready_.wait(lock, [&] { return !idle_readers_.empty() || open_readers_ < kMaxReaders; });
    if (!idle_readers_.empty()) {
      auto reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
    ++open_readers_;
    lock.unlock();
    try {
      return std::make_unique<SqliteConnection>(file_, /*writer=*/false);
    } catch (...) {
      std::lock_guard relock(pool_mutex_);
      --open_readers_;
      pool_ready_.notify_one();
      throw;
    }
  }

  void give_back(std::unique_ptr<SqliteConnection> reader) {
    std::lock_guard lock(pool_mutex_);
    idle_readers_.push_back(std::move(reader));
    pool_ready_.notify_one();
  }

  std::filesystem::path file_;
  Dialect dialect_;
  std::mutex write_mutex_;
  SqliteConnection writer_;
  std::mutex pool_mutex_;
  std::condition_variable pool_ready_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_readers_;
  size_t open_readers_ = 0;
};

}  // namespace

std::unique_ptr<Database> open_sqlite(const std::filesystem::path& file) {
  return std::make_unique<SqliteDatabase>(file);
}

}  // namespace sax::sql
