// Ingested sources on /analyze: list them (filtered by name), analyse one by id, play it back.
//   GET  /api/sources?q=TEXT&limit=N   {"total", "sources": [source_json...]}
//   POST /api/sources/ID/analyze       the /api/analyze result, plus "source_id" and "audio"
//   GET  /api/sources/ID/audio         the source's file (range requests work)
// Only ids come from the client; the file is the one the store names, checked by SourceFiles.
#include <algorithm>
#include <fstream>
#include <memory>

#include "web/app.h"
#include "web/assets.h"
#include "web/validation.h"

namespace sax::web {

namespace fs = std::filesystem;

namespace {

size_t limit_param(const httplib::Request& req) {
  if (!req.has_param("limit")) return kDefaultSourceLimit;
  const std::string message = "limit: a whole number from 1 to " + std::to_string(kMaxSourceLimit);
  int64_t limit = 0;
  try {
    limit = checked_id(req.get_param_value("limit"), "limit");
  } catch (const HttpError&) {
    throw HttpError(400, message);
  }
  if (static_cast<uint64_t>(limit) > kMaxSourceLimit) throw HttpError(400, message);
  return static_cast<size_t>(limit);
}

void list_sources(App& app, const httplib::Request& req, httplib::Response& res) {
  const std::string text =
      req.has_param("q") ? checked_text(req.get_param_value("q"), "q", kMaxSourceQuery) : "";
  const SourceMatches matches = match_sources(app.store.sources(), text, limit_param(req));
  nlohmann::json list = nlohmann::json::array();
  for (const Source& source : matches.sources)
    list.push_back(source_json(source, app.sources.available(source)));
  send_json(res, 200, {{"total", matches.total}, {"sources", std::move(list)}});
}

Source source_param(App& app, const httplib::Request& req) {
  const int64_t id = checked_id(req.matches[1].str(), "source id");
  auto source = app.store.source(id);
  if (!source) throw HttpError(404, "no source " + std::to_string(id));
  return *source;
}

std::string audio_url(const Source& source) {
  return "/api/sources/" + std::to_string(source.id) + "/audio";
}

void analyze_source(App& app, const httplib::Request& req, httplib::Response& res) {
  const Source source = source_param(app, req);
  const fs::path file = app.sources.checked_file(source);
  nlohmann::json result = app.analyzer.analyse_file(file, source_file_name(source));
  result["source_id"] = source.id;
  result["audio"] = audio_url(source);
  send_json(res, 200, result);
}

// Streams the file in pieces (a long song is never read into memory whole); httplib answers
// Range requests with the matching slice, so the player can seek.
void source_audio(App& app, const httplib::Request& req, httplib::Response& res) {
  const Source source = source_param(app, req);
  const fs::path file = app.sources.checked_file(source);
  std::error_code ec;
  const uintmax_t size = fs::file_size(file, ec);
  auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
  if (ec || !*in) throw HttpError(410, "source " + std::to_string(source.id) + ": cannot read it");
  const std::string type = content_type_for(file.filename().string());
  res.set_header("Cache-Control", "private, max-age=3600");
  res.set_content_provider(static_cast<size_t>(size), type.c_str(),
                           [in](size_t offset, size_t length, httplib::DataSink& sink) {
                             char buffer[1 << 16];
                             in->clear();
                             in->seekg(static_cast<std::streamoff>(offset));
                             const auto want =
                                 static_cast<std::streamsize>(std::min(length, sizeof buffer));
                             in->read(buffer, want);
                             const std::streamsize got = in->gcount();
                             if (got <= 0)
                               return false;  // shorter than when checked: end the response
                             return sink.write(buffer, static_cast<size_t>(got));
                           });
}

}  // namespace

void add_source_routes(httplib::Server& server, App& app) {
  server.Get("/api/sources", [&app](const httplib::Request& req, httplib::Response& res) {
    list_sources(app, req, res);
  });
  // Any id text reaches the handler, so a malformed one gets 400 rather than 404.
  server.Post("/api/sources/([^/]+)/analyze",
              [&app](const httplib::Request& req, httplib::Response& res) {
                analyze_source(app, req, res);
              });
  server.Get(
      "/api/sources/([^/]+)/audio",
      [&app](const httplib::Request& req, httplib::Response& res) { source_audio(app, req, res); });
}

}  // namespace sax::web
