#pragma once
// The labelling web app behind `saxdetect serve`: pages, the JSON API, sample audio and
// spectrograms, the model and analysis pages. Runs in-process on background threads, so
// tests start it on an ephemeral port and talk to it over loopback.
//
//   sax::web::WebOptions options;
//   options.port = 0;                       // any free port
//   sax::web::WebServer server(*store, home, options);
//   int port = server.start();              // serving now
//   ...
//   server.stop();
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/home.h"

namespace sax {
class Scorer;
class Store;
}  // namespace sax

namespace sax::web {

struct WebOptions {
  std::string host = "127.0.0.1";  // loopback unless the user asks to share
  int port = 8080;                 // 0: any free port (see WebServer::port())
  int votes = 1;                   // samples with fewer votes than this are offered
  std::string admin_token;         // empty: admin actions are off
  // Host header names accepted besides the bound address (and, on loopback, localhost, 127.0.0.1
  // and [::1]): a page on another site that rebinds its DNS name to this address sends its own
  // name, and is refused. Bound to a wildcard address (0.0.0.0, ::) with this empty, any is
  // accepted (the server cannot know its names).
  std::vector<std::string> allowed_hosts;
  size_t threads = 64;              // worker threads (one per open keep-alive connection)
  size_t upload_limit = 64u << 20;  // bytes accepted by /api/analyze
  // Analyses run one at a time; this many may be admitted (running or waiting), past it 503.
  size_t max_analyses = 4;
  double analysis_seconds = 120;  // time limit of one analysis, waiting included (then 503)
  double idle_timeout = 5;        // seconds a keep-alive connection may wait for a request
  // Seconds for a request line and headers (and the longest silence inside a request); a body
  // gets this plus its length at 32 KiB/s.
  double request_timeout = 10;
  // The scorer /analyze uses. Empty: the current model of the home (load_detector). Tests
  // put a fake here.
  using OpenScorer = std::function<std::unique_ptr<Scorer>(const Home&)>;
  OpenScorer open_scorer;
  // Score the samples in the background so labelling asks about the least certain first
  // (label_order.h). Off by default so tests get a fixed order; `saxdetect serve` turns it on.
  bool order_labelling = false;
  // The id of the model whose scan results /library shows. Empty: scan_model_id of the
  // current model (src/scan). Tests name a fixed one.
  using ScanModelId = std::function<std::string(const Home&)>;
  ScanModelId scan_model_id;
};

// A warning (without a "warning:" prefix) for a server reachable from other machines with no
// admin token, empty when none is due; start() logs it.
std::string exposure_warning(const WebOptions& options);

// Whether a request's Host header ("name:port", "[::1]:port") names this server.
bool host_allowed(const WebOptions& options, const std::string& host_header);

class WebServer {
 public:
  // The store must outlive the server.
  WebServer(Store& store, Home home, WebOptions options);
  ~WebServer();  // stops the server
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds and starts serving on background threads; returns the port. Throws sax::Error when
  // the address cannot be bound or the options are invalid.
  int start();
  // Stops accepting, ends analyses in flight (503), closes idle and slow connections, finishes
  // the other requests and joins the threads, within a fraction of a second plus the longest
  // request (an analysis stops at its next chunk). Idempotent.
  void stop();

  int port() const;
  std::string url() const;  // http://host:port/

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sax::web
