// saxdetect serve: the labelling web app (pages, JSON API, model and analysis pages).
#include <csignal>
#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/command.h"
#include "store/store.h"
#include "web/server.h"

namespace sax::cli {

namespace {

// Blocks SIGINT/SIGTERM in this thread before the server starts its threads (they inherit the
// mask), then waits for one: Ctrl-C stops the server cleanly, finishing requests in flight.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void serve(const GlobalOptions& global, const web::WebOptions& options) {
  const Home home = global.resolve_home();
  home.create();
  auto store = open_store(home, global.db);
  std::signal(SIGPIPE, SIG_IGN);  // a client hanging up must not kill the server
  const sigset_t stop_signals = block_stop_signals();
  web::WebServer server(*store, home, options);
  server.start();
  fmt::print("saxdetect serve: labelling app at {} (data home {}, {} store)\n", server.url(),
             home.root.string(), store->backend());
  if (options.host == "127.0.0.1" || options.host == "localhost")
    fmt::print("Only this machine can connect; use --host 0.0.0.0 to share it. Ctrl-C stops.\n");
  std::fflush(stdout);
  int received = 0;
  sigwait(&stop_signals, &received);
  spdlog::info("stopping the web app");
  server.stop();
}

const Command kServe(40, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("serve", "Run the labelling web app");
  static web::WebOptions options;
  options.order_labelling = true;
  command->add_option("--host", options.host, "Address to listen on")->capture_default_str();
  command->add_option("--port", options.port, "Port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  command->add_option("--votes", options.votes, "Votes wanted per sample")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--admin-token", options.admin_token,
                   "Bearer token enabling admin actions (export, delete votes)")
      ->envname("SAXDETECT_ADMIN_TOKEN");
  command->add_option("--allowed-host", options.allowed_hosts,
                      "Host header names accepted besides the bound address (repeatable), e.g. "
                      "the machine's name when serving on 0.0.0.0");
  command->callback([&global] { serve(global, options); });
});

}  // namespace

}  // namespace sax::cli
