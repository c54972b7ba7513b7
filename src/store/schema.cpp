#include "store/schema.h"

#include "common/error.h"

namespace sax::sql {

namespace {

// Timestamps are ISO-8601 UTC text written by the application, so both back ends sort,
// compare and cut them (substr for the day) the same way. vote_count columns mirror the
// votes table (kept in the same transactions) so next_sample needs no aggregate scan.
const std::vector<std::vector<std::string>> kSteps = {
    // 1: the initial schema
    {
        "CREATE TABLE sources ("
        " id {id},"
        " path TEXT NOT NULL,"
        " hash TEXT NOT NULL UNIQUE,"
        " duration DOUBLE PRECISION NOT NULL DEFAULT 0,"
        " sample_rate BIGINT NOT NULL DEFAULT 0,"
        " channels BIGINT NOT NULL DEFAULT 0,"
        " codec TEXT NOT NULL DEFAULT '',"
        " title TEXT NOT NULL DEFAULT '',"
        " artist TEXT NOT NULL DEFAULT '',"
        " album TEXT NOT NULL DEFAULT '',"
        " state TEXT NOT NULL CHECK (state IN ('ingesting', 'done')),"
        " worker TEXT NOT NULL DEFAULT '',"
        " claimed_at DOUBLE PRECISION NOT NULL DEFAULT 0,"
        " vote_count BIGINT NOT NULL DEFAULT 0,"
        " created TEXT NOT NULL)",

        "CREATE TABLE samples ("
        " id {id},"
        " source_id BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,"
        " start DOUBLE PRECISION NOT NULL,"
        " duration DOUBLE PRECISION NOT NULL,"
        " path TEXT NOT NULL,"
        " web_path TEXT NOT NULL DEFAULT '',"
        " hash TEXT NOT NULL DEFAULT '',"
        " rms DOUBLE PRECISION NOT NULL DEFAULT 0,"
        " silent BIGINT NOT NULL DEFAULT 0,"
        " vote_count BIGINT NOT NULL DEFAULT 0,"
        " created TEXT NOT NULL,"
        " UNIQUE (source_id, start))",

        "CREATE TABLE annotators ("
        " id {id},"
        " name TEXT NOT NULL UNIQUE,"
        " created TEXT NOT NULL)",

        "CREATE TABLE votes ("
        " id {id},"
        " sample_id BIGINT NOT NULL REFERENCES samples (id) ON DELETE CASCADE,"
        " annotator_id BIGINT NOT NULL REFERENCES annotators (id) ON DELETE CASCADE,"
        " label TEXT NOT NULL CHECK (label IN ('sax', 'not_sax', 'unsure')),"
        " created TEXT NOT NULL,"
        " UNIQUE (sample_id, annotator_id))",

        "CREATE TABLE predictions ("
        " model TEXT NOT NULL,"
        " sample_id BIGINT NOT NULL REFERENCES samples (id) ON DELETE CASCADE,"
        " probability DOUBLE PRECISION NOT NULL,"
        " uncertainty DOUBLE PRECISION NOT NULL,"
        " PRIMARY KEY (model, sample_id))",

        // next_sample: candidates by vote count; undo: an annotator's latest vote;
        // uncertain-first: walk one model's predictions from the most uncertain.
        "CREATE INDEX samples_candidates ON samples (silent, vote_count)",
        "CREATE INDEX votes_by_annotator ON votes (annotator_id, id)",
        "CREATE INDEX predictions_by_uncertainty ON predictions (model, uncertainty)",
        "CREATE INDEX sources_by_state ON sources (state, claimed_at)",
    },
    // 2: next_sample looks for candidates source by source; SQLite used the old index for
    // that lookup and scanned every sample once per source.
    {
        "DROP INDEX samples_candidates",
        "CREATE INDEX samples_candidates_by_source ON samples (source_id, silent, vote_count)",
    },
    // 3: a random rank fixed per source breaks ties between equally voted sources, so
    // next_sample walks an index to the first source with a candidate instead of sorting all.
    {
        "ALTER TABLE sources ADD COLUMN shuffle BIGINT NOT NULL DEFAULT 0",
        "CREATE INDEX sources_by_votes ON sources (vote_count, shuffle)",
    },
    // 4: where a saxophone sounds in a source, when known exactly (a synthetic library's
    // truth): JSON [[start, end], ...]; '' when not known.
    {
        "ALTER TABLE sources ADD COLUMN sax_times TEXT NOT NULL DEFAULT ''",
    },
    // 5: library scans, one row per (source, model). A row is claimed by a worker (worker,
    // claimed_at) while it is scanned; status says what the result columns hold: 'pending'
    // (nothing yet), 'done', 'missing' (the file went away; results kept), 'error'.
    // sort_name and search are lower-cased copies of the source's names, so the listing
    // filters and sorts on indexed columns of this table alone.
    {
        "CREATE TABLE scans ("
        " source_id BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,"
        " model TEXT NOT NULL,"
        " status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'missing', 'error')),"
        " worker TEXT NOT NULL DEFAULT '',"
        " claimed_at DOUBLE PRECISION NOT NULL DEFAULT 0,"
        " file_hash TEXT NOT NULL DEFAULT '',"
        " file_stamp TEXT NOT NULL DEFAULT '',"
        " sax BIGINT NOT NULL DEFAULT 0,"
        " probability DOUBLE PRECISION NOT NULL DEFAULT 0,"
        " share DOUBLE PRECISION NOT NULL DEFAULT 0,"
        " duration DOUBLE PRECISION NOT NULL DEFAULT 0,"
        " segments TEXT NOT NULL DEFAULT '[]',"
        " curve TEXT NOT NULL DEFAULT '',"
        " curve_step DOUBLE PRECISION NOT NULL DEFAULT 0,"
        " error TEXT NOT NULL DEFAULT '',"
        " sort_name TEXT NOT NULL DEFAULT '',"
        " search TEXT NOT NULL DEFAULT '',"
        " scanned TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (source_id, model))",
        // The listing walks one of these in its sort order, with or without the verdict filter,
        // and stops after a page; counts use the same ones. Status (and the verdict) ride along
        // so rows skipped by the filter or the offset are judged from the index alone.
        "CREATE INDEX scans_by_share ON scans (model, share, status, sax)",
        "CREATE INDEX scans_by_verdict_share ON scans (model, sax, share, status)",
        "CREATE INDEX scans_by_probability ON scans (model, probability, status, sax)",
        "CREATE INDEX scans_by_verdict_probability ON scans (model, sax, probability, status)",
        "CREATE INDEX scans_by_duration ON scans (model, duration, status, sax)",
        "CREATE INDEX scans_by_name ON scans (model, sort_name, status, sax)",
    },
    // 6: a file ingested again with other content replaces its old source (finish_source
    // looks them up by path). Votes that cannot move to a new sample with the same audio are
    // kept here, self-contained (names, not ids: their sample and source rows are gone) and
    // pointing at the clip files they labelled, which stay.
    {
        "CREATE INDEX sources_by_path ON sources (path)",
        "CREATE TABLE retired_votes ("
        " id {id},"
        " annotator TEXT NOT NULL,"
        " label TEXT NOT NULL CHECK (label IN ('sax', 'not_sax', 'unsure')),"
        " created TEXT NOT NULL,"
        " retired TEXT NOT NULL,"
        " source_path TEXT NOT NULL,"
        " source_hash TEXT NOT NULL,"
        " start DOUBLE PRECISION NOT NULL,"
        " duration DOUBLE PRECISION NOT NULL,"
        " sample_hash TEXT NOT NULL,"
        " sample_path TEXT NOT NULL,"
        " web_path TEXT NOT NULL)",
    },
    // 7: the format of every sample in the store, recorded by the first ingest (one row).
    {
        "CREATE TABLE sample_format ("
        " id BIGINT PRIMARY KEY CHECK (id = 1),"
        " sample_rate BIGINT NOT NULL,"
        " seconds DOUBLE PRECISION NOT NULL)",
    },
};

using Kind = TableSpec::Kind;
const std::vector<TableSpec> kTables = {
    {"sources",
     {{"id", Kind::integer},
      {"path", Kind::text},
      {"hash", Kind::text},
      {"duration", Kind::real},
      {"sample_rate", Kind::integer},
      {"channels", Kind::integer},
      {"codec", Kind::text},
      {"title", Kind::text},
      {"artist", Kind::text},
      {"album", Kind::text},
      {"state", Kind::text},
      {"worker", Kind::text},
      {"claimed_at", Kind::real},
      {"vote_count", Kind::integer},
      {"created", Kind::text},
      {"sax_times", Kind::text}},
     "id",
     true},
    {"samples",
     {{"id", Kind::integer},
      {"source_id", Kind::integer},
      {"start", Kind::real},
      {"duration", Kind::real},
      {"path", Kind::text},
      {"web_path", Kind::text},
      {"hash", Kind::text},
      {"rms", Kind::real},
      {"silent", Kind::integer},
      {"vote_count", Kind::integer},
      {"created", Kind::text}},
     "id",
     true},
    {"annotators",
     {{"id", Kind::integer}, {"name", Kind::text}, {"created", Kind::text}},
     "id",
     true},
    {"votes",
     {{"id", Kind::integer},
      {"sample_id", Kind::integer},
      {"annotator_id", Kind::integer},
      {"label", Kind::text},
      {"created", Kind::text}},
     "id",
     true},
    {"predictions",
     {{"model", Kind::text},
      {"sample_id", Kind::integer},
      {"probability", Kind::real},
      {"uncertainty", Kind::real}},
     "model, sample_id",
     false},
    {"scans",
     {{"source_id", Kind::integer},
      {"model", Kind::text},
      {"status", Kind::text},
      {"worker", Kind::text},
      {"claimed_at", Kind::real},
      {"file_hash", Kind::text},
      {"file_stamp", Kind::text},
      {"sax", Kind::integer},
      {"probability", Kind::real},
      {"share", Kind::real},
      {"duration", Kind::real},
      {"segments", Kind::text},
      {"curve", Kind::text},
      {"curve_step", Kind::real},
      {"error", Kind::text},
      {"sort_name", Kind::text},
      {"search", Kind::text},
      {"scanned", Kind::text}},
     "source_id, model",
     false},
    {"retired_votes",
     {{"id", Kind::integer},
      {"annotator", Kind::text},
      {"label", Kind::text},
      {"created", Kind::text},
      {"retired", Kind::text},
      {"source_path", Kind::text},
      {"source_hash", Kind::text},
      {"start", Kind::real},
      {"duration", Kind::real},
      {"sample_hash", Kind::text},
      {"sample_path", Kind::text},
      {"web_path", Kind::text}},
     "id",
     true},
    {"sample_format",
     {{"id", Kind::integer}, {"sample_rate", Kind::integer}, {"seconds", Kind::real}},
     "id",
     false},
};

std::string with_dialect(std::string statement, const Dialect& dialect) {
  const std::string token = "{id}";
  for (size_t at = statement.find(token); at != std::string::npos; at = statement.find(token))
    statement.replace(at, token.size(), dialect.id_column);
  return statement;
}

}  // namespace

const std::vector<std::vector<std::string>>& migration_steps() { return kSteps; }

const std::vector<TableSpec>& store_tables() { return kTables; }

int latest_schema_version() { return static_cast<int>(kSteps.size()); }

int migrate(Database& db, int target_version) {
  int found = 0;
  db.write([&](Connection& conn) {
    if (!db.dialect().migration_lock.empty()) conn.run_once(db.dialect().migration_lock);
    conn.run_once("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)");
    found = static_cast<int>(
        conn.query("SELECT coalesce(max(version), 0) FROM schema_version").at(0).integer(0));
    if (found > latest_schema_version())
      throw Error("database schema version " + std::to_string(found) +
                  " is newer than this saxdetect understands (" +
                  std::to_string(latest_schema_version()) + "); upgrade saxdetect");
    for (int version = found + 1; version <= target_version; ++version) {
      for (const auto& statement : kSteps[version - 1])
        conn.run_once(with_dialect(statement, db.dialect()));
      conn.execute("INSERT INTO schema_version (version) VALUES ($1)", {int64_t{version}});
    }
  });
  return found;
}

}  // namespace sax::sql
