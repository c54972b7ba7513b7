#pragma once
// The vote statistics in StatusReport, computed from the votes themselves so both back ends
// report exactly the same numbers.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace sax {

// Fleiss' kappa for items rated by a varying number of raters (counts per item:
// sax, not_sax, unsure). Items with fewer than 2 ratings are ignored. 0 when no item has 2
// ratings; 1 when every rating falls in one category (perfect agreement, chance undefined).
double fleiss_kappa(const std::vector<std::array<int64_t, 3>>& counts_per_item);

// Fills labeled, votes, labels, reconciled, by_vote_count (all but the 0 key), annotators,
// votes_by_day and kappa. today: "YYYY-MM-DD" (UTC).
void summarise_votes(const std::vector<Vote>& votes, const std::string& today,
                     StatusReport& report);

// The status report as JSON: what `saxdetect status --json` prints, GET /api/status returns and
// the /status page draws. backend: Store::backend().
nlohmann::json status_json(const StatusReport& report, const std::string& backend);

// "2026-11-25T20:31:07.123Z" for now, UTC.
std::string utc_now_iso();

}  // namespace sax
