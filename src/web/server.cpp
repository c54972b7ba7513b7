#include "web/server.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "web/app.h"
#include "web/connections.h"
#include "web/label_order.h"
#include "web/validation.h"

namespace sax::web {

namespace {

// Pages load scripts and styles only from this server, never inline, so even a name that
// slipped through escaping could not run as script.
const httplib::Headers kSecurityHeaders = {
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {"Content-Security-Policy",
     "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
     "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"},
};

constexpr size_t kMultipartOverhead = 64 * 1024;

std::chrono::milliseconds milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

httplib::Server::HandlerResponse refuse(httplib::Response& res, int status,
                                        const std::string& message) {
  send_error(res, status, message);
  // The body was not read, so what follows on the connection is not a request.
  res.set_header("Connection", "close");
  GuardedServer::close_connection();
  return httplib::Server::HandlerResponse::Handled;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

bool is_wildcard(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::";
}

// "name:port" -> "name", "[::1]:port" -> "::1", lower case.
std::string host_name(const std::string& header) {
  std::string name = header;
  if (!name.empty() && name[0] == '[') {
    name = name.substr(1, name.find(']') - 1);
  } else if (const size_t colon = name.rfind(':'); colon != std::string::npos) {
    name.resize(colon);
  }
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

bool is_body_method(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

void answer_exception(const httplib::Request& req, httplib::Response& res,
                      std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const HttpError& e) {
    send_error(res, e.status(), e.what());
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", req.method, req.path, e.what());
    send_error(res, 500, std::string("internal error: ") + e.what());
  }
}

}  // namespace

std::string exposure_warning(const WebOptions& options) {
  if (is_loopback(options.host) || !options.admin_token.empty()) return "";
  return (is_wildcard(options.host) ? std::string("every address") : options.host) +
         " is reachable from other machines and no --admin-token is set: anyone who can connect "
         "can label, and admin actions are off; set --admin-token to manage votes";
}

bool host_allowed(const WebOptions& options, const std::string& host_header) {
  if (host_header.empty()) return true;  // HTTP/1.0: browsers always send Host
  const std::string name = host_name(host_header);
  for (const auto& allowed : options.allowed_hosts)
    if (host_name(allowed) == name) return true;
  if (name == host_name(options.host)) return true;
  if (is_loopback(options.host) || is_wildcard(options.host))
    if (is_loopback(name)) return true;
  return is_wildcard(options.host) && options.allowed_hosts.empty();
}

struct WebServer::Impl {
  App app;
  GuardedServer server;
  std::thread thread;
  std::unique_ptr<LabelOrderJob> label_order;
  std::atomic<bool> listen_ended{false};
  int port = 0;

  Impl(Store& store, Home home, WebOptions options)
      : app{store,
            home,
            options,
            SpectrogramCache(home),
            Analyzer(home, options),
            SourceFiles(home),
            Sessions()} {}

  void configure();
  httplib::Server::HandlerResponse screen_request(const httplib::Request& req,
                                                  httplib::Response& res) const;
};

// Bodies are taken only with a Content-Length, uncompressed, and within the route's limit,
// all decided from the headers before httplib reads a byte of the body: httplib checks its
// payload limit only against Content-Length, so a chunked body, one without a length (read
// until the client closes) or a gzip bomb would each have grown in memory without bound.
httplib::Server::HandlerResponse WebServer::Impl::screen_request(const httplib::Request& req,
                                                                 httplib::Response& res) const {
  if (!host_allowed(app.options, req.get_header_value("Host")))
    return refuse(res, 421,
                  "Host: " + req.get_header_value("Host") +
                      " is not this server's name (serve --allowed-host NAME accepts it)");
  if (req.has_header("Transfer-Encoding"))
    return refuse(res, 411, "body: send it with a Content-Length (no Transfer-Encoding)");
  if (req.has_header("Content-Encoding"))
    return refuse(res, 415, "body: send it uncompressed (no Content-Encoding)");
  if (req.get_header_value_count("Content-Length") > 1)
    return refuse(res, 400, "body: more than one Content-Length");
  if (!req.has_header("Content-Length")) {
    if (is_body_method(req.method))
      return refuse(res, 411, "body: a Content-Length is required (0 for none)");
    return httplib::Server::HandlerResponse::Unhandled;
  }
  const size_t limit =
      req.path == "/api/analyze" ? app.options.upload_limit + kMultipartOverhead : kMaxJsonBody;
  const auto length = req.get_header_value<uint64_t>("Content-Length");
  if (length > limit) return refuse(res, 413, "body: at most " + std::to_string(limit) + " bytes");
  // httplib reads bodies only for these methods: another one's body would be taken for the
  // next request.
  if (length > 0 && !is_body_method(req.method) && req.method != "DELETE")
    return refuse(res, 400, "body: " + req.method + " takes none");
  GuardedServer::expect_body(length);
  return httplib::Server::HandlerResponse::Unhandled;
}

void WebServer::Impl::configure() {
  const size_t threads = app.options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_default_headers(kSecurityHeaders);
  server.set_payload_max_length(app.options.upload_limit + kMultipartOverhead);
  // httplib writes headers and body separately: without this, Nagle's algorithm meets the
  // client's delayed ACK and each response waits ~40 ms.
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(10000);
  ConnectionLimits limits;
  limits.idle = milliseconds(app.options.idle_timeout);
  limits.headers = limits.silence = milliseconds(app.options.request_timeout);
  server.set_connection_limits(limits);
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return screen_request(req, res);
  });
  server.set_exception_handler(answer_exception);
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty())
      send_error(res, res.status, res.status == 404 ? "not found" : "request refused");
  });
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("{} {} -> {}", req.method, req.path, res.status);
  });
  add_page_routes(server, app);
  add_label_routes(server, app);
  add_media_routes(server, app);
  add_admin_routes(server, app);
  add_model_routes(server, app);
  add_analyze_routes(server, app);
  add_source_routes(server, app);
  add_library_routes(server, app);
}

WebServer::WebServer(Store& store, Home home, WebOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(home), std::move(options))) {}

WebServer::~WebServer() { stop(); }

int WebServer::start() {
  const WebOptions& options = impl_->app.options;
  if (options.votes < 1) throw Error("--votes must be at least 1");
  if (options.threads < 1) throw Error("threads must be at least 1");
  if (options.port < 0 || options.port > 65535) throw Error("--port must be 0..65535");
  if (options.max_analyses < 1) throw Error("max_analyses must be at least 1");
  if (!(options.analysis_seconds > 0) || !(options.request_timeout > 0) ||
      !(options.idle_timeout > 0))
    throw Error("analysis, request and idle time limits must be positive");
  impl_->configure();
  const bool bound = options.port == 0
                         ? (impl_->port = impl_->server.bind_to_any_port(options.host)) > 0
                         : impl_->server.bind_to_port(options.host, options.port);
  if (!bound)
    throw Error("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                " (address in use or not available)");
  if (options.port != 0) impl_->port = options.port;
  impl_->app.analyzer.sweep_uploads();
  if (const std::string warning = exposure_warning(options); !warning.empty())
    spdlog::warn("{}", warning);
  impl_->server.widen_backlog();
  impl_->thread = std::thread([this] {
    impl_->server.listen_after_bind();
    impl_->listen_ended = true;
  });
  // httplib's stop() stops only a loop that is running: a stop() before the loop began was
  // lost, and the loop then ran for ever.
  while (!impl_->server.is_running() && !impl_->listen_ended)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (options.order_labelling)
    impl_->label_order = std::make_unique<LabelOrderJob>(impl_->app.store, impl_->app.home);
  return impl_->port;
}

void WebServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->label_order.reset();
  impl_->app.analyzer.stop();
  impl_->server.stop();
  impl_->thread.join();
}

int WebServer::port() const { return impl_->port; }

std::string WebServer::url() const {
  return "http://" + impl_->app.options.host + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace sax::web
