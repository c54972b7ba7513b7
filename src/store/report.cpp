#include "store/report.h"

#include <chrono>
#include <ctime>
#include <map>

#include <fmt/format.h>

namespace sax {

namespace {

size_t label_index(Label label) { return static_cast<size_t>(label); }

}  // namespace

double fleiss_kappa(const std::vector<std::array<int64_t, 3>>& counts_per_item) {
  double agreement_sum = 0;
  int64_t items = 0;
  std::array<double, 3> category_totals{};
  double ratings = 0;
  for (const auto& counts : counts_per_item) {
    const int64_t n = counts[0] + counts[1] + counts[2];
    if (n < 2) continue;
    double same_pairs = 0;
    for (size_t c = 0; c < 3; ++c) {
      same_pairs += static_cast<double>(counts[c]) * static_cast<double>(counts[c] - 1);
      category_totals[c] += static_cast<double>(counts[c]);
    }
    agreement_sum += same_pairs / (static_cast<double>(n) * static_cast<double>(n - 1));
    ratings += static_cast<double>(n);
    ++items;
  }
  if (items == 0) return 0;
  const double observed = agreement_sum / static_cast<double>(items);
  double expected = 0;
  for (double total : category_totals) expected += (total / ratings) * (total / ratings);
  if (expected >= 1.0) return 1.0;
  return (observed - expected) / (1.0 - expected);
}

void summarise_votes(const std::vector<Vote>& votes, const std::string& today,
                     StatusReport& report) {
  std::map<int64_t, std::vector<Label>> by_sample;
  for (const char* name : {"sax", "not_sax", "unsure"}) {
    report.labels[name] = 0;
    report.reconciled[name] = 0;
  }
  for (const Vote& vote : votes) {
    by_sample[vote.sample_id].push_back(vote.label);
    ++report.labels[std::string(label_name(vote.label))];
    ++report.votes_by_day[vote.created.substr(0, 10)];
  }
  report.votes = static_cast<int64_t>(votes.size());
  report.labeled = static_cast<int64_t>(by_sample.size());

  std::map<int64_t, Label> reconciled;
  std::vector<std::array<int64_t, 3>> counts;
  for (const auto& [sample_id, labels] : by_sample) {
    reconciled[sample_id] = reconcile(labels);
    ++report.reconciled[std::string(label_name(reconciled[sample_id]))];
    ++report.by_vote_count[static_cast<int>(labels.size())];
    std::array<int64_t, 3> per_label{};
    for (Label label : labels) ++per_label[label_index(label)];
    counts.push_back(per_label);
  }
  report.kappa = fleiss_kappa(counts);

  // Agreement only means something where others voted too: samples with >= 2 votes.
  std::map<std::string, AnnotatorStats> annotators;
  std::map<std::string, int64_t> compared, agreed;
  for (const Vote& vote : votes) {
    AnnotatorStats& stats = annotators[vote.annotator];
    stats.name = vote.annotator;
    ++stats.votes;
    if (vote.created.compare(0, 10, today) == 0) ++stats.today;
    if (by_sample[vote.sample_id].size() < 2) continue;
    ++compared[vote.annotator];
    if (reconciled[vote.sample_id] == vote.label) ++agreed[vote.annotator];
  }
  report.annotators.clear();
  for (auto& [name, stats] : annotators) {
    if (compared[name] > 0)
      stats.agreement = static_cast<double>(agreed[name]) / static_cast<double>(compared[name]);
    report.annotators.push_back(stats);
  }
}

std::string utc_now_iso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

nlohmann::json status_json(const StatusReport& report, const std::string& backend) {
  nlohmann::json annotators = nlohmann::json::array();
  for (const auto& a : report.annotators)
    annotators.push_back(
        {{"name", a.name}, {"votes", a.votes}, {"today", a.today}, {"agreement", a.agreement}});
  nlohmann::json by_vote_count = nlohmann::json::object();
  for (const auto& [count, samples] : report.by_vote_count)
    by_vote_count[std::to_string(count)] = samples;
  return {{"backend", backend},
          {"sources", report.sources},
          {"samples", report.samples},
          {"silent", report.silent},
          {"audio_seconds", report.audio_seconds},
          {"labeled", report.labeled},
          {"unlabeled", report.unlabeled},
          {"votes", report.votes},
          {"labels", report.labels},
          {"reconciled", report.reconciled},
          {"by_vote_count", by_vote_count},
          {"annotators", annotators},
          {"votes_by_day", report.votes_by_day},
          {"kappa", report.kappa}};
}

}  // namespace sax
