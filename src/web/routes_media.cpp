// Files from the data home: sample audio, model pictures, and per-sample spectrograms. Only
// whitelisted folders and file types, always resolved through Home::inside (no traversal).
#include <fstream>
#include <set>
#include <sstream>

#include "web/app.h"
#include "web/assets.h"
#include "web/validation.h"

namespace sax::web {

namespace fs = std::filesystem;

namespace {

// The database, caches and weights also live in the home: they must never be downloadable.
bool may_serve(const fs::path& relative) {
  static const std::set<std::string> kFolders = {"samples", "models"};
  static const std::set<std::string> kTypes = {".mp3", ".ogg",  ".opus", ".m4a",
                                               ".wav", ".flac", ".svg",  ".png"};
  return kFolders.count(relative.begin()->string()) && kTypes.count(relative.extension().string());
}

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in) throw Error("cannot read " + path.string());
  return bytes.str();
}

void get_media(App& app, const httplib::Request& req, httplib::Response& res) {
  const std::string relative = req.matches[1];  // already percent-decoded by httplib
  const auto not_found = [&] { throw HttpError(404, "no such file: " + relative); };
  if (relative.empty() || !may_serve(fs::path(relative))) not_found();
  fs::path file;
  try {
    file = app.home.inside(relative);
  } catch (const Error&) {
    not_found();  // outside the home: say no more than for a missing file
  }
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) not_found();
  res.set_header("Cache-Control", "private, max-age=3600");
  res.set_content(read_whole(file), content_type_for(file.filename().string()));
}

void get_spectrogram(App& app, const httplib::Request& req, httplib::Response& res) {
  const int64_t id = checked_id(req.matches[1].str(), "sample id");
  const auto sample = app.store.sample(id);
  if (!sample) throw HttpError(404, "no sample " + std::to_string(id));
  res.set_header("Cache-Control", "private, max-age=86400");
  res.set_content(app.spectrograms.png(*sample), "image/png");
}

}  // namespace

void add_media_routes(httplib::Server& server, App& app) {
  server.Get("/media/(.+)", [&app](const httplib::Request& req, httplib::Response& res) {
    get_media(app, req, res);
  });
  server.Get(R"(/spectrograms/(\d{1,18})\.png)",
             [&app](const httplib::Request& req, httplib::Response& res) {
               get_spectrogram(app, req, res);
             });
}

}  // namespace sax::web
