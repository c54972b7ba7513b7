#include "web/server.h"

#include <sys/socket.h>

#include <thread>

#include <spdlog/spdlog.h>

#include "web/app.h"
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

// httplib listens with a backlog of 5: when 32 labellers connect at once the kernel drops the
// overflow and some requests fail. Linux lets a second listen() on the socket raise it.
class Server : public httplib::Server {
 public:
  void widen_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

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

struct WebServer::Impl {
  App app;
  Server server;
  std::thread thread;
  std::unique_ptr<LabelOrderJob> label_order;
  int port = 0;

  Impl(Store& store, Home home, WebOptions options)
      : app{store,
            home,
            options,
            SpectrogramCache(home),
            Analyzer(home, options.open_scorer),
            SourceFiles(home)} {}

  void configure();
  httplib::Server::HandlerResponse limit_body(const httplib::Request& req,
                                              httplib::Response& res) const;
};

// Refuses oversized bodies from Content-Length before httplib reads them into memory.
httplib::Server::HandlerResponse WebServer::Impl::limit_body(const httplib::Request& req,
                                                             httplib::Response& res) const {
  const size_t limit =
      req.path == "/api/analyze" ? app.options.upload_limit + kMultipartOverhead : kMaxJsonBody;
  if (req.get_header_value<uint64_t>("Content-Length") <= limit)
    return httplib::Server::HandlerResponse::Unhandled;
  send_error(res, 413, "body: at most " + std::to_string(limit) + " bytes");
  res.set_header("Connection", "close");  // the unread body must not be parsed as a request
  return httplib::Server::HandlerResponse::Handled;
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
  server.set_read_timeout(10);
  server.set_write_timeout(10);
  server.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) { return limit_body(req, res); });
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
  impl_->configure();
  const bool bound = options.port == 0
                         ? (impl_->port = impl_->server.bind_to_any_port(options.host)) > 0
                         : impl_->server.bind_to_port(options.host, options.port);
  if (!bound)
    throw Error("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                " (address in use or not available)");
  if (options.port != 0) impl_->port = options.port;
  impl_->server.widen_backlog();
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  if (options.order_labelling)
    impl_->label_order = std::make_unique<LabelOrderJob>(impl_->app.store, impl_->app.home);
  return impl_->port;
}

void WebServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->label_order.reset();
  impl_->server.stop();
  impl_->thread.join();
}

int WebServer::port() const { return impl_->port; }

std::string WebServer::url() const {
  return "http://" + impl_->app.options.host + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace sax::web
