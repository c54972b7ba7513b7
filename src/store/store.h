#pragma once
// The sample store: sources (ingested files), samples (clips cut from them), votes (labels
// people give), sax times (exact truth where known), predictions (model scores used to order
// labelling). One interface, two back ends: SQLite in the data home (default) and PostgreSQL (--db
// postgresql://...).
//
//   auto store = sax::open_store(home, db_url);
//   store->add_vote(sample_id, "ana", sax::Label::sax);
//
// Every method is safe to call from many threads at once (each implementation serialises or
// pools connections as it needs). Failures throw sax::Error with a clear message.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/home.h"
#include "common/time_ranges.h"

namespace sax {

enum class Label { sax, not_sax, unsure };
std::string_view label_name(Label label);                 // "sax", "not_sax", "unsure"
std::optional<Label> parse_label(std::string_view name);  // nullopt for anything else

struct Source {
  int64_t id = 0;
  std::string path;  // as given on the command line, made absolute
  std::string hash;  // SHA-256 of the file content
  double duration = 0;
  int sample_rate = 0;
  int channels = 0;
  std::string codec;
  std::string title, artist, album;
  std::string state;  // "ingesting" (claimed, in progress) or "done"
  int64_t samples = 0;
};

struct Sample {
  int64_t id = 0;
  int64_t source_id = 0;
  double start = 0;      // seconds into the source
  double duration = 0;   // seconds
  std::string path;      // lossless clip, relative to the data home
  std::string web_path;  // browser-playable clip, relative to the data home
  std::string hash;      // SHA-256 of the clip's PCM
  double rms = 0;
  bool silent = false;
  std::string created;  // ISO-8601 UTC
};

struct Vote {
  int64_t sample_id = 0;
  std::string annotator;
  Label label = Label::unsure;
  std::string created;  // ISO-8601 UTC
};

struct LabeledSample {
  Sample sample;
  Label label = Label::unsure;  // reconciled over all votes
  int votes = 0;
  // The recording the sample comes from, which splits keep on one side: the first source with
  // the same title and artist tags (excerpts or copies of one song), else its own source. 0:
  // its source.
  int64_t recording = 0;
  int64_t group() const { return recording ? recording : sample.source_id; }
};

// How /api/next picks the next clip for an annotator.
struct NextQuery {
  std::string annotator;
  int votes_wanted = 1;  // samples with fewer votes than this are candidates
  // When predictions exist for this model, the most uncertain (nearest 0.5) come first.
  std::string model;  // empty: no active learning
  // Samples to pass over: the web page asks for the clip after the one on screen (prefetch).
  std::vector<int64_t> exclude;
};

struct AnnotatorStats {
  std::string name;
  int64_t votes = 0;
  int64_t today = 0;
  double agreement = 0;  // share of their votes that match the reconciled label (0..1)
};

struct StatusReport {
  int64_t sources = 0, samples = 0, silent = 0;
  double audio_seconds = 0;
  int64_t labeled = 0, unlabeled = 0, votes = 0;
  std::map<std::string, int64_t> labels;      // votes by label name (all three keys present)
  std::map<std::string, int64_t> reconciled;  // samples by reconciled label
  std::map<int, int64_t> by_vote_count;       // number of votes -> samples with that many
  std::vector<AnnotatorStats> annotators;
  std::map<std::string, int64_t> votes_by_day;  // "YYYY-MM-DD" -> votes
  double kappa = 0;                             // Fleiss' kappa over samples with >= 2 votes
};

// A sample id the store does not hold (add_vote), told apart so the web API can answer 404
// without looking the sample up first (a round trip more per vote).
class UnknownSample : public Error {
 public:
  explicit UnknownSample(int64_t sample_id)
      : Error("unknown sample id " + std::to_string(sample_id)) {}
};

// A vote whose sample went when its source's file changed and was ingested again, and that
// could not move to a new sample with the same audio (none had it, or the annotator had voted
// on that one too). Kept with what it labelled; its clip files stay in the data home.
struct RetiredVote {
  std::string annotator;
  Label label = Label::unsure;
  std::string created;  // when it was cast (ISO-8601 UTC)
  std::string retired;  // when its sample went
  std::string source_path, source_hash;
  double start = 0, duration = 0;  // of the sample, seconds into the old content
  std::string sample_hash, sample_path, web_path;
};

// What removing sources did with the votes on their samples (finish_source, drop_source).
struct Replacement {
  int64_t sources = 0;        // sources removed
  int64_t votes_moved = 0;    // onto a sample of the new source with the same audio
  int64_t votes_retired = 0;  // kept as RetiredVotes
  // Clip files (relative to the data home) of the removed samples that no vote needs: the
  // caller deletes them.
  std::vector<std::string> unused_clips;
};

// Outcome of trying to take a source for ingestion.
enum class Claim { fresh, resumed, already_done, busy };
struct ClaimResult {
  Claim claim = Claim::fresh;
  int64_t source_id = 0;
};

// ---- library scans: one detector's verdict on every source ------------------------------

// A scan of one source by one model (models are told apart by an id derived from their files).
struct ScanResult {
  int64_t source_id = 0;
  std::string model;       // the model's id
  std::string status;      // "done", "missing" (file gone since, results kept), "error"
  std::string file_hash;   // SHA-256 of the content scanned
  std::string file_stamp;  // the file's size and modification time then (skips rehashing)
  bool sax = false;
  double probability = 0, share = 0, duration = 0;
  std::string segments;  // JSON [[start, end, probability], ...] (seconds)
  std::string curve;     // probability per curve_step seconds, one byte each (0..255), base64
  double curve_step = 0;
  std::string error;    // why status is "error"
  std::string scanned;  // ISO-8601 UTC
};

// Outcome of trying to take a source for scanning.
enum class ScanClaim { claimed, up_to_date, busy };
struct ScanClaimResult {
  ScanClaim claim = ScanClaim::claimed;
  std::string holder;  // busy: the worker holding it
};

// A page of the library listing: scanned sources with their results, filtered and sorted in the
// database so it stays fast at 100,000 songs.
struct LibraryQuery {
  std::string model;
  enum class Verdict { any, sax, no_sax } verdict = Verdict::any;
  double min_share = 0;  // keep songs with at least this share of sax time
  std::string search;    // substring of file name, title, artist or album (ASCII case-insensitive)
  enum class Sort { name, share, probability, duration } sort = Sort::name;
  bool descending = false;
  int64_t offset = 0;
  int64_t limit = 0;  // 0: all
};
struct LibraryEntry {
  std::string path, title, artist, album;
  ScanResult result;  // without its curve (scan_result has it)
};
struct LibraryPage {
  int64_t total = 0;  // rows matching the filter, whatever the offset and limit
  std::vector<LibraryEntry> entries;
};
struct ScanCounts {
  int64_t scanned = 0, sax = 0, missing = 0, errors = 0;
};

// How every sample of a store is cut: its rate and length. Features and training take them
// from here, so a model never meets samples of another format unnoticed.
struct SampleFormat {
  int sample_rate = 0;
  double seconds = 0;
  bool operator==(const SampleFormat& o) const {
    return sample_rate == o.sample_rate && seconds == o.seconds;
  }
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- the sample format ------------------------------------------------------------------
  // The format recorded by the first ingest; none before it (or in a store from a version
  // before it was recorded).
  virtual std::optional<SampleFormat> sample_format() = 0;
  // Records `format` when none is recorded, and returns the recorded one (compare it with
  // `format` to refuse an ingest of another format).
  virtual SampleFormat claim_sample_format(const SampleFormat& format) = 0;

  // ---- sources --------------------------------------------------------------------------
  // Claims the source (by content hash) for this worker. fresh: new row; resumed: an
  // earlier run left it "ingesting" and its claim expired (or it was ours); already_done;
  // busy: another live worker holds it. A claim older than lease_seconds may be taken over.
  virtual ClaimResult claim_source(const Source& source, const std::string& worker,
                                   double lease_seconds = 600) = 0;
  virtual void renew_claim(int64_t source_id, const std::string& worker) = 0;
  // Marks the source done and, in the same transaction, replaces every other source recorded
  // at its path (the file was ingested before with other content): each vote on their
  // samples moves to this source's sample with the same audio (the same hash, nearest in
  // time) unless its annotator voted on that one too, and is retired otherwise; then those
  // sources go, with their samples, predictions and scans.
  virtual Replacement finish_source(int64_t source_id, double duration) = 0;
  // Removes a source whose file changed while it was ingested; its votes are retired.
  virtual Replacement drop_source(int64_t source_id) = 0;
  virtual std::optional<Source> source_by_hash(const std::string& hash) = 0;
  virtual std::optional<Source> source(int64_t id) = 0;
  virtual std::vector<Source> sources() = 0;

  // ---- samples --------------------------------------------------------------------------
  // Inserts the sample and, inside the same transaction, calls make_visible (which renames
  // the clip files into place); commits only if it returns. A sample with the same
  // (source_id, start) already present is left alone and its id returned.
  virtual int64_t add_sample(const Sample& sample,
                             const std::function<void()>& make_visible = {}) = 0;
  virtual std::optional<Sample> sample(int64_t id) = 0;
  virtual std::vector<Sample> samples_of(int64_t source_id) = 0;
  virtual std::vector<Sample> samples(bool include_silent = true) = 0;

  // ---- votes ----------------------------------------------------------------------------
  // One vote per (sample, annotator): a second vote replaces the first. Returns true when
  // it replaced one. Throws UnknownSample for an unknown sample id, sax::Error for an empty
  // name. One statement (one round trip) on PostgreSQL.
  virtual bool add_vote(int64_t sample_id, const std::string& annotator, Label label) = 0;
  // Removes the annotator's most recent vote and returns it.
  virtual std::optional<Vote> undo_last_vote(const std::string& annotator) = 0;
  // Removes every vote of the annotator, retired ones included, and returns how many.
  virtual int64_t delete_votes(const std::string& annotator) = 0;
  virtual std::vector<Vote> votes() = 0;
  virtual std::vector<Vote> votes_for(int64_t sample_id) = 0;
  virtual std::vector<RetiredVote> retired_votes() = 0;

  // Samples with a reconciled sax or not_sax label (unsure excluded), for training.
  virtual std::vector<LabeledSample> labeled_samples() = 0;

  // The next sample for an annotator: fewer than votes_wanted votes, not yet voted on by
  // them, not silent, spread across sources, uncertain first when predictions exist.
  virtual std::optional<Sample> next_sample(const NextQuery& query) = 0;

  // ---- where a saxophone sounds (exact truth, e.g. a synthetic library's) ---------------
  // Replaces the source's sax times: the ranges (seconds) where a saxophone sounds; an empty
  // list says none does. Training uses them to teach each time step of a window. Throws
  // sax::Error for an unknown source or a range that is not [start <= end], both >= 0.
  virtual void set_sax_times(int64_t source_id, const std::vector<TimeRange>& sax) = 0;
  // Every source whose sax times are known, by source id.
  virtual std::map<int64_t, std::vector<TimeRange>> sax_times() = 0;

  // ---- predictions (active learning) ----------------------------------------------------
  // Probabilities as uncertainty_score() gives them: the most uncertain lie nearest 0.5.
  virtual void put_predictions(const std::string& model,
                               const std::vector<std::pair<int64_t, double>>& probabilities) = 0;
  // Non-silent samples this model has no prediction for yet, by id.
  virtual std::vector<Sample> samples_without_prediction(const std::string& model) = 0;

  // Predictions for samples to label next: they come before every other candidate of that
  // model (uncertain first among them), so "label this song" puts its clips up front.
  virtual void queue_predictions(const std::string& model,
                                 const std::vector<std::pair<int64_t, double>>& probabilities) = 0;

  // ---- library scans ---------------------------------------------------------------------
  // Takes (source, model) for this worker. up_to_date: a result for a file with this stamp
  // exists (done, or error unless retry_errors; a "missing" one with results becomes done
  // again). busy: another worker holds a claim younger than lease_seconds, unless it is
  // take_over_from (a worker known dead). PostgreSQL skips rows locked by another claimer.
  virtual ScanClaimResult claim_scan(int64_t source_id, const std::string& model,
                                     const std::string& file_stamp, const std::string& worker,
                                     double lease_seconds, bool retry_errors = false,
                                     const std::string& take_over_from = "") = 0;
  virtual void renew_scan_claim(int64_t source_id, const std::string& model,
                                const std::string& worker) = 0;
  // Writes the result and releases the claim in one transaction. Throws sax::Error when the
  // worker no longer holds the claim.
  virtual void put_scan(const ScanResult& result, const std::string& worker) = 0;
  // The source's file is gone: its finished result (if any) stays, marked "missing".
  virtual void mark_scan_missing(int64_t source_id, const std::string& model) = 0;
  // source id -> (status, file stamp) of this model's finished results: lets a rescan skip
  // unchanged files without a write.
  virtual std::map<int64_t, std::pair<std::string, std::string>> scan_states(
      const std::string& model) = 0;
  virtual std::optional<ScanResult> scan_result(int64_t source_id, const std::string& model) = 0;
  virtual LibraryPage library(const LibraryQuery& query) = 0;
  virtual ScanCounts scan_counts(const std::string& model) = 0;

  // ---- reports --------------------------------------------------------------------------
  virtual StatusReport status() = 0;
  virtual std::string backend() const = 0;  // "sqlite" or "postgresql"
};

// A model's probability p mapped so that its decision threshold becomes 0.5 (the logit shifted;
// order kept), which is what put_predictions ranks uncertainty by: a threshold far from 0.5 (a
// zero-shot detector's) would otherwise put the wrong clips first.
double uncertainty_score(double p, double threshold);

// Majority of votes; ties and unsure-majorities reconcile to unsure.
Label reconcile(const std::vector<Label>& votes);

// db_url empty (and $SAXDETECT_DB unset): SQLite at home.database(). "postgresql://...":
// PostgreSQL. Creates or migrates the schema. Throws sax::Error with the reason.
std::unique_ptr<Store> open_store(const Home& home, const std::string& db_url = "");

}  // namespace sax
