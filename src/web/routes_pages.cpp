// The pages and their assets, all embedded in the binary (see assets.h).
#include <stdexcept>
#include <string>
#include <utility>

#include "web/app.h"
#include "web/assets.h"
#include "web/validation.h"

namespace sax::web {

namespace {

std::string asset(const std::string& name) {
  const auto& assets = embedded_assets();
  const auto found = assets.find(name);
  if (found == assets.end()) throw HttpError(404, "no such page or asset: " + name);
  return std::string(found->second);
}

void send(std::string content, const std::string& name, httplib::Response& res) {
  // Assets change with the binary; revalidating is cheap on loopback and never shows stale JS.
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::move(content), content_type_for(name));
}

void replace(std::string& text, const std::string& placeholder, const std::string& value) {
  const auto at = text.find(placeholder);
  if (at == std::string::npos) throw std::logic_error("web/layout.html has no " + placeholder);
  text.replace(at, placeholder.size(), value);
}

// Every page shares web/layout.html (head, styles, top bar). web/<page>.html holds only the
// page's own <main>, after a first line naming its title and script:
//   <!-- page: Label · saxdetect | label.js -->
// Built once when the server starts; a malformed page file is a programming error.
std::string render_page(const std::string& file) {
  const std::string page = asset(file), prefix = "<!-- page: ", separator = " | ";
  const auto end_of_line = page.find(" -->\n");
  const auto bar = page.find(separator);
  if (page.rfind(prefix, 0) != 0 || end_of_line == std::string::npos || bar > end_of_line)
    throw std::logic_error("web/" + file + " does not start with <!-- page: TITLE | SCRIPT -->");
  std::string html = asset("layout.html");
  replace(html, "{{title}}", page.substr(prefix.size(), bar - prefix.size()));
  replace(html, "{{script}}",
          page.substr(bar + separator.size(), end_of_line - bar - separator.size()));
  replace(html, "{{main}}", page.substr(end_of_line + 5));
  return html;
}

}  // namespace

void add_page_routes(httplib::Server& server, App&) {
  const std::pair<const char*, const char*> pages[] = {
      {"/", "index"},      {"/label", "label"},     {"/done", "done"},      {"/status", "status"},
      {"/model", "model"}, {"/analyze", "analyze"}, {"/library", "library"}};
  for (const auto& [path, page] : pages)
    server.Get(path, [html = render_page(std::string(page) + ".html")](const httplib::Request&,
                                                                       httplib::Response& res) {
      send(html, "page.html", res);
    });
  server.Get("/assets/([A-Za-z0-9_.-]+)", [](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    send(asset(name), name, res);
  });
}

}  // namespace sax::web
