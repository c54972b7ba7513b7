#pragma once
// Internal to src/web: what every route handler shares, and the helpers they use. Only the
// files of this folder include it (it pulls in httplib.h).
#include <optional>
#include <string>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "common/home.h"
#include "store/store.h"
#include "web/analyzer.h"
#include "web/server.h"
#include "web/sessions.h"
#include "web/sources.h"
#include "web/spectrograms.h"

namespace sax::web {

struct App {
  Store& store;
  Home home;
  WebOptions options;
  SpectrogramCache spectrograms;
  Analyzer analyzer;
  SourceFiles sources;
  Sessions sessions;
};

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, int status, const std::string& message);

// The annotator named by ?annotator=NAME, validated (HttpError 400 when missing or bad).
std::string annotator_param(const httplib::Request& req);

// {"id", "audio", "spectrogram"}: what the labelling page needs to show a sample.
nlohmann::json sample_json(const Sample& sample);

// Name of the folder home/models/current points at; nullopt when there is no model yet.
std::optional<std::string> current_model_name(const Home& home);

// Route groups, one file each.
void add_page_routes(httplib::Server& server, App& app);
void add_label_routes(httplib::Server& server, App& app);
void add_media_routes(httplib::Server& server, App& app);
void add_admin_routes(httplib::Server& server, App& app);
void add_model_routes(httplib::Server& server, App& app);
void add_analyze_routes(httplib::Server& server, App& app);
void add_source_routes(httplib::Server& server, App& app);
void add_library_routes(httplib::Server& server, App& app);

// The id of the model whose scans /library and /model show; nullopt when there is no model.
std::optional<std::string> library_model_id(App& app);

}  // namespace sax::web
