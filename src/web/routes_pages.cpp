// The pages and their assets, all embedded in the binary (see assets.h).
#include "web/app.h"
#include "web/assets.h"
#include "web/validation.h"

namespace sax::web {

namespace {

void send_asset(const std::string& name, httplib::Response& res) {
  const auto& assets = embedded_assets();
  const auto found = assets.find(name);
  if (found == assets.end()) throw HttpError(404, "no such page or asset: " + name);
  // Assets change with the binary; revalidating is cheap on loopback and never shows stale JS.
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(found->second), content_type_for(name));
}

}  // namespace

void add_page_routes(httplib::Server& server, App&) {
  server.Get(
      "/", [](const httplib::Request&, httplib::Response& res) { send_asset("index.html", res); });
  for (const char* page : {"label", "done", "status", "model", "analyze"}) {
    const std::string file = std::string(page) + ".html";
    server.Get(std::string("/") + page,
               [file](const httplib::Request&, httplib::Response& res) { send_asset(file, res); });
  }
  server.Get("/assets/([A-Za-z0-9_.-]+)", [](const httplib::Request& req, httplib::Response& res) {
    send_asset(req.matches[1], res);
  });
}

}  // namespace sax::web
