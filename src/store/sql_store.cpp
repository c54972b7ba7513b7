#include "store/sql_store.h"

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "store/report.h"

namespace sax {

namespace {

using sql::Connection;
using sql::Params;
using sql::Row;

const std::string kSampleColumns =
    "s.id, s.source_id, s.start, s.duration, s.path, s.web_path, s.hash, s.rms, s.silent, "
    "s.created";
constexpr size_t kSampleColumnCount = 10;

const std::string kSourceColumns =
    "src.id, src.path, src.hash, src.duration, src.sample_rate, src.channels, src.codec, "
    "src.title, src.artist, src.album, src.state, "
    "(SELECT count(*) FROM samples s WHERE s.source_id = src.id)";

// A candidate for labelling: wanted, audible, and not yet voted on by annotator $2.
const std::string kCandidate =
    "s.silent = 0 AND s.vote_count < $1 AND NOT EXISTS (SELECT 1 FROM votes v WHERE "
    "v.sample_id = s.id AND v.annotator_id = $2)";

int64_t random_rank() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return static_cast<int64_t>(generator() >> 2);  // non-negative, fits BIGINT
}

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Sample sample_from(const Row& row) {
  Sample s;
  s.id = row.integer(0);
  s.source_id = row.integer(1);
  s.start = row.real(2);
  s.duration = row.real(3);
  s.path = row.text(4);
  s.web_path = row.text(5);
  s.hash = row.text(6);
  s.rms = row.real(7);
  s.silent = row.integer(8) != 0;
  s.created = row.text(9);
  return s;
}

Source source_from(const Row& row) {
  Source s;
  s.id = row.integer(0);
  s.path = row.text(1);
  s.hash = row.text(2);
  s.duration = row.real(3);
  s.sample_rate = static_cast<int>(row.integer(4));
  s.channels = static_cast<int>(row.integer(5));
  s.codec = row.text(6);
  s.title = row.text(7);
  s.artist = row.text(8);
  s.album = row.text(9);
  s.state = row.text(10);
  s.samples = row.integer(11);
  return s;
}

Label label_from(const std::string& text) {
  if (auto label = parse_label(text)) return *label;
  throw Error("the store holds an unknown label '" + text + "'");
}

std::vector<Vote> votes_from(const sql::Rows& rows) {
  std::vector<Vote> votes;
  votes.reserve(rows.size());
  for (const Row& row : rows)
    votes.push_back({row.integer(0), row.text(1), label_from(row.text(2)), row.text(3)});
  return votes;
}

// A vote as one statement ($1 sample id, $2 annotator name, $3 label, $4 time), so it costs
// one round trip to PostgreSQL. It registers the annotator on their first vote (only then
// writing that row; ON CONFLICT covers a first vote racing another), inserts the vote or
// replaces theirs on the sample, and counts a new vote on the sample and its source. A
// replaced vote takes a new id (id = DEFAULT): undo takes the annotator's most recent vote,
// which a replaced vote now is. xmax = 0 tells an inserted row from an updated one, which
// stays right when two requests cast the same annotator's vote at once. Nothing happens for
// an unknown sample. Returns (votes written: 0 or 1, of which replacements).
const std::string kVoteStatement =
    "WITH sample AS (SELECT id FROM samples WHERE id = $1), "
    "known AS (SELECT id FROM annotators WHERE name = $2), "
    "added AS (INSERT INTO annotators (name, created) SELECT $2, $4 "
    "  WHERE EXISTS (SELECT 1 FROM sample) AND NOT EXISTS (SELECT 1 FROM known) "
    "  ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id), "
    "annotator AS (SELECT id FROM known UNION ALL SELECT id FROM added), "
    "vote AS (INSERT INTO votes (sample_id, annotator_id, label, created) "
    "  SELECT sample.id, annotator.id, $3, $4 FROM sample, annotator "
    "  ON CONFLICT (sample_id, annotator_id) DO UPDATE "
    "  SET id = DEFAULT, label = excluded.label, created = excluded.created "
    "  RETURNING xmax = 0 AS fresh), "
    "counted AS (UPDATE samples SET vote_count = vote_count + 1 "
    "  WHERE id = $1 AND EXISTS (SELECT 1 FROM vote WHERE fresh) RETURNING source_id), "
    "source_counted AS (UPDATE sources SET vote_count = vote_count + 1 "
    "  WHERE id IN (SELECT source_id FROM counted) RETURNING id) "
    "SELECT (SELECT count(*) FROM vote), (SELECT count(*) FROM vote WHERE NOT fresh)";

const std::string kVoteQuery =
    "SELECT v.sample_id, a.name, v.label, v.created FROM votes v "
    "JOIN annotators a ON a.id = v.annotator_id ";

// Lower-cases ASCII letters only, identically on both back ends (their lower() differ).
std::string ascii_lower(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

std::string file_name_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A LIKE pattern matching `text` anywhere, with its wildcards taken literally.
std::string contains_pattern(const std::string& text) {
  std::string pattern = "%";
  for (char c : ascii_lower(text)) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + "%";
}

const std::string kScanColumns =
    "sc.source_id, sc.model, sc.status, sc.file_hash, sc.file_stamp, sc.sax, sc.probability, "
    "sc.share, sc.duration, sc.segments, sc.curve_step, sc.error, sc.scanned";
constexpr size_t kScanColumnCount = 13;

ScanResult scan_from(const Row& row, size_t first = 0) {
  ScanResult r;
  r.source_id = row.integer(first);
  r.model = row.text(first + 1);
  r.status = row.text(first + 2);
  r.file_hash = row.text(first + 3);
  r.file_stamp = row.text(first + 4);
  r.sax = row.integer(first + 5) != 0;
  r.probability = row.real(first + 6);
  r.share = row.real(first + 7);
  r.duration = row.real(first + 8);
  r.segments = row.text(first + 9);
  r.curve_step = row.real(first + 10);
  r.error = row.text(first + 11);
  r.scanned = row.text(first + 12);
  return r;
}

const char* sort_column(LibraryQuery::Sort sort) {
  switch (sort) {
    case LibraryQuery::Sort::share:
      return "sc.share";
    case LibraryQuery::Sort::probability:
      return "sc.probability";
    case LibraryQuery::Sort::duration:
      return "sc.duration";
    case LibraryQuery::Sort::name:
      break;
  }
  return "sc.sort_name";
}

// The listing's WHERE clause and its parameters ($1 is the model).
std::pair<std::string, Params> library_filter(const LibraryQuery& query) {
  Params params{query.model};
  std::string where = "sc.model = $1 AND sc.status IN ('done', 'missing')";
  auto add = [&](const std::string& condition, sql::Value value) {
    params.push_back(std::move(value));
    where += " AND " + condition + " $" + std::to_string(params.size());
  };
  if (query.verdict != LibraryQuery::Verdict::any)
    add("sc.sax =", int64_t{query.verdict == LibraryQuery::Verdict::sax ? 1 : 0});
  if (query.min_share > 0) add("sc.share >=", query.min_share);
  if (!query.search.empty()) {
    add("sc.search LIKE", contains_pattern(query.search));
    where += " ESCAPE '\\'";
  }
  return {where, params};
}

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<sql::Database> db) : db_(std::move(db)) {}

  std::string backend() const override { return db_->dialect().name; }

  // ---- sources ---------------------------------------------------------------------------

  ClaimResult claim_source(const Source& source, const std::string& worker,
                           double lease_seconds) override {
    ClaimResult result;
    db_->write([&](Connection& conn) {
      const double now = epoch_seconds();
      if (auto id = insert_claimed_source(conn, source, worker, now))
        result = {Claim::fresh, *id};
      else
        result = claim_existing_source(conn, source, worker, now, lease_seconds);
    });
    return result;
  }

  void renew_claim(int64_t source_id, const std::string& worker) override {
    db_->write([&](Connection& conn) {
      const int64_t changed = conn.execute(
          "UPDATE sources SET claimed_at = $1 WHERE id = $2 AND worker = $3 AND state = "
          "'ingesting'",
          {epoch_seconds(), source_id, worker});
      if (changed == 0)
        throw Error("source " + std::to_string(source_id) + " is no longer claimed by worker '" +
                    worker + "' (finished, unknown, or taken over after its lease expired)");
    });
  }

  std::optional<SampleFormat> sample_format() override {
    std::optional<SampleFormat> format;
    db_->read([&](Connection& conn) {
      const auto rows = conn.query("SELECT sample_rate, seconds FROM sample_format WHERE id = 1");
      if (!rows.empty())
        format = SampleFormat{static_cast<int>(rows[0].integer(0)), rows[0].real(1)};
    });
    return format;
  }

  SampleFormat claim_sample_format(const SampleFormat& format) override {
    SampleFormat recorded;
    db_->write([&](Connection& conn) {
      conn.execute(
          "INSERT INTO sample_format (id, sample_rate, seconds) VALUES (1, $1, $2) "
          "ON CONFLICT (id) DO NOTHING",
          {int64_t{format.sample_rate}, format.seconds});
      const auto row = conn.query("SELECT sample_rate, seconds FROM sample_format WHERE id = 1");
      recorded = {static_cast<int>(row.at(0).integer(0)), row.at(0).real(1)};
    });
    return recorded;
  }

  Replacement finish_source(int64_t source_id, double duration) override {
    Replacement replaced;
    db_->write([&](Connection& conn) {
      replaced = {};  // a retried attempt starts over
      if (conn.execute("UPDATE sources SET state = 'done', duration = $1 WHERE id = $2",
                       {duration, source_id}) == 0)
        throw Error("unknown source id " + std::to_string(source_id));
      for (const Row& older : conn.query(
               "SELECT id FROM sources WHERE path = (SELECT path FROM sources WHERE id = $1) "
               "AND id <> $1 ORDER BY id",
               {source_id}))
        remove_source(conn, older.integer(0), source_id, replaced);
    });
    return replaced;
  }

  Replacement drop_source(int64_t source_id) override {
    Replacement dropped;
    db_->write([&](Connection& conn) {
      dropped = {};
      remove_source(conn, source_id, 0, dropped);
    });
    return dropped;
  }

  std::optional<Source> source_by_hash(const std::string& hash) override {
    return one_source("src.hash = $1", {hash});
  }

  std::optional<Source> source(int64_t id) override { return one_source("src.id = $1", {id}); }

  std::vector<Source> sources() override {
    std::vector<Source> out;
    db_->read([&](Connection& conn) {
      for (const Row& row :
           conn.query("SELECT " + kSourceColumns + " FROM sources src ORDER BY src.id"))
        out.push_back(source_from(row));
    });
    return out;
  }

  // ---- samples ---------------------------------------------------------------------------

  int64_t add_sample(const Sample& sample, const std::function<void()>& make_visible) override {
    int64_t id = 0;
    db_->write([&](Connection& conn) {
      if (auto existing = existing_sample(conn, sample)) {
        id = *existing;
        return;
      }
      if (conn.query("SELECT 1 FROM sources WHERE id = $1", {sample.source_id}).empty())
        throw Error("cannot add sample at " + sql::exact_text(sample.start) +
                    " s: unknown source id " + std::to_string(sample.source_id));
      auto inserted = conn.query(
          "INSERT INTO samples (source_id, start, duration, path, web_path, hash, rms, silent, "
          "created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
          "ON CONFLICT (source_id, start) DO NOTHING RETURNING id",
          {sample.source_id, sample.start, sample.duration, sample.path, sample.web_path,
           sample.hash, sample.rms, int64_t{sample.silent ? 1 : 0},
           sample.created.empty() ? utc_now_iso() : sample.created});
      if (inserted.empty()) {  // another worker inserted it since we looked
        id = existing_sample(conn, sample).value_or(0);
        return;
      }
      id = inserted[0].integer(0);
      // Last step before COMMIT: if it throws, the row is rolled back with it.
      if (make_visible) make_visible();
    });
    return id;
  }

  std::optional<Sample> sample(int64_t id) override {
    std::optional<Sample> out;
    db_->read([&](Connection& conn) {
      auto rows = conn.query("SELECT " + kSampleColumns + " FROM samples s WHERE s.id = $1", {id});
      if (!rows.empty()) out = sample_from(rows[0]);
    });
    return out;
  }

  std::vector<Sample> samples_of(int64_t source_id) override {
    return many_samples("WHERE s.source_id = $1 ORDER BY s.start", {source_id});
  }

  std::vector<Sample> samples(bool include_silent) override {
    return include_silent ? many_samples("ORDER BY s.id", {})
                          : many_samples("WHERE s.silent = 0 ORDER BY s.id", {});
  }

  // ---- votes -----------------------------------------------------------------------------

  bool add_vote(int64_t sample_id, const std::string& annotator, Label label) override {
    if (annotator.empty()) throw Error("annotator name is empty");
    const Params vote{sample_id, annotator, std::string(label_name(label)), utc_now_iso()};
    if (db_->dialect().writes_in_with) {
      const Row result = db_->write_one(kVoteStatement, vote).at(0);
      if (result.integer(0) == 0) throw UnknownSample(sample_id);
      return result.integer(1) != 0;
    }
    bool replaced = false;
    db_->write(
        [&](Connection& conn) { replaced = add_vote_in_steps(conn, sample_id, annotator, vote); });
    return replaced;
  }

  std::optional<Vote> undo_last_vote(const std::string& annotator) override {
    std::optional<Vote> undone;
    db_->write([&](Connection& conn) {
      auto rows = conn.query(
          "SELECT v.id, v.sample_id, v.label, v.created, s.source_id FROM votes v "
          "JOIN annotators a ON a.id = v.annotator_id JOIN samples s ON s.id = v.sample_id "
          "WHERE a.name = $1 ORDER BY v.id DESC LIMIT 1",
          {annotator});
      if (rows.empty()) return;
      const Row& row = rows[0];
      // Zero rows deleted means a concurrent undo took this vote: nothing left to count.
      if (conn.execute("DELETE FROM votes WHERE id = $1", {row.integer(0)}) == 0) return;
      change_vote_counts(conn, row.integer(1), row.integer(4), -1);
      undone = Vote{row.integer(1), annotator, label_from(row.text(2)), row.text(3)};
    });
    return undone;
  }

  int64_t delete_votes(const std::string& annotator) override {
    int64_t deleted = 0;
    db_->write([&](Connection& conn) {
      const std::string theirs =
          "SELECT v.sample_id FROM votes v JOIN annotators a ON a.id = v.annotator_id "
          "WHERE a.name = $1";
      conn.execute("UPDATE samples SET vote_count = vote_count - 1 WHERE id IN (" + theirs + ")",
                   {annotator});
      conn.execute(
          "UPDATE sources SET vote_count = vote_count - (SELECT count(*) FROM samples s WHERE "
          "s.source_id = sources.id AND s.id IN (" +
              theirs +
              ")) WHERE id IN (SELECT "
              "s.source_id FROM samples s WHERE s.id IN (" +
              theirs + "))",
          {annotator});
      deleted = conn.execute(
          "DELETE FROM votes WHERE annotator_id IN (SELECT id FROM annotators WHERE name = $1)",
          {annotator});
      conn.execute("DELETE FROM annotators WHERE name = $1", {annotator});
      deleted += conn.execute("DELETE FROM retired_votes WHERE annotator = $1", {annotator});
    });
    return deleted;
  }

  std::vector<Vote> votes() override {
    std::vector<Vote> out;
    db_->read(
        [&](Connection& conn) { out = votes_from(conn.query(kVoteQuery + "ORDER BY v.id")); });
    return out;
  }

  std::vector<Vote> votes_for(int64_t sample_id) override {
    std::vector<Vote> out;
    db_->read([&](Connection& conn) {
      out =
          votes_from(conn.query(kVoteQuery + "WHERE v.sample_id = $1 ORDER BY v.id", {sample_id}));
    });
    return out;
  }

  std::vector<RetiredVote> retired_votes() override {
    std::vector<RetiredVote> out;
    db_->read([&](Connection& conn) {
      for (const Row& row : conn.query(
               "SELECT annotator, label, created, retired, source_path, source_hash, start, "
               "duration, sample_hash, sample_path, web_path FROM retired_votes ORDER BY id"))
        out.push_back({row.text(0), label_from(row.text(1)), row.text(2), row.text(3), row.text(4),
                       row.text(5), row.real(6), row.real(7), row.text(8), row.text(9),
                       row.text(10)});
    });
    return out;
  }

  std::vector<LabeledSample> labeled_samples() override {
    std::vector<LabeledSample> out;
    db_->read([&](Connection& conn) {
      auto rows = conn.query(
          "SELECT " + kSampleColumns +
          ", v.label, COALESCE(r.first, s.source_id) FROM samples s "
          "JOIN votes v ON v.sample_id = s.id JOIN sources src ON src.id = s.source_id "
          "LEFT JOIN (SELECT title, artist, MIN(id) AS first FROM sources WHERE title <> '' "
          "GROUP BY title, artist) r ON r.title = src.title AND r.artist = src.artist "
          "ORDER BY s.id");
      std::vector<Label> labels;
      for (size_t i = 0; i < rows.size(); ++i) {
        labels.push_back(label_from(rows[i].text(kSampleColumnCount)));
        const bool last_of_sample =
            i + 1 == rows.size() || rows[i + 1].integer(0) != rows[i].integer(0);
        if (!last_of_sample) continue;
        const Label label = reconcile(labels);
        if (label != Label::unsure)
          out.push_back({sample_from(rows[i]), label, static_cast<int>(labels.size()),
                         rows[i].integer(kSampleColumnCount + 1)});
        labels.clear();
      }
    });
    return out;
  }

  std::optional<Sample> next_sample(const NextQuery& query) override {
    std::optional<Sample> out;
    db_->read([&](Connection& conn) {
      auto annotator = conn.query("SELECT id FROM annotators WHERE name = $1", {query.annotator});
      const int64_t annotator_id = annotator.empty() ? -1 : annotator[0].integer(0);
      Candidates candidates{{int64_t{query.votes_wanted}, annotator_id}, kCandidate};
      exclude(query.exclude, candidates);
      if (!query.model.empty()) {
        out = most_uncertain(conn, query.model, candidates);
        if (out) return;
      }
      out = from_least_voted_source(conn, candidates);
    });
    return out;
  }

  // ---- sax times -------------------------------------------------------------------------

  void set_sax_times(int64_t source_id, const std::vector<TimeRange>& sax) override {
    nlohmann::json ranges = nlohmann::json::array();
    for (const auto& [start, end] : sax) {
      if (!(start >= 0 && end >= start && std::isfinite(end)))
        throw Error("sax times of source " + std::to_string(source_id) + ": [" +
                    sql::exact_text(start) + ", " + sql::exact_text(end) +
                    "] is not a range of seconds");
      ranges.push_back({start, end});
    }
    db_->write([&](Connection& conn) {
      if (conn.execute("UPDATE sources SET sax_times = $1 WHERE id = $2",
                       {ranges.dump(), source_id}) == 0)
        throw Error("sax times for unknown source id " + std::to_string(source_id));
    });
  }

  std::map<int64_t, std::vector<TimeRange>> sax_times() override {
    std::map<int64_t, std::vector<TimeRange>> out;
    db_->read([&](Connection& conn) {
      for (const Row& row : conn.query("SELECT id, sax_times FROM sources WHERE sax_times <> ''"))
        out[row.integer(0)] = nlohmann::json::parse(row.text(1)).get<std::vector<TimeRange>>();
    });
    return out;
  }

  // ---- predictions -----------------------------------------------------------------------

  void put_predictions(const std::string& model,
                       const std::vector<std::pair<int64_t, double>>& probabilities) override {
    if (model.empty()) throw Error("predictions need a model name");
    db_->write([&](Connection& conn) {
      for (const auto& [sample_id, probability] : probabilities) {
        if (!(probability >= 0.0 && probability <= 1.0))
          throw Error("prediction for sample " + std::to_string(sample_id) + ": probability " +
                      sql::exact_text(probability) + " is not in [0, 1]");
        if (conn.query("SELECT 1 FROM samples WHERE id = $1", {sample_id}).empty())
          throw Error("prediction for unknown sample id " + std::to_string(sample_id));
        conn.execute(
            "INSERT INTO predictions (model, sample_id, probability, uncertainty) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (model, sample_id) DO UPDATE SET "
            "probability = excluded.probability, uncertainty = excluded.uncertainty",
            {model, sample_id, probability, std::abs(probability - 0.5)});
      }
    });
  }

  std::vector<Sample> samples_without_prediction(const std::string& model) override {
    return many_samples(
        "WHERE s.silent = 0 AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.model = $1 AND "
        "p.sample_id = s.id) ORDER BY s.id",
        {model});
  }

  void queue_predictions(const std::string& model,
                         const std::vector<std::pair<int64_t, double>>& probabilities) override {
    put_predictions(model, probabilities);
    // Uncertainty is |p - 0.5| in [0, 0.5]; one less puts these before every other prediction
    // while keeping their own order.
    db_->write([&](Connection& conn) {
      for (const auto& [sample_id, probability] : probabilities)
        conn.execute("UPDATE predictions SET uncertainty = $1 WHERE model = $2 AND sample_id = $3",
                     {std::abs(probability - 0.5) - 1.0, model, sample_id});
    });
  }

  // ---- library scans ---------------------------------------------------------------------

  ScanClaimResult claim_scan(int64_t source_id, const std::string& model,
                             const std::string& file_stamp, const std::string& worker,
                             double lease_seconds, bool retry_errors,
                             const std::string& take_over_from) override {
    ScanClaimResult result;
    db_->write([&](Connection& conn) {
      const double now = epoch_seconds();
      if (!conn.query("INSERT INTO scans (source_id, model, status, worker, claimed_at) VALUES "
                      "($1, $2, 'pending', $3, $4) ON CONFLICT (source_id, model) DO NOTHING "
                      "RETURNING source_id",
                      {source_id, model, worker, now})
               .empty())
        return;
      auto rows = conn.query(
          "SELECT status, file_stamp, worker, claimed_at, file_hash FROM scans WHERE source_id = "
          "$1 AND model = $2" +
              db_->dialect().lock_rows,
          {source_id, model});
      if (rows.empty()) {  // locked by another claimer right now
        result = {ScanClaim::busy, ""};
        return;
      }
      result = decide_scan_claim(conn, rows[0], {source_id, model, file_stamp, worker},
                                 now - lease_seconds, retry_errors, take_over_from);
    });
    return result;
  }

  void renew_scan_claim(int64_t source_id, const std::string& model,
                        const std::string& worker) override {
    db_->write([&](Connection& conn) {
      conn.execute(
          "UPDATE scans SET claimed_at = $1 WHERE source_id = $2 AND model = $3 AND worker = $4",
          {epoch_seconds(), source_id, model, worker});
    });
  }

  void put_scan(const ScanResult& r, const std::string& worker) override {
    if (r.status != "done" && r.status != "error")
      throw Error("scan of source " + std::to_string(r.source_id) + ": status '" + r.status +
                  "' is not done or error");
    db_->write([&](Connection& conn) {
      const auto [sort_name, search] = names_of(conn, r.source_id);
      const int64_t changed = conn.execute(
          "UPDATE scans SET status = $1, worker = '', claimed_at = 0, file_hash = $2, "
          "file_stamp = $3, sax = $4, probability = $5, share = $6, duration = $7, segments = "
          "$8, curve = $9, curve_step = $10, error = $11, sort_name = $12, search = $13, "
          "scanned = $14 WHERE source_id = $15 AND model = $16 AND worker = $17",
          {r.status, r.file_hash, r.file_stamp, int64_t{r.sax ? 1 : 0}, r.probability, r.share,
           r.duration, r.segments.empty() ? "[]" : r.segments, r.curve, r.curve_step, r.error,
           sort_name, search, r.scanned.empty() ? utc_now_iso() : r.scanned, r.source_id, r.model,
           worker});
      if (changed == 0)
        throw Error("scan of source " + std::to_string(r.source_id) +
                    " is no longer claimed by worker '" + worker +
                    "' (taken over after its lease expired)");
    });
  }

  void mark_scan_missing(int64_t source_id, const std::string& model) override {
    db_->write([&](Connection& conn) {
      conn.execute(
          "UPDATE scans SET status = 'missing' WHERE source_id = $1 AND model = $2 AND status = "
          "'done'",
          {source_id, model});
    });
  }

  std::map<int64_t, std::pair<std::string, std::string>> scan_states(
      const std::string& model) override {
    std::map<int64_t, std::pair<std::string, std::string>> out;
    db_->read([&](Connection& conn) {
      for (const Row& row : conn.query("SELECT source_id, status, file_stamp FROM scans WHERE "
                                       "model = $1 AND status <> 'pending'",
                                       {model}))
        out[row.integer(0)] = {row.text(1), row.text(2)};
    });
    return out;
  }

  std::optional<ScanResult> scan_result(int64_t source_id, const std::string& model) override {
    std::optional<ScanResult> out;
    db_->read([&](Connection& conn) {
      auto rows = conn.query("SELECT " + kScanColumns +
                                 ", sc.curve FROM scans sc WHERE sc.source_id = $1 AND "
                                 "sc.model = $2",
                             {source_id, model});
      if (rows.empty()) return;
      out = scan_from(rows[0]);
      out->curve = rows[0].text(kScanColumnCount);
    });
    return out;
  }

  LibraryPage library(const LibraryQuery& query) override {
    const auto [where, params] = library_filter(query);
    const std::string direction = query.descending ? " DESC" : "";
    std::string tail = " ORDER BY " + std::string(sort_column(query.sort)) + direction +
                       ", sc.source_id" + direction;
    if (query.limit > 0)
      tail += " LIMIT " + std::to_string(query.limit) + " OFFSET " + std::to_string(query.offset);
    LibraryPage page;
    db_->read([&](Connection& conn) {
      page.total =
          conn.query("SELECT count(*) FROM scans sc WHERE " + where, params).at(0).integer(0);
      // The page from scans alone, then its sources by id: joined in one statement, SQLite
      // walked every source and sorted all matches instead of stopping after a page.
      for (const Row& row :
           conn.query("SELECT " + kScanColumns + " FROM scans sc WHERE " + where + tail, params)) {
        const Row source =
            conn.query("SELECT path, title, artist, album FROM sources WHERE id = $1",
                       {row.integer(0)})
                .at(0);
        page.entries.push_back(
            {source.text(0), source.text(1), source.text(2), source.text(3), scan_from(row)});
      }
    });
    return page;
  }

  ScanCounts scan_counts(const std::string& model) override {
    ScanCounts counts;
    db_->read([&](Connection& conn) {
      for (const Row& row : conn.query(
               "SELECT status, sax, count(*) FROM scans WHERE model = $1 GROUP BY status, sax",
               {model})) {
        const std::string status = row.text(0);
        const int64_t n = row.integer(2);
        if (status == "done" || status == "missing") {
          counts.scanned += n;
          if (row.integer(1) != 0) counts.sax += n;
        }
        if (status == "missing") counts.missing += n;
        if (status == "error") counts.errors += n;
      }
    });
    return counts;
  }

  // ---- reports ---------------------------------------------------------------------------

  StatusReport status() override {
    StatusReport report;
    std::vector<Vote> all_votes;
    db_->read([&](Connection& conn) {
      auto sources = conn.query("SELECT count(*), coalesce(sum(duration), 0) FROM sources");
      report.sources = sources[0].integer(0);
      report.audio_seconds = sources[0].real(1);
      auto samples = conn.query("SELECT count(*), coalesce(sum(silent), 0) FROM samples");
      report.samples = samples[0].integer(0);
      report.silent = samples[0].integer(1);
      all_votes = votes_from(conn.query(kVoteQuery + "ORDER BY v.id"));
    });
    summarise_votes(all_votes, utc_now_iso().substr(0, 10), report);
    report.unlabeled = report.samples - report.labeled;
    report.by_vote_count[0] = report.unlabeled;
    return report;
  }

 private:
  struct ScanKey {
    int64_t source_id;
    std::string model, file_stamp, worker;
  };

  // The claim decision on a scans row already there (locked): a holder whose lease runs is left
  // alone; a finished result for the same file stands; anything else is taken.
  static ScanClaimResult decide_scan_claim(Connection& conn, const Row& row, const ScanKey& key,
                                           double lease_start, bool retry_errors,
                                           const std::string& take_over_from) {
    const std::string status = row.text(0), holder = row.text(2);
    const bool held = !holder.empty() && holder != key.worker && holder != take_over_from &&
                      row.real(3) > lease_start;
    if (held) return {ScanClaim::busy, holder};
    const bool same_file = row.text(1) == key.file_stamp;
    if (same_file && (status == "done" || (status == "error" && !retry_errors)))
      return {ScanClaim::up_to_date, ""};
    if (same_file && status == "missing" && !row.text(4).empty()) {
      conn.execute("UPDATE scans SET status = 'done' WHERE source_id = $1 AND model = $2",
                   {key.source_id, key.model});
      return {ScanClaim::up_to_date, ""};
    }
    conn.execute(
        "UPDATE scans SET worker = $1, claimed_at = $2 WHERE source_id = $3 AND model = $4",
        {key.worker, epoch_seconds(), key.source_id, key.model});
    return {ScanClaim::claimed, ""};
  }

  // The source's lower-cased file name, and its names joined for searching.
  static std::pair<std::string, std::string> names_of(Connection& conn, int64_t source_id) {
    auto rows =
        conn.query("SELECT path, title, artist, album FROM sources WHERE id = $1", {source_id});
    if (rows.empty()) throw Error("scan of unknown source id " + std::to_string(source_id));
    const std::string name = ascii_lower(file_name_of(rows[0].text(0)));
    return {name, name + "\n" + ascii_lower(rows[0].text(1)) + "\n" + ascii_lower(rows[0].text(2)) +
                      "\n" + ascii_lower(rows[0].text(3))};
  }

  static std::optional<int64_t> insert_claimed_source(Connection& conn, const Source& source,
                                                      const std::string& worker, double now) {
    auto inserted = conn.query(
        "INSERT INTO sources (path, hash, duration, sample_rate, channels, codec, title, "
        "artist, album, state, worker, claimed_at, created, shuffle) VALUES ($1, $2, $3, $4, "
        "$5, $6, $7, $8, $9, 'ingesting', $10, $11, $12, $13) ON CONFLICT (hash) DO NOTHING "
        "RETURNING id",
        {source.path, source.hash, source.duration, int64_t{source.sample_rate},
         int64_t{source.channels}, source.codec, source.title, source.artist, source.album, worker,
         now, utc_now_iso(), random_rank()});
    if (inserted.empty()) return std::nullopt;
    return inserted[0].integer(0);
  }

  // "done" is final, so it needs no lock; anything else is decided under the row's lock.
  // Locked rows are skipped on PostgreSQL: another worker is deciding about that source now.
  ClaimResult claim_existing_source(Connection& conn, const Source& source,
                                    const std::string& worker, double now, double lease_seconds) {
    auto state = conn.query("SELECT id, state FROM sources WHERE hash = $1", {source.hash});
    const int64_t id = state.empty() ? 0 : state[0].integer(0);
    if (!state.empty() && state[0].text(1) == "done") return {Claim::already_done, id};
    auto rows = conn.query(
        "SELECT state, worker, claimed_at FROM sources WHERE id = $1" + db_->dialect().lock_rows,
        {id});
    if (rows.empty()) return {Claim::busy, id};
    const Row& row = rows[0];
    if (row.text(0) == "done") return {Claim::already_done, id};
    const bool ours = row.text(1) == worker;
    const bool expired = now - row.real(2) >= lease_seconds;
    if (!ours && !expired) return {Claim::busy, id};
    conn.execute("UPDATE sources SET worker = $1, claimed_at = $2, path = $3 WHERE id = $4",
                 {worker, now, source.path, id});
    return {Claim::resumed, id};
  }

  std::optional<Source> one_source(const std::string& where, const Params& params) {
    std::optional<Source> out;
    db_->read([&](Connection& conn) {
      auto rows =
          conn.query("SELECT " + kSourceColumns + " FROM sources src WHERE " + where, params);
      if (!rows.empty()) out = source_from(rows[0]);
    });
    return out;
  }

  std::vector<Sample> many_samples(const std::string& tail, const Params& params) {
    std::vector<Sample> out;
    db_->read([&](Connection& conn) {
      for (const Row& row :
           conn.query("SELECT " + kSampleColumns + " FROM samples s " + tail, params))
        out.push_back(sample_from(row));
    });
    return out;
  }

  static std::optional<int64_t> existing_sample(Connection& conn, const Sample& sample) {
    auto rows = conn.query("SELECT id FROM samples WHERE source_id = $1 AND start = $2",
                           {sample.source_id, sample.start});
    if (rows.empty()) return std::nullopt;
    return rows[0].integer(0);
  }

  // Removes a source, its samples and everything hanging off them. Each vote on them moves to
  // the replacing source's sample with the same audio where there is one (a file that grew
  // keeps its earlier samples' audio), else is retired with its clips: a person's judgement
  // of a clip stays valid whatever happened to the file it was cut from.
  void remove_source(Connection& conn, int64_t source_id, int64_t replacing_id, Replacement& out) {
    std::set<std::string> kept_clips;
    for (const Row& vote : conn.query(
             "SELECT v.id, v.annotator_id, s.hash, s.start, a.name, v.label, v.created, "
             "src.path, src.hash, s.duration, s.path, s.web_path FROM votes v "
             "JOIN samples s ON s.id = v.sample_id JOIN sources src ON src.id = s.source_id "
             "JOIN annotators a ON a.id = v.annotator_id WHERE s.source_id = $1 ORDER BY v.id",
             {source_id})) {
      if (replacing_id && move_vote(conn, vote, replacing_id)) {
        ++out.votes_moved;
        continue;
      }
      conn.execute(
          "INSERT INTO retired_votes (annotator, label, created, retired, source_path, "
          "source_hash, start, duration, sample_hash, sample_path, web_path) VALUES ($1, $2, "
          "$3, $4, $5, $6, $7, $8, $9, $10, $11)",
          {vote.text(4), vote.text(5), vote.text(6), utc_now_iso(), vote.text(7), vote.text(8),
           vote.real(3), vote.real(9), vote.text(2), vote.text(10), vote.text(11)});
      ++out.votes_retired;
      kept_clips.insert({vote.text(10), vote.text(11)});
    }
    for (const Row& clips :
         conn.query("SELECT path, web_path FROM samples WHERE source_id = $1", {source_id}))
      for (const std::string& clip : {clips.text(0), clips.text(1)})
        if (!clip.empty() && !kept_clips.count(clip)) out.unused_clips.push_back(clip);
    conn.execute("DELETE FROM sources WHERE id = $1", {source_id});  // cascades
    ++out.sources;
  }

  // Moves a vote (a row of remove_source's query) onto the replacing source's sample with the
  // same audio, nearest in time, that its annotator has not voted on. False when none is.
  static bool move_vote(Connection& conn, const Row& vote, int64_t replacing_id) {
    const std::string sample_hash = vote.text(2);
    if (sample_hash.empty()) return false;
    auto target = conn.query(
        "SELECT n.id FROM samples n WHERE n.source_id = $1 AND n.hash = $2 AND NOT EXISTS "
        "(SELECT 1 FROM votes w WHERE w.sample_id = n.id AND w.annotator_id = $3) "
        "ORDER BY abs(n.start - $4), n.start LIMIT 1",
        {replacing_id, sample_hash, vote.integer(1), vote.real(3)});
    if (target.empty()) return false;
    conn.execute("UPDATE votes SET sample_id = $1 WHERE id = $2",
                 {target[0].integer(0), vote.integer(0)});
    change_vote_counts(conn, target[0].integer(0), replacing_id, +1);
    return true;
  }

  // add_vote where WITH cannot write (SQLite): the same changes as kVoteStatement, one
  // statement at a time in one transaction, which in-process costs no round trips.
  bool add_vote_in_steps(Connection& conn, int64_t sample_id, const std::string& annotator,
                         const Params& vote) {
    auto sample_rows = conn.query("SELECT source_id FROM samples WHERE id = $1", {sample_id});
    if (sample_rows.empty()) throw UnknownSample(sample_id);
    const int64_t annotator_id = ensure_annotator(conn, annotator);
    // Delete and re-insert (rather than update) so the vote gets a new id: undo takes the
    // annotator's most recent vote, which a replaced vote now is.
    const bool replaced =
        conn.execute("DELETE FROM votes WHERE sample_id = $1 AND annotator_id = $2",
                     {sample_id, annotator_id}) > 0;
    conn.execute(
        "INSERT INTO votes (sample_id, annotator_id, label, created) VALUES ($1, $2, $3, $4)",
        {sample_id, annotator_id, vote[2], vote[3]});
    if (!replaced) change_vote_counts(conn, sample_id, sample_rows[0].integer(0), +1);
    return replaced;
  }

  int64_t ensure_annotator(Connection& conn, const std::string& name) {
    auto rows = conn.query("SELECT id FROM annotators WHERE name = $1", {name});
    if (!rows.empty()) return rows[0].integer(0);
    rows = conn.query(
        "INSERT INTO annotators (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING "
        "RETURNING id",
        {name, utc_now_iso()});
    if (rows.empty())  // a concurrent transaction registered the same name first
      rows = conn.query("SELECT id FROM annotators WHERE name = $1", {name});
    return rows.at(0).integer(0);
  }

  static void change_vote_counts(Connection& conn, int64_t sample_id, int64_t source_id,
                                 int64_t delta) {
    conn.execute("UPDATE samples SET vote_count = vote_count + $1 WHERE id = $2",
                 {delta, sample_id});
    conn.execute("UPDATE sources SET vote_count = vote_count + $1 WHERE id = $2",
                 {delta, source_id});
  }

  // The candidate condition with its parameters; the statement's own come after them.
  struct Candidates {
    Params params;
    std::string condition;
    std::string next_placeholder() const { return "$" + std::to_string(params.size() + 1); }
  };

  // One placeholder per excluded id, so statements stay cached per list length.
  static void exclude(const std::vector<int64_t>& ids, Candidates& candidates) {
    if (ids.empty()) return;
    std::string list;
    for (int64_t id : ids) {
      list += (list.empty() ? "" : ", ") + candidates.next_placeholder();
      candidates.params.push_back(id);
    }
    candidates.condition += " AND s.id NOT IN (" + list + ")";
  }

  static std::optional<Sample> most_uncertain(Connection& conn, const std::string& model,
                                              const Candidates& candidates) {
    Params params = candidates.params;
    const std::string model_placeholder = candidates.next_placeholder();
    params.push_back(model);
    auto rows = conn.query("SELECT " + kSampleColumns +
                               " FROM predictions p JOIN samples s ON s.id = p.sample_id "
                               "WHERE p.model = " +
                               model_placeholder + " AND " + candidates.condition +
                               " ORDER BY p.uncertainty LIMIT 1",
                           params);
    if (rows.empty()) return std::nullopt;
    return sample_from(rows[0]);
  }

  // Spreads labelling across the library: the source with the fewest votes so far that still
  // has a candidate (ties broken by the source's random rank, which lets the database walk
  // an index instead of sorting every source), then its least-voted candidate, ties broken
  // at random so concurrent annotators rarely get the same clip.
  static std::optional<Sample> from_least_voted_source(Connection& conn,
                                                       const Candidates& candidates) {
    auto source = conn.query(
        "SELECT src.id FROM sources src WHERE EXISTS (SELECT 1 FROM samples s WHERE "
        "s.source_id = src.id AND " +
            candidates.condition + ") ORDER BY src.vote_count, src.shuffle LIMIT 1",
        candidates.params);
    if (source.empty()) return std::nullopt;
    Params params = candidates.params;
    const std::string source_placeholder = candidates.next_placeholder();
    params.push_back(source[0].integer(0));
    auto rows = conn.query(
        "SELECT " + kSampleColumns + " FROM samples s WHERE s.source_id = " + source_placeholder +
            " AND " + candidates.condition + " ORDER BY s.vote_count, random() LIMIT 1",
        params);
    if (rows.empty()) return std::nullopt;
    return sample_from(rows[0]);
  }

  std::unique_ptr<sql::Database> db_;
};

}  // namespace

std::unique_ptr<Store> make_sql_store(std::unique_ptr<sql::Database> db) {
  return std::make_unique<SqlStore>(std::move(db));
}

}  // namespace sax
