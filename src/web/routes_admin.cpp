// Admin actions (export all votes, delete one annotator's votes). They exist only when the
// server was started with --admin-token, and need that token as "Authorization: Bearer ...".
#include "web/app.h"
#include "web/validation.h"

namespace sax::web {

namespace {

void require_admin(const App& app, const httplib::Request& req) {
  if (app.options.admin_token.empty())
    throw HttpError(404, "admin actions are off: start serve with --admin-token");
  const std::string header = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  const bool has_bearer = header.rfind(prefix, 0) == 0;
  if (!has_bearer || !same_secret(header.substr(prefix.size()), app.options.admin_token))
    throw HttpError(401, "admin: a valid bearer token is required");
}

void export_votes(App& app, const httplib::Request& req, httplib::Response& res) {
  require_admin(app, req);
  nlohmann::json votes = nlohmann::json::array();
  for (const Vote& vote : app.store.votes())
    votes.push_back({{"sample_id", vote.sample_id},
                     {"annotator", vote.annotator},
                     {"label", label_name(vote.label)},
                     {"created", vote.created}});
  res.set_header("Content-Disposition", "attachment; filename=\"saxdetect-votes.json\"");
  send_json(res, 200, {{"votes", votes}});
}

void delete_annotator_votes(App& app, const httplib::Request& req, httplib::Response& res) {
  require_admin(app, req);
  const std::string annotator = annotator_param(req);
  const int64_t deleted = app.store.delete_votes(annotator);
  send_json(res, 200, {{"annotator", annotator}, {"deleted", deleted}});
}

}  // namespace

void add_admin_routes(httplib::Server& server, App& app) {
  server.Get("/api/admin/export", [&app](const httplib::Request& req, httplib::Response& res) {
    export_votes(app, req, res);
  });
  server.Delete("/api/admin/votes", [&app](const httplib::Request& req, httplib::Response& res) {
    delete_annotator_votes(app, req, res);
  });
}

}  // namespace sax::web
