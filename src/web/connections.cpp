#include "web/connections.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

namespace sax::web {

namespace {

using Clock = std::chrono::steady_clock;

// How often a wait looks whether the server is stopping.
constexpr std::chrono::milliseconds kStopCheck{100};

void address_of(int sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  const int err = peer ? getpeername(sock, reinterpret_cast<sockaddr*>(&address), &length)
                       : getsockname(sock, reinterpret_cast<sockaddr*>(&address), &length);
  if (err != 0) return;
  std::array<char, NI_MAXHOST> host{};
  std::array<char, NI_MAXSERV> service{};
  if (getnameinfo(reinterpret_cast<sockaddr*>(&address), length, host.data(), host.size(),
                  service.data(), service.size(), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host.data();
    port = std::atoi(service.data());
  }
}

// One connection's socket as an httplib::Stream whose reads end at the request's deadline.
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int sock, const ConnectionLimits& limits, const std::atomic<socket_t>& listening)
      : sock_(sock), limits_(limits), listening_(listening) {}

  // Waits up to the idle limit for the next request; false when none comes, the client
  // hung up, or the server stops.
  bool wait_for_request() {
    if (buffered() > 0) return true;
    return wait(POLLIN, Clock::now() + limits_.idle);
  }
  void begin_request() { deadline_ = Clock::now() + limits_.headers; }
  void expect_body(uint64_t bytes) {
    const auto transfer = std::chrono::duration<double>(bytes / limits_.min_body_rate);
    deadline_ =
        Clock::now() + limits_.headers + std::chrono::duration_cast<Clock::duration>(transfer);
  }

  bool is_readable() const override { return buffered() > 0 || wait(POLLIN, read_deadline()); }
  bool is_writable() const override { return wait(POLLOUT, Clock::now() + limits_.write); }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      if (!wait(POLLIN, read_deadline())) return -1;
      const ssize_t n = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, buffered());
    std::memcpy(ptr, buffer_.data() + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return ::send(sock_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(sock_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(sock_, false, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  size_t buffered() const { return end_ - begin_; }
  Clock::time_point read_deadline() const {
    return std::min(deadline_, Clock::now() + limits_.silence);
  }

  // Polls in short slices so that stop() is noticed; false at the deadline, or on stop when
  // reading (a response under way is still sent).
  bool wait(short events, Clock::time_point deadline) const {
    for (;;) {
      if (events == POLLIN && listening_ == INVALID_SOCKET) return false;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd fd{sock_, events, 0};
      const int ready = ::poll(&fd, 1, static_cast<int>(std::min(left, kStopCheck).count()));
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) return false;
    }
  }

  int sock_;
  const ConnectionLimits& limits_;
  const std::atomic<socket_t>& listening_;
  Clock::time_point deadline_ = Clock::time_point::max();
  // httplib reads request lines a byte at a time: without a buffer each byte is a system call.
  std::array<char, 4096> buffer_{};
  size_t begin_ = 0, end_ = 0;
};

// After a refused body, reads and drops what the client still sends, for a moment, before
// closing: a close with unread data makes the kernel reset the connection, which can destroy
// the refusal before the client has read it.
void linger(int sock) {
  constexpr size_t kMaxBytes = 1 << 20;
  const auto until = Clock::now() + std::chrono::seconds(1);
  ::shutdown(sock, SHUT_WR);
  std::array<char, 16384> scratch{};
  for (size_t drained = 0; drained < kMaxBytes && Clock::now() < until;) {
    pollfd fd{sock, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(kStopCheck.count())) <= 0) continue;
    const ssize_t n = ::recv(sock, scratch.data(), scratch.size(), 0);
    if (n <= 0) return;  // the client has read the answer and closed
    drained += static_cast<size_t>(n);
  }
}

// The connection this thread is serving, for expect_body() and close_connection().
struct Current {
  ConnectionStream* stream = nullptr;
  bool close = false;
};
thread_local Current current;

}  // namespace

void GuardedServer::widen_backlog() { ::listen(svr_sock_, SOMAXCONN); }

void GuardedServer::expect_body(uint64_t bytes) {
  if (current.stream) current.stream->expect_body(bytes);
}

void GuardedServer::close_connection() { current.close = true; }

bool GuardedServer::process_and_close_socket(socket_t sock) {
  ConnectionStream stream(sock, limits_, svr_sock_);
  bool ok = false;
  for (size_t left = keep_alive_max_count_; left > 0 && stream.wait_for_request(); --left) {
    stream.begin_request();
    current = Current{&stream, false};
    bool closed = false;
    ok = process_request(stream, left == 1, closed, nullptr);
    const bool close = current.close;
    current = Current{};
    if (close) linger(sock);
    if (!ok || closed || close) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace sax::web
