#include "web/app.h"

#include "infer/detector.h"
#include "web/validation.h"

namespace sax::web {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  // Invalid UTF-8 from the store is replaced rather than failing the whole response.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

std::string annotator_param(const httplib::Request& req) {
  if (!req.has_param("annotator")) throw HttpError(400, "annotator: a name is required");
  return checked_annotator(req.get_param_value("annotator"));
}

nlohmann::json sample_json(const Sample& sample) {
  return {{"id", sample.id},
          {"audio", "/media/" + url_encode_path(sample.web_path)},
          {"spectrogram", "/spectrograms/" + std::to_string(sample.id) + ".png"}};
}

std::optional<std::string> current_model_name(const Home& home) {
  try {
    return current_model_dir(home.models()).filename().string();
  } catch (const Error&) {
    return std::nullopt;  // no model trained yet
  }
}

}  // namespace sax::web
