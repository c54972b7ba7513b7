#include "store/sqlite_db.h"

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/error.h"

namespace sax::sql {

namespace {

constexpr int kBusyTimeoutMs = 30000;  // other processes (ingest, serve) share the file
constexpr size_t kMaxReaders = 32;     // one per concurrent web client at the target load
// The write-ahead log is truncated back to this size when it restarts, and emptied once it
// holds more (SqliteConnection::truncate_large_wal).
constexpr int64_t kWalLimitBytes = 16 << 20;
constexpr int kWalLimitPages = 4096;   // at SQLite's default 4 KiB page
constexpr int kTruncateBusyMs = 1000;  // how long a truncating checkpoint waits for readers

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
    try {
      run_once("PRAGMA foreign_keys = ON");
      if (writer) set_up_writer(file);
    } catch (...) {
      sqlite3_close(db_);  // the destructor does not run for a constructor that throws
      throw;
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

  // SQLite opens a file it may not write read-only without a word, or fails at the first
  // write with "unable to open database file": a read-only home is named as such instead.
  void set_up_writer(const std::filesystem::path& file) {
    const std::filesystem::path folder = file.parent_path();
    const bool read_only = sqlite3_db_readonly(db_, "main") == 1 ||
                           ::access(folder.c_str(), W_OK) != 0 ||
                           (std::filesystem::exists(file) && ::access(file.c_str(), W_OK) != 0);
    if (read_only)
      throw Error("cannot open database " + file_ + ": the data home " + folder.string() +
                  " is read-only (saxdetect writes its store and samples there; choose another "
                  "with --home)");
    run_once("PRAGMA journal_mode = WAL");
    // In WAL mode NORMAL cannot corrupt the database; a power cut may lose only the last
    // commits, and it makes a vote cost no fsync.
    run_once("PRAGMA synchronous = NORMAL");
    // Checkpoints (which fsync) run on a background thread, not inside someone's commit.
    run_once("PRAGMA wal_autocheckpoint = 0");
    run_once("PRAGMA journal_size_limit = " + std::to_string(kWalLimitBytes));
  }

  // False once SQLite rolled a failed transaction back by itself.
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

  // Records the log's size after each commit, for truncate_large_wal().
  void watch_wal() {
    sqlite3_wal_hook(
        db_,
        [](void* self, sqlite3*, const char*, int pages) {
          static_cast<SqliteConnection*>(self)->wal_pages_ = pages;
          return SQLITE_OK;
        },
        this);
  }

  // Empties the write-ahead log once it holds kWalLimitPages. Readers that overlap without a
  // pause keep PASSIVE checkpoints from ever restarting the log, which then grew by ~20 KB a
  // vote; and a checkpointer on another connection starves against a busy writer, so the
  // writer does it itself, between transactions. It waits at most kTruncateBusyMs for the
  // readers; after a failed try the next waits for another kWalLimitPages.
  void truncate_large_wal() {
    if (wal_pages_ < next_truncate_) return;
    sqlite3_busy_timeout(db_, kTruncateBusyMs);
    const int rc =
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    next_truncate_ = rc == SQLITE_OK ? kWalLimitPages : wal_pages_ + kWalLimitPages;
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
  int wal_pages_ = 0;  // frames in the write-ahead log after the last commit
  int next_truncate_ = kWalLimitPages;
};

// Copies the write-ahead log back into the database every second, PASSIVE so it never blocks
// readers or the writer; this keeps the fsyncs of checkpointing out of the vote latency.
class Checkpointer {
 public:
  explicit Checkpointer(const std::filesystem::path& file)
      : conn_(file, /*writer=*/true), thread_([this] { run(); }) {}
  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) {
      try {
        conn_.run_once("PRAGMA wal_checkpoint(PASSIVE)");
      } catch (const Error&) {  // busy: the next round catches up
      }
    }
  }

  SqliteConnection conn_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

// Group commit: writers queue their work; whichever finds no batch running runs everything
// queued so far in ONE transaction, each piece inside a savepoint (so one failure rolls back
// only itself), then commits once and tells every waiter how its piece ended. Under many
// concurrent writers this replaces one lock hand-off and one commit per vote by one per batch,
// which is what keeps vote latency flat with 32 clients on 2 cores.
class GroupCommit {
 public:
  explicit GroupCommit(SqliteConnection& conn) : conn_(conn) {}

  void write(const std::function<void(Connection&)>& work) {
    Pending mine{&work, nullptr};
    std::unique_lock lock(mutex_);
    queue_.push_back(&mine);
    while (!mine.done) {
      if (batch_running_) {
        finished_.wait(lock);
        continue;
      }
      batch_running_ = true;
      std::vector<Pending*> batch;
      batch.swap(queue_);
      lock.unlock();
      run_batch(batch);
      conn_.truncate_large_wal();
      lock.lock();
      for (Pending* pending : batch) pending->done = true;
      batch_running_ = false;
      finished_.notify_all();
    }
    if (mine.error) std::rethrow_exception(mine.error);
  }

 private:
  struct Pending {
    const std::function<void(Connection&)>* work;
    std::exception_ptr error;
    bool done = false;
  };

  void run_batch(const std::vector<Pending*>& batch) {
    std::vector<Pending*> in_this_transaction;
    for (Pending* pending : batch) {
      if (!conn_.in_transaction() && !begin(pending)) continue;
      if (run_one(*pending)) {
        in_this_transaction.push_back(pending);
      } else if (!conn_.in_transaction()) {  // SQLite gave the whole transaction up
        fail_all(in_this_transaction, pending->error);
      }
    }
    if (!conn_.in_transaction()) return;
    try {
      conn_.run_once("COMMIT");
    } catch (...) {
      fail_all(in_this_transaction, std::current_exception());
      rollback();
    }
  }

  bool begin(Pending* pending) {
    try {
      conn_.run_once("BEGIN IMMEDIATE");
      return true;
    } catch (...) {
      pending->error = std::current_exception();
      return false;
    }
  }

  bool run_one(Pending& pending) {
    try {
      conn_.run_once("SAVEPOINT piece");
      (*pending.work)(conn_);
      conn_.run_once("RELEASE piece");
      return true;
    } catch (...) {
      pending.error = std::current_exception();
    }
    if (conn_.in_transaction()) {
      try {
        conn_.run_once("ROLLBACK TO piece");
        conn_.run_once("RELEASE piece");
      } catch (const Error&) {
        rollback();
      }
    }
    return false;
  }

  static void fail_all(std::vector<Pending*>& pieces, const std::exception_ptr& error) {
    for (Pending* pending : pieces) pending->error = error;
    pieces.clear();
  }

  void rollback() {
    try {
      if (conn_.in_transaction()) conn_.run_once("ROLLBACK");
    } catch (const Error&) {  // nothing left to roll back
    }
  }

  SqliteConnection& conn_;
  std::mutex mutex_;
  std::condition_variable finished_;
  std::vector<Pending*> queue_;
  bool batch_running_ = false;
};

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(const std::filesystem::path& file)
      : file_(file), writer_(file, /*writer=*/true), group_commit_(writer_), checkpointer_(file) {
    dialect_ = {
        "sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT", "", "", "", /*writes_in_with=*/false};
    writer_.watch_wal();
  }

  void write(const std::function<void(Connection&)>& work) override { group_commit_.write(work); }

  Rows write_one(const std::string& sql, const Params& params) override {
    Rows rows;
    group_commit_.write([&](Connection& conn) { rows = conn.query(sql, params); });
    return rows;
  }

  void read(const std::function<void(Connection&)>& work) override {
    std::unique_ptr<SqliteConnection> reader = take_reader();
    try {
      read_transaction(*reader, work);
    } catch (...) {
      give_back(std::move(reader));
      throw;
    }
    give_back(std::move(reader));
  }

  const Dialect& dialect() const override { return dialect_; }

 private:
  static void read_transaction(SqliteConnection& conn,
                               const std::function<void(Connection&)>& work) {
    conn.run_once("BEGIN");
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
  SqliteConnection writer_;
  GroupCommit group_commit_;
  Checkpointer checkpointer_;
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
