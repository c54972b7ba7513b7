#pragma once
// The status report as JSON: what GET /api/status returns and the /status page draws.
#include <nlohmann/json.hpp>

#include "store/store.h"

namespace sax::web {

nlohmann::json status_json(const StatusReport& report, const std::string& backend);

}  // namespace sax::web
