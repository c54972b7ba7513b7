// The Library page's API: the stored scan results, filtered, sorted and paged in the database.
//   GET  /api/library?verdict=any|sax|no_sax&min_share=F&q=TEXT&sort=name|share|probability|
//        duration&order=asc|desc&offset=N&limit=N   {"available", "model", "total", "songs"}
//   GET  /api/library/ID          one song with its curve and audio URL
//   POST /api/library/ID/label    queues the song's uncertain samples for labelling
// Parameters are checked strictly (400 naming the field); file paths never leave the server.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "scan/library.h"
#include "scan/scan.h"
#include "web/app.h"
#include "web/label_order.h"
#include "web/validation.h"

namespace sax::web {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kDefaultLimit = 50;
constexpr int64_t kMaxLimit = 200;
constexpr int64_t kMaxOffset = 1'000'000'000;
// A sample is queued when the scan's mean probability over it lies this close to 0.5, and
// at least kMinQueued of the song's samples are, nearest 0.5 first, so the link always helps.
constexpr double kUncertainBand = 0.35;
constexpr size_t kMinQueued = 3;

const char* const kNoModel =
    "The current model cannot be read: train again (saxdetect train), or remove models/current "
    "to use the built-in detector.";

std::string param(const httplib::Request& req, const char* name, const std::string& fallback) {
  return req.has_param(name) ? req.get_param_value(name) : fallback;
}

template <typename T>
T one_of(const std::string& value, const char* field,
         const std::vector<std::pair<const char*, T>>& choices) {
  std::string names;
  for (const auto& [name, choice] : choices) {
    if (value == name) return choice;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  throw HttpError(400, std::string(field) + ": one of " + names);
}

int64_t whole_number(const std::string& text, const char* field, int64_t low, int64_t high) {
  const std::string message = std::string(field) + ": a whole number from " + std::to_string(low) +
                              " to " + std::to_string(high);
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos)
    throw HttpError(400, message);
  const int64_t value = std::stoll(text);
  if (value < low || value > high) throw HttpError(400, message);
  return value;
}

double share_param(const std::string& text) {
  const std::string message = "min_share: a number from 0 to 1";
  if (text.empty() || text.size() > 20 ||
      text.find_first_not_of("0123456789.") != std::string::npos)
    throw HttpError(400, message);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !(value >= 0 && value <= 1))
    throw HttpError(400, message);
  return value;
}

LibraryQuery query_of(const httplib::Request& req, const std::string& model) {
  using V = LibraryQuery::Verdict;
  using S = LibraryQuery::Sort;
  LibraryQuery q;
  q.model = model;
  q.verdict = one_of<V>(param(req, "verdict", "any"), "verdict",
                        {{"any", V::any}, {"sax", V::sax}, {"no_sax", V::no_sax}});
  q.min_share = share_param(param(req, "min_share", "0"));
  q.search = checked_text(param(req, "q", ""), "q", kMaxSourceQuery);
  q.sort = one_of<S>(param(req, "sort", "name"), "sort",
                     {{"name", S::name},
                      {"share", S::share},
                      {"probability", S::probability},
                      {"duration", S::duration}});
  q.descending =
      one_of<bool>(param(req, "order", "asc"), "order", {{"asc", false}, {"desc", true}});
  q.offset = whole_number(param(req, "offset", "0"), "offset", 0, kMaxOffset);
  q.limit = whole_number(param(req, "limit", std::to_string(kDefaultLimit)), "limit", 1, kMaxLimit);
  return q;
}

std::string audio_url(int64_t source_id) {
  return "/api/sources/" + std::to_string(source_id) + "/audio";
}

void list_library(App& app, const httplib::Request& req, httplib::Response& res) {
  const auto model = library_model_id(app);
  if (!model) return send_json(res, 200, {{"available", false}, {"message", kNoModel}});
  const LibraryQuery query = query_of(req, *model);
  const LibraryPage page = app.store.library(query);
  nlohmann::json songs = nlohmann::json::array();
  for (const auto& entry : page.entries) songs.push_back(library::to_json(entry, false));
  send_json(res, 200,
            {{"available", true},
             {"model", *model},
             {"total", page.total},
             {"offset", query.offset},
             {"limit", query.limit},
             {"songs", std::move(songs)}});
}

std::pair<Source, ScanResult> scanned_song(App& app, const httplib::Request& req) {
  const int64_t id = checked_id(req.matches[1].str(), "song id");
  const auto model = library_model_id(app);
  if (!model) throw HttpError(409, kNoModel);
  auto source = app.store.source(id);
  auto result = source ? app.store.scan_result(id, *model) : std::nullopt;
  if (!result || result->status == "pending" || result->status == "error")
    throw HttpError(404, "song " + std::to_string(id) + " has no scan by the current model");
  return {*source, *result};
}

nlohmann::json rounded_curve(const std::string& base64) {
  nlohmann::json curve = nlohmann::json::array();
  for (float p : decode_curve(base64)) curve.push_back(std::round(p * 1000) / 1000);
  return curve;
}

void get_song(App& app, const httplib::Request& req, httplib::Response& res) {
  const auto [source, result] = scanned_song(app, req);
  nlohmann::json song =
      library::to_json({source.path, source.title, source.artist, source.album, result}, false);
  song["curve"] = rounded_curve(result.curve);
  song["curve_step"] = result.curve_step;
  song["audio"] = audio_url(source.id);
  send_json(res, 200, song);
}

// Mean curve value over each sample's span: the scan's belief about that clip.
std::vector<std::pair<int64_t, double>> sample_probabilities(Store& store, const Source& source,
                                                             const ScanResult& result) {
  const std::vector<float> curve = decode_curve(result.curve);
  std::vector<std::pair<int64_t, double>> out;
  if (curve.empty() || !(result.curve_step > 0)) return out;
  for (const Sample& sample : store.samples_of(source.id)) {
    if (sample.silent) continue;
    const auto first = static_cast<size_t>(std::max(0.0, sample.start / result.curve_step));
    const auto end =
        static_cast<size_t>(std::ceil((sample.start + sample.duration) / result.curve_step));
    double sum = 0;
    size_t n = 0;
    for (size_t i = first; i < end && i < curve.size(); ++i, ++n) sum += curve[i];
    if (n > 0) out.push_back({sample.id, sum / static_cast<double>(n)});
  }
  return out;
}

// The threshold the labelling model decides steps at: what uncertainty is measured from.
double labelling_threshold(const Home& home) {
  if (!fs::exists(home.models() / "current")) return builtin_threshold(home.models());
  const auto description = read_model_description(current_model_dir(home.models()));
  return description.value("step_threshold", description.value("threshold", 0.5));
}

void queue_song(App& app, const httplib::Request& req, httplib::Response& res) {
  const auto [source, result] = scanned_song(app, req);
  auto samples = sample_probabilities(app.store, source, result);
  const double threshold = labelling_threshold(app.home);
  for (auto& [id, p] : samples) p = uncertainty_score(p, threshold);
  std::sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) {
    return std::abs(a.second - 0.5) < std::abs(b.second - 0.5);
  });
  size_t keep = 0;
  while (keep < samples.size() &&
         (keep < kMinQueued || std::abs(samples[keep].second - 0.5) < kUncertainBand))
    ++keep;
  samples.resize(keep);
  app.store.queue_predictions(labelling_model(app.home), samples);
  send_json(res, 200, {{"queued", samples.size()}, {"label", "/label"}});
}

// Hashing a model's weights on every request would cost milliseconds: the id is kept while the
// current model's files keep their size and modification time.
class ModelIdCache {
 public:
  std::optional<std::string> get(const Home& home) {
    std::error_code ec;
    fs::path folder;
    try {
      if (!fs::exists(home.models() / "current")) return scan_model_id(home, "");  // built-in
      folder = current_model_dir(home.models());
    } catch (const Error&) {
      return std::nullopt;
    }
    std::string key = folder.string();
    for (const char* file : {"model.json", "model.safetensors", "model.pt"}) {
      const auto time = fs::last_write_time(folder / file, ec);
      key += ec ? std::string("|-") : "|" + std::to_string(time.time_since_epoch().count());
      const auto size = fs::file_size(folder / file, ec);
      key += ec ? std::string("|-") : "|" + std::to_string(size);
    }
    std::lock_guard lock(mutex_);
    if (key != key_) {
      id_ = scan_model_id(home, folder.string());
      key_ = key;
    }
    return id_;
  }

 private:
  std::mutex mutex_;
  std::string key_, id_;
};

}  // namespace

std::optional<std::string> library_model_id(App& app) {
  if (app.options.scan_model_id) return app.options.scan_model_id(app.home);
  static ModelIdCache cache;
  return cache.get(app.home);
}

void add_library_routes(httplib::Server& server, App& app) {
  server.Get("/api/library", [&app](const httplib::Request& req, httplib::Response& res) {
    list_library(app, req, res);
  });
  server.Get("/api/library/([^/]+)", [&app](const httplib::Request& req, httplib::Response& res) {
    get_song(app, req, res);
  });
  server.Post(
      "/api/library/([^/]+)/label",
      [&app](const httplib::Request& req, httplib::Response& res) { queue_song(app, req, res); });
}

}  // namespace sax::web
