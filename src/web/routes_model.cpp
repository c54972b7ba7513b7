// GET /api/model: the current model's model.json, the URLs of its pictures and its library scan
// counts, for /model.
#include <fstream>

#include "web/app.h"
#include "web/validation.h"

namespace sax::web {

namespace fs = std::filesystem;

namespace {

const char* const kNoModel =
    "No trained model yet: the built-in detector (EfficientAT mn04_as, trained on AudioSet) "
    "answers zero-shot. Label clips, then run saxdetect train to fine-tune it on your labels "
    "(saxdetect demo shows the whole way).";

nlohmann::json read_model_json(const fs::path& file) {
  std::ifstream in(file);
  auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) throw Error(file.string() + ": not valid JSON");
  return json;
}

// How far `saxdetect scan` got with this model: songs scanned and how many have sax.
nlohmann::json scan_counts_json(App& app) {
  const auto model = library_model_id(app);
  if (!model) return nullptr;
  const ScanCounts counts = app.store.scan_counts(*model);
  return {{"scanned", counts.scanned},
          {"sax", counts.sax},
          {"missing", counts.missing},
          {"errors", counts.errors}};
}

void get_model(App& app, httplib::Response& res) {
  const auto name = current_model_name(app.home);
  const fs::path folder = name ? app.home.models() / *name : fs::path();
  std::error_code ec;
  if (!name || !fs::is_regular_file(folder / "model.json", ec)) {
    send_json(res, 200,
              {{"available", false},
               {"message", kNoModel},
               {"builtin",
                {{"threshold", builtin_threshold(app.home.models())},
                 {"calibrated", fs::exists(builtin_calibration_file(app.home.models()))}}}});
    return;
  }
  nlohmann::json pictures = nlohmann::json::object();
  for (const char* picture : {"training", "roc"}) {
    const std::string file = std::string(picture) + ".svg";
    if (fs::is_regular_file(folder / file, ec))
      pictures[picture] = "/media/" + url_encode_path("models/" + *name + "/" + file);
  }
  send_json(res, 200,
            {{"available", true},
             {"name", *name},
             {"model", read_model_json(folder / "model.json")},
             {"pictures", pictures},
             {"scans", scan_counts_json(app)}});
}

}  // namespace

void add_model_routes(httplib::Server& server, App& app) {
  server.Get("/api/model",
             [&app](const httplib::Request&, httplib::Response& res) { get_model(app, res); });
}

}  // namespace sax::web
