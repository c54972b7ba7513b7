// POST /api/analyze: where does a saxophone play in an uploaded song (multipart field "file").
// The body size is capped before it is read (server.cpp); the file is checked and removed
// again by the Analyzer.
#include "web/app.h"
#include "web/validation.h"

namespace sax::web {

namespace {

void analyze(App& app, const httplib::Request& req, httplib::Response& res) {
  if (!req.is_multipart_form_data() || !req.has_file("file"))
    throw HttpError(400, "file: send the song as multipart/form-data field \"file\"");
  const httplib::MultipartFormData upload = req.get_file_value("file");
  if (upload.content.empty()) throw HttpError(400, "file: the upload is empty");
  if (upload.content.size() > app.options.upload_limit)
    throw HttpError(413, "file: at most " + std::to_string(app.options.upload_limit) + " bytes");
  send_json(res, 200, app.analyzer.analyse_upload(upload.filename, upload.content));
}

}  // namespace

void add_analyze_routes(httplib::Server& server, App& app) {
  server.Post("/api/analyze", [&app](const httplib::Request& req, httplib::Response& res) {
    analyze(app, req, res);
  });
}

}  // namespace sax::web
