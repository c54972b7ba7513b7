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

#include "common/home.h"

namespace sax {
class Scorer;
class Store;
}  // namespace sax

namespace sax::web {

struct WebOptions {
  std::string host = "127.0.0.1";   // loopback unless the user asks to share
  int port = 8080;                  // 0: any free port (see WebServer::port())
  int votes = 1;                    // samples with fewer votes than this are offered
  std::string admin_token;          // empty: admin actions are off
  size_t threads = 64;              // worker threads (one per open keep-alive connection)
  size_t upload_limit = 64u << 20;  // bytes accepted by /api/analyze
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
  // Stops accepting, finishes requests in flight, joins the threads. Idempotent.
  void stop();

  int port() const;
  std::string url() const;  // http://host:port/

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sax::web
