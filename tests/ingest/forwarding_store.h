#pragma once
// A Store that passes every call to another, for tests that act between the ingester's calls
// (override the one to act in). The store is the ingester's only way out, so this is a seam
// that needs no hook in the ingester itself.
#include <memory>

#include "store/store.h"

namespace sax::testing {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
  Store& inner() { return *inner_; }

  std::optional<SampleFormat> sample_format() override { return inner_->sample_format(); }
  SampleFormat claim_sample_format(const SampleFormat& format) override {
    return inner_->claim_sample_format(format);
  }
  ClaimResult claim_source(const Source& source, const std::string& worker,
                           double lease_seconds) override {
    return inner_->claim_source(source, worker, lease_seconds);
  }
  void renew_claim(int64_t source_id, const std::string& worker) override {
    inner_->renew_claim(source_id, worker);
  }
  Replacement finish_source(int64_t source_id, double duration) override {
    return inner_->finish_source(source_id, duration);
  }
  Replacement drop_source(int64_t source_id) override { return inner_->drop_source(source_id); }
  std::optional<Source> source_by_hash(const std::string& hash) override {
    return inner_->source_by_hash(hash);
  }
  std::optional<Source> source(int64_t id) override { return inner_->source(id); }
  std::vector<Source> sources() override { return inner_->sources(); }
  int64_t add_sample(const Sample& sample, const std::function<void()>& make_visible) override {
    return inner_->add_sample(sample, make_visible);
  }
  std::optional<Sample> sample(int64_t id) override { return inner_->sample(id); }
  std::vector<Sample> samples_of(int64_t source_id) override {
    return inner_->samples_of(source_id);
  }
  std::vector<Sample> samples(bool include_silent = true) override {
    return inner_->samples(include_silent);
  }
  bool add_vote(int64_t sample_id, const std::string& annotator, Label label) override {
    return inner_->add_vote(sample_id, annotator, label);
  }
  std::optional<Vote> undo_last_vote(const std::string& annotator) override {
    return inner_->undo_last_vote(annotator);
  }
  int64_t delete_votes(const std::string& annotator) override {
    return inner_->delete_votes(annotator);
  }
  std::vector<Vote> votes() override { return inner_->votes(); }
  std::vector<Vote> votes_for(int64_t sample_id) override { return inner_->votes_for(sample_id); }
  std::vector<RetiredVote> retired_votes() override { return inner_->retired_votes(); }
  std::vector<LabeledSample> labeled_samples() override { return inner_->labeled_samples(); }
  std::optional<Sample> next_sample(const NextQuery& query) override {
    return inner_->next_sample(query);
  }
  void set_sax_times(int64_t source_id, const std::vector<TimeRange>& sax) override {
    inner_->set_sax_times(source_id, sax);
  }
  std::map<int64_t, std::vector<TimeRange>> sax_times() override { return inner_->sax_times(); }
  void put_predictions(const std::string& model,
                       const std::vector<std::pair<int64_t, double>>& probabilities) override {
    inner_->put_predictions(model, probabilities);
  }
  std::vector<Sample> samples_without_prediction(const std::string& model) override {
    return inner_->samples_without_prediction(model);
  }
  void queue_predictions(const std::string& model,
                         const std::vector<std::pair<int64_t, double>>& probabilities) override {
    inner_->queue_predictions(model, probabilities);
  }
  ScanClaimResult claim_scan(int64_t source_id, const std::string& model,
                             const std::string& file_stamp, const std::string& worker,
                             double lease_seconds, bool retry_errors,
                             const std::string& take_over_from) override {
    return inner_->claim_scan(source_id, model, file_stamp, worker, lease_seconds, retry_errors,
                              take_over_from);
  }
  void renew_scan_claim(int64_t source_id, const std::string& model,
                        const std::string& worker) override {
    inner_->renew_scan_claim(source_id, model, worker);
  }
  void put_scan(const ScanResult& result, const std::string& worker) override {
    inner_->put_scan(result, worker);
  }
  void mark_scan_missing(int64_t source_id, const std::string& model) override {
    inner_->mark_scan_missing(source_id, model);
  }
  std::map<int64_t, std::pair<std::string, std::string>> scan_states(
      const std::string& model) override {
    return inner_->scan_states(model);
  }
  std::optional<ScanResult> scan_result(int64_t source_id, const std::string& model) override {
    return inner_->scan_result(source_id, model);
  }
  LibraryPage library(const LibraryQuery& query) override { return inner_->library(query); }
  ScanCounts scan_counts(const std::string& model) override { return inner_->scan_counts(model); }
  StatusReport status() override { return inner_->status(); }
  std::string backend() const override { return inner_->backend(); }

 private:
  std::unique_ptr<Store> inner_;
};

}  // namespace sax::testing
