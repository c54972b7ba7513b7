// saxdetect migrate: copy a whole store (sources, samples, votes, predictions) into another,
// empty database, e.g. from the embedded SQLite to PostgreSQL, and verify the copy.
#include <fmt/format.h>

#include "cli/command.h"
#include "common/error.h"
#include "store/copy.h"
#include "store/pg_db.h"
#include "store/sql_store.h"

namespace sax::cli {

namespace {

const Command kMigrate(90, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "migrate", "Copy a whole store into another, empty database and verify the copy");
  static std::string from, to;
  command->add_option("--from", from, "Store to copy: sqlite:PATH or postgresql://...")->required();
  command->add_option("--to", to, "Empty store to fill: postgresql://... or sqlite:PATH")
      ->required();
  command->callback([&global] {
    if (from == to) throw Error("--from and --to name the same database: " + sql::redact_url(to));
    // Opening a missing SQLite file would create an empty store and "copy" nothing.
    if (from.rfind("sqlite:", 0) == 0 && !std::filesystem::exists(from.substr(7)))
      throw Error("--from " + from + ": no such file");
    const Home home = global.resolve_home();
    auto source = open_database(home, from);
    auto target = open_database(home, to);
    const auto digests = copy_store(
        *source, *target, global.quiet ? Progress::Mode::never : Progress::Mode::automatic);
    for (const TableDigest& digest : digests)
      fmt::print("{:<12}{:>10} rows  sha256 {}\n", digest.table, digest.rows, digest.checksum);
    fmt::print("Copied {} into {}: row counts and checksums match\n", sql::redact_url(from),
               sql::redact_url(to));
  });
});

}  // namespace

}  // namespace sax::cli
