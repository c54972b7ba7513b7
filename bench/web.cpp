// The labelling web app under load: requests per second and p50/p99 latency with 32
// keep-alive HTTP clients on loopback against `WebServer` on SQLite, for GET /api/next and
// POST /api/labels, then a check that every acknowledged vote is in the store (zero lost).
// Targets (issue 4): at least 1,000 labels/s with p99 under 50 ms on 2 cores.
//
//   bench_web [seconds per phase, default 5] [clients, default 32]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include <httplib.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/store.h"
#include "web/server.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int kSources = 100;
constexpr int kSamplesPerSource = 40;
constexpr int kSamples = kSources * kSamplesPerSource;

std::vector<int64_t> fill(sax::Store& store) {
  std::vector<int64_t> ids;
  for (int s = 0; s < kSources; ++s) {
    sax::Source source;
    source.path = "/bench/" + std::to_string(s);
    source.hash = "bench-web-" + std::to_string(s);
    const int64_t id = store.claim_source(source, "bench").source_id;
    for (int i = 0; i < kSamplesPerSource; ++i) {
      sax::Sample sample;
      sample.source_id = id;
      sample.start = i * 5.0;
      sample.duration = 5;
      sample.path = "samples/x.flac";
      sample.web_path = "samples/x.mp3";
      ids.push_back(store.add_sample(sample));
    }
    store.finish_source(id, kSamplesPerSource * 5.0);
  }
  return ids;
}

struct Phase {
  std::string name;
  size_t requests = 0, failures = 0;
  double seconds = 0, p50_ms = 0, p99_ms = 0;
};

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

// Runs `request(client, thread, i)` in a loop on `clients` threads for `seconds`; each request
// returns whether it succeeded. Latencies of all threads are pooled for the percentiles.
template <class Request>
Phase run_phase(const std::string& name, int port, int clients, double seconds, Request request) {
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<size_t> failures{0};
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);  // as browsers do
      for (size_t i = 0; Clock::now() < deadline; ++i) {
        const auto before = Clock::now();
        if (!request(client, t, i)) ++failures;
        latencies[t].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - before).count());
      }
    });
  for (auto& thread : threads) thread.join();
  Phase phase{name};
  phase.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  phase.requests = all.size();
  phase.failures = failures;
  phase.p50_ms = percentile(all, 0.50);
  phase.p99_ms = percentile(all, 0.99);
  return phase;
}

void print(const Phase& p) {
  fmt::print(
      "{:<22} {:>8} requests {:>9.0f} req/s   p50 {:>6.2f} ms   p99 {:>6.2f} ms   {} failed\n",
      p.name, p.requests, p.requests / p.seconds, p.p50_ms, p.p99_ms, p.failures);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 32;
  const fs::path dir =
      fs::temp_directory_path() / ("saxdetect-bench-web-" + std::to_string(getpid()));
  const sax::Home home{dir};
  home.create();
  int status = 0;
  {
    auto store = sax::open_store(home);
    const std::vector<int64_t> ids = fill(*store);
    sax::web::WebOptions options;
    options.port = 0;
    sax::web::WebServer server(*store, home, options);
    const int port = server.start();
    fmt::print("bench_web: {} clients, {} samples, {:.0f} s per phase, SQLite, {} cores\n", clients,
               kSamples, seconds, std::thread::hardware_concurrency());

    print(run_phase("GET /api/next", port, clients, seconds, [](httplib::Client& c, int t, size_t) {
      auto r = c.Get("/api/next?annotator=reader" + std::to_string(t));
      return r && r->status == 200;
    }));

    // Client t votes on the samples in order from its own offset, so every vote is a new
    // (sample, annotator) pair until it has covered all samples; then votes replace.
    std::vector<size_t> posted(clients, 0);
    const Phase labels = run_phase(
        "POST /api/labels", port, clients, seconds, [&](httplib::Client& c, int t, size_t i) {
          const int64_t id = ids[(t * 97 + i) % ids.size()];
          const nlohmann::json body = {{"sample_id", id},
                                       {"annotator", "writer" + std::to_string(t)},
                                       {"label", i % 3 ? "sax" : "not_sax"}};
          auto r = c.Post("/api/labels", body.dump(), "application/json");
          const bool ok = r && r->status == 201;
          posted[t] += ok;
          return ok;
        });
    print(labels);

    size_t expected = 0;
    for (const size_t n : posted) expected += std::min<size_t>(n, ids.size());
    size_t stored = 0;
    for (const auto& vote : store->votes()) stored += vote.annotator.rfind("writer", 0) == 0;
    fmt::print("votes acknowledged (distinct pairs) {}, in the store {}: {}\n", expected, stored,
               expected == stored ? "zero lost" : "MISMATCH");
    const double rate = labels.requests / labels.seconds;
    fmt::print("target: >= 1000 labels/s with p99 < 50 ms: {}\n",
               rate >= 1000 && labels.p99_ms < 50 ? "met" : "NOT met");
    status = expected == stored && labels.failures == 0 ? 0 : 1;
    server.stop();
  }
  fs::remove_all(dir);
  return status;
}
