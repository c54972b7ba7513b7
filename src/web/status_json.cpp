#include "web/status_json.h"

namespace sax::web {

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

}  // namespace sax::web
