#pragma once
// Internal to src/web: httplib's server with connection handling it lacks. httplib times out
// each read on its own, so a client sending a byte every few seconds held a worker thread
// forever, and an idle keep-alive connection delayed stop() by its whole keep-alive wait.
// Here every connection has
//   - an idle limit between requests (the keep-alive wait),
//   - a silence limit while a request is read,
//   - a deadline for the request line and headers, and one for the body that grows with its
//     announced length (a minimum average rate),
// and every wait ends within a fraction of a second once stop() is called.
// A pre-routing handler, running on the connection's own thread, sets the body's deadline
// (expect_body) or asks for the connection to close after the response (close_connection).
#include <chrono>
#include <cstdint>

#include <httplib.h>

namespace sax::web {

struct ConnectionLimits {
  std::chrono::milliseconds idle{5000};      // between requests on a keep-alive connection
  std::chrono::milliseconds silence{5000};   // longest wait for the next bytes of a request
  std::chrono::milliseconds headers{10000};  // the request line and headers, in all
  std::chrono::milliseconds write{10000};    // longest wait to send the next bytes
  double min_body_rate = 32 * 1024;          // bytes a second, averaged over the body
};

class GuardedServer : public httplib::Server {
 public:
  void set_connection_limits(const ConnectionLimits& limits) { limits_ = limits; }
  // httplib listens with a backlog of 5: when 32 labellers connect at once the kernel drops
  // the overflow and some requests fail. Linux lets a second listen() on the socket raise it.
  void widen_backlog();

  // For pre-routing handlers: the request now handled announces `bytes` of body, which must
  // arrive within the header deadline plus bytes / min_body_rate.
  static void expect_body(uint64_t bytes);
  // For handlers: close the connection after this response (its body was not read, so the
  // bytes that follow are not a request).
  static void close_connection();

 private:
  bool process_and_close_socket(socket_t sock) override;

  ConnectionLimits limits_;
};

}  // namespace sax::web
