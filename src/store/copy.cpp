#include "store/copy.h"

#include "common/error.h"
#include "common/hash.h"
#include "store/schema.h"

namespace sax {

namespace {

using sql::TableSpec;

std::string column_list(const TableSpec& table) {
  std::string list;
  for (const auto& [name, kind] : table.columns) list += (list.empty() ? "" : ", ") + name;
  return list;
}

std::string select_all(const TableSpec& table) {
  return "SELECT " + column_list(table) + " FROM " + table.name + " ORDER BY " + table.order_by;
}

// The same text for the same value whichever back end returned it.
std::string canonical(const sql::Row& row, size_t column, TableSpec::Kind kind) {
  switch (kind) {
    case TableSpec::Kind::integer:
      return std::to_string(row.integer(column));
    case TableSpec::Kind::real:
      return sql::exact_text(row.real(column));
    case TableSpec::Kind::text:
      return row.text(column);
  }
  return {};
}

TableDigest digest_rows(const TableSpec& table, const sql::Rows& rows) {
  std::string text;
  for (const sql::Row& row : rows) {
    for (size_t c = 0; c < table.columns.size(); ++c) {
      text += canonical(row, c, table.columns[c].second);
      text += '\x1f';  // unit separator: cannot be confused with column content boundaries
    }
    text += '\x1e';
  }
  return {table.name, static_cast<int64_t>(rows.size()), sha256_bytes(text.data(), text.size())};
}

sql::Rows read_table(sql::Database& db, const TableSpec& table) {
  sql::Rows rows;
  db.read([&](sql::Connection& conn) { rows = conn.query(select_all(table)); });
  return rows;
}

sql::Params params_of(const TableSpec& table, const sql::Row& row) {
  sql::Params params;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    switch (table.columns[c].second) {
      case TableSpec::Kind::integer:
        params.emplace_back(row.integer(c));
        break;
      case TableSpec::Kind::real:
        params.emplace_back(row.real(c));
        break;
      case TableSpec::Kind::text:
        params.emplace_back(row.text(c));
        break;
    }
  }
  return params;
}

std::string insert_statement(const TableSpec& table) {
  std::string placeholders;
  for (size_t c = 0; c < table.columns.size(); ++c)
    placeholders += (c ? ", $" : "$") + std::to_string(c + 1);
  return "INSERT INTO " + table.name + " (" + column_list(table) + ") VALUES (" + placeholders +
         ")";
}

void require_empty(sql::Connection& conn) {
  for (const TableSpec& table : sql::store_tables()) {
    const int64_t rows = conn.query("SELECT count(*) FROM " + table.name).at(0).integer(0);
    if (rows > 0)
      throw Error("the target store already holds " + std::to_string(rows) + " rows in table " +
                  table.name + "; migrate copies into an empty store only");
  }
}

void continue_ids(sql::Connection& conn, const sql::Dialect& dialect, const TableSpec& table) {
  if (dialect.continue_ids.empty() || !table.numbered) return;
  std::string statement = dialect.continue_ids;
  for (auto at = statement.find("{table}"); at != std::string::npos; at = statement.find("{table}"))
    statement.replace(at, 7, table.name);
  conn.run_once(statement);
}

int64_t count_rows(sql::Database& db) {
  int64_t total = 0;
  db.read([&](sql::Connection& conn) {
    for (const TableSpec& table : sql::store_tables())
      total += conn.query("SELECT count(*) FROM " + table.name).at(0).integer(0);
  });
  return total;
}

}  // namespace

std::vector<TableDigest> digest_store(sql::Database& db) {
  std::vector<TableDigest> digests;
  for (const TableSpec& table : sql::store_tables())
    digests.push_back(digest_rows(table, read_table(db, table)));
  return digests;
}

std::vector<TableDigest> copy_store(sql::Database& from, sql::Database& to,
                                    Progress::Mode progress_mode) {
  Progress progress("copying rows", static_cast<size_t>(count_rows(from)), progress_mode);
  to.write([&](sql::Connection& conn) {
    require_empty(conn);
    for (const TableSpec& table : sql::store_tables()) {
      const std::string insert = insert_statement(table);
      for (const sql::Row& row : read_table(from, table)) {
        conn.execute(insert, params_of(table, row));
        progress.advance();
      }
      continue_ids(conn, to.dialect(), table);
    }
  });
  progress.finish();

  const auto source_digests = digest_store(from);
  const auto target_digests = digest_store(to);
  for (size_t i = 0; i < source_digests.size(); ++i) {
    const TableDigest& a = source_digests[i];
    const TableDigest& b = target_digests.at(i);
    if (a.rows != b.rows || a.checksum != b.checksum)
      throw Error("table " + a.table + " differs after copying: " + std::to_string(a.rows) +
                  " rows (sha256 " + a.checksum.substr(0, 12) + ") in the source, " +
                  std::to_string(b.rows) + " rows (sha256 " + b.checksum.substr(0, 12) +
                  ") in the target");
  }
  return source_digests;
}

}  // namespace sax
