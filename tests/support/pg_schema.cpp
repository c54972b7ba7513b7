#include "support/pg_schema.h"

#include <unistd.h>

#include <cstdlib>
#include <exception>

#include <pqxx/pqxx>

namespace sax::testing {

PgSchema::PgSchema(const std::string& prefix) {
  const char* base = std::getenv("SAXDETECT_TEST_PG");
  if (!base || !*base) return;
  base_ = base;
  name_ = prefix + "_" + std::to_string(getpid());
  admin("DROP SCHEMA IF EXISTS " + name_ + " CASCADE; CREATE SCHEMA " + name_);
  url_ = base_ + (base_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         name_ + "&application_name=" + name_;
}

PgSchema::~PgSchema() {
  if (name_.empty()) return;
  try {
    admin("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
  } catch (const std::exception&) {  // best effort: the cluster is thrown away anyway
  }
}

void PgSchema::admin(const std::string& statement) const {
  pqxx::connection conn(base_);
  pqxx::nontransaction tx(conn);
  tx.exec(statement);
}

}  // namespace sax::testing
