// The labelling API: next sample, votes, undo, progress and the status report.
#include <algorithm>
#include <optional>

#include "store/report.h"
#include "web/app.h"
#include "web/label_order.h"
#include "web/validation.h"

namespace sax::web {

namespace {

// ?exclude=12,13: ids the page already holds (the clip on screen when it prefetches).
std::vector<int64_t> exclude_param(const httplib::Request& req) {
  std::vector<int64_t> ids;
  if (!req.has_param("exclude")) return ids;
  const std::string list = req.get_param_value("exclude");
  size_t start = 0;
  while (start <= list.size() && ids.size() < 16) {
    const size_t comma = std::min(list.find(',', start), list.size());
    ids.push_back(checked_id(std::string_view(list).substr(start, comma - start), "exclude"));
    start = comma + 1;
  }
  return ids;
}

std::string session_token(const httplib::Request& req) {
  return cookie_value(req.get_header_value("Cookie"), kSessionCookie);
}

// The name the request's session labels under; HttpError 401 without a live session.
std::string session_name(const App& app, const std::string& token) {
  if (auto name = app.sessions.name_of(token)) return *name;
  throw HttpError(401, "session: none (open one with POST /api/session {\"name\": ...})");
}

// Reading needs no session, but a page that has one asks as its name.
std::string reader_name(const App& app, const httplib::Request& req) {
  if (auto name = app.sessions.name_of(session_token(req))) return *name;
  return annotator_param(req);
}

// Requiring JSON also stops plain cross-site form posts (they cannot set this type).
void require_json(const httplib::Request& req) {
  if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0)
    throw HttpError(415, "body: send Content-Type: application/json");
}

void post_session(App& app, const httplib::Request& req, httplib::Response& res) {
  require_json(req);
  const nlohmann::json body = checked_json_object(req.body);
  const auto name = body.find("name");
  if (name == body.end() || !name->is_string()) throw HttpError(400, "name: expected a string");
  const auto opened =
      app.sessions.open(checked_annotator(name->get<std::string>()), session_token(req));
  res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + opened.token +
                                   "; Path=/; HttpOnly; SameSite=Strict");
  res.set_header("Cache-Control", "no-store");
  send_json(res, 201, {{"name", opened.name}});
}

void get_session(App& app, const httplib::Request& req, httplib::Response& res) {
  send_json(res, 200, {{"name", session_name(app, session_token(req))}});
}

void get_next(App& app, const httplib::Request& req, httplib::Response& res) {
  NextQuery query;
  query.annotator = reader_name(app, req);
  query.votes_wanted = app.options.votes;
  query.model = labelling_model(app.home);
  query.exclude = exclude_param(req);
  const auto sample = app.store.next_sample(query);
  if (!sample) {
    res.status = 204;  // nothing left for this annotator
    return;
  }
  send_json(res, 200, sample_json(*sample));
}

// A JSON integer field, or HttpError 400 naming it.
int64_t integer_field(const nlohmann::json& body, const char* field) {
  const auto found = body.find(field);
  if (found == body.end() || !found->is_number_integer() || found->get<int64_t>() <= 0)
    throw HttpError(400, std::string(field) + ": expected a positive integer");
  return found->get<int64_t>();
}

std::string string_field(const nlohmann::json& body, const char* field) {
  const auto found = body.find(field);
  if (found == body.end() || !found->is_string())
    throw HttpError(400, std::string(field) + ": expected a string");
  return found->get<std::string>();
}

// The vote alone, with no lookup of the sample first: on PostgreSQL it is one round trip.
bool cast_vote(App& app, int64_t sample_id, const std::string& annotator, Label label) {
  try {
    return app.store.add_vote(sample_id, annotator, label);
  } catch (const UnknownSample&) {
    throw HttpError(404, "sample_id: no sample " + std::to_string(sample_id));
  }
}

void post_label(App& app, const httplib::Request& req, httplib::Response& res) {
  require_json(req);
  const nlohmann::json body = checked_json_object(req.body);
  const int64_t sample_id = integer_field(body, "sample_id");
  // "annotator" may be left out; given, it must be the session's own name.
  const std::optional<std::string> named =
      body.contains("annotator")
          ? std::optional<std::string>(checked_annotator(string_field(body, "annotator")))
          : std::nullopt;
  const Label label = checked_label(string_field(body, "label"));
  const std::string token = session_token(req);
  const std::string annotator = session_name(app, token);
  if (named && *named != annotator)
    throw HttpError(403, "annotator: this session labels as " + annotator);
  const bool replaced = cast_vote(app, sample_id, annotator, label);
  app.sessions.voted(token, sample_id);
  send_json(res, 201,
            {{"sample_id", sample_id},
             {"annotator", annotator},
             {"label", label_name(label)},
             {"replaced", replaced}});
}

void undo_last(App& app, const httplib::Request& req, httplib::Response& res) {
  const std::optional<std::string> named =
      req.has_param("annotator") ? std::optional<std::string>(annotator_param(req)) : std::nullopt;
  const std::string token = session_token(req);
  const std::string annotator = session_name(app, token);
  if (named && *named != annotator)
    throw HttpError(403, "annotator: this session labels as " + annotator);
  // Only votes this session cast: its name may hold votes of an earlier server run.
  if (!app.sessions.has_votes(token)) throw HttpError(404, "nothing to undo in this session");
  const auto vote = app.store.undo_last_vote(annotator);
  if (!vote) throw HttpError(404, "nothing to undo");
  app.sessions.undone(token, vote->sample_id);
  nlohmann::json body = {{"sample_id", vote->sample_id}, {"label", label_name(vote->label)}};
  if (const auto sample = app.store.sample(vote->sample_id)) body["sample"] = sample_json(*sample);
  send_json(res, 200, body);
}

std::string order_in_use(const std::optional<std::string>& model) {
  if (model) return "active learning: clips model " + *model + " is least sure about come first";
  return "active learning: clips the built-in detector is least sure about come first";
}

// The labelling page's header line: this annotator's count today and the project's progress.
void get_progress(App& app, const httplib::Request& req, httplib::Response& res) {
  const std::string annotator = reader_name(app, req);
  const StatusReport report = app.store.status();
  int64_t today = 0, votes = 0;
  for (const auto& a : report.annotators)
    if (a.name == annotator) today = a.today, votes = a.votes;
  const auto model = current_model_name(app.home);
  send_json(res, 200,
            {{"annotator", annotator},
             {"today", today},
             {"votes", votes},
             {"labeled", report.labeled},
             {"samples", report.labeled + report.unlabeled},
             {"votes_wanted", app.options.votes},
             {"model", model.value_or("")},
             {"order", order_in_use(model)}});
}

}  // namespace

void add_label_routes(httplib::Server& server, App& app) {
  server.Post("/api/session", [&app](const httplib::Request& req, httplib::Response& res) {
    post_session(app, req, res);
  });
  server.Get("/api/session", [&app](const httplib::Request& req, httplib::Response& res) {
    get_session(app, req, res);
  });
  server.Get("/api/next", [&app](const httplib::Request& req, httplib::Response& res) {
    get_next(app, req, res);
  });
  server.Post("/api/labels", [&app](const httplib::Request& req, httplib::Response& res) {
    post_label(app, req, res);
  });
  server.Delete("/api/labels/last", [&app](const httplib::Request& req, httplib::Response& res) {
    undo_last(app, req, res);
  });
  server.Get("/api/progress", [&app](const httplib::Request& req, httplib::Response& res) {
    get_progress(app, req, res);
  });
  server.Get("/api/status", [&app](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, status_json(app.store.status(), app.store.backend()));
  });
}

}  // namespace sax::web
