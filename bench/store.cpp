// Votes per second and latency percentiles with 32 concurrent clients, SQLite vs PostgreSQL in
// the same run (PostgreSQL when $SAXDETECT_TEST_PG names a server; bench/store.sh starts one).
// Each client does what the labelling page does per clip: ask for the next sample, vote on it.
//
//   bench_store [seconds per backend, default 5] [clients, default 32]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int kSources = 200;
constexpr int kSamplesPerSource = 50;

struct Result {
  double votes_per_second = 0;
  double vote_p50_ms = 0, vote_p99_ms = 0, next_p99_ms = 0;
};

void fill(sax::Store& store) {
  for (int s = 0; s < kSources; ++s) {
    sax::Source source;
    source.path = "/bench/" + std::to_string(s);
    source.hash = "bench-" + std::to_string(s);
    const int64_t id = store.claim_source(source, "bench").source_id;
    for (int i = 0; i < kSamplesPerSource; ++i) {
      sax::Sample sample;
      sample.source_id = id;
      sample.start = i * 5.0;
      sample.duration = 5;
      sample.path = "samples/x.flac";
      store.add_sample(sample);
    }
    store.finish_source(id, kSamplesPerSource * 5.0);
  }
}

double percentile_ms(std::vector<double>& seconds, double p) {
  if (seconds.empty()) return 0;
  const size_t at = std::min(seconds.size() - 1, static_cast<size_t>(p * seconds.size()));
  std::nth_element(seconds.begin(), seconds.begin() + static_cast<long>(at), seconds.end());
  return seconds[at] * 1000;
}

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Result run_clients(sax::Store& store, double seconds, int clients) {
  std::vector<std::vector<double>> vote_latency(clients), next_latency(clients);
  std::atomic<int64_t> votes{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      sax::NextQuery query;
      query.annotator = "client" + std::to_string(c);
      query.votes_wanted = 3;
      while (since(start) < seconds) {
        auto asked = Clock::now();
        auto next = store.next_sample(query);
        next_latency[c].push_back(since(asked));
        if (!next) break;
        auto voting = Clock::now();
        store.add_vote(next->id, query.annotator, c % 3 ? sax::Label::sax : sax::Label::not_sax);
        vote_latency[c].push_back(since(voting));
        ++votes;
      }
    });
  for (auto& thread : threads) thread.join();
  const double elapsed = since(start);
  std::vector<double> all_votes, all_next;
  for (int c = 0; c < clients; ++c) {
    all_votes.insert(all_votes.end(), vote_latency[c].begin(), vote_latency[c].end());
    all_next.insert(all_next.end(), next_latency[c].begin(), next_latency[c].end());
  }
  Result result;
  result.votes_per_second = static_cast<double>(votes.load()) / elapsed;
  result.vote_p50_ms = percentile_ms(all_votes, 0.50);
  result.vote_p99_ms = percentile_ms(all_votes, 0.99);
  result.next_p99_ms = percentile_ms(all_next, 0.99);
  return result;
}

std::string fresh_pg_database(const std::string& base) {
  const std::string name = "saxbench_" + std::to_string(getpid());
  pqxx::connection admin(base);
  pqxx::nontransaction tx(admin);
  tx.exec("DROP DATABASE IF EXISTS " + name);
  tx.exec("CREATE DATABASE " + name);
  return base.substr(0, base.rfind('/') + 1) + name;
}

void print(const std::string& backend, const Result& r) {
  fmt::print(
      "{:<11} {:>9.0f} votes/s   vote p50 {:6.2f} ms  p99 {:6.2f} ms   next p99 {:6.2f} ms\n",
      backend, r.votes_per_second, r.vote_p50_ms, r.vote_p99_ms, r.next_p99_ms);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 32;
  fmt::print(
      "{} clients, {} s each, {} sources x {} samples; each client: next_sample + add_vote\n",
      clients, seconds, kSources, kSamplesPerSource);

  const fs::path dir = fs::temp_directory_path() / ("saxbench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto sqlite = sax::open_store(sax::Home{dir}, "sqlite:" + (dir / "bench.db").string());
  fill(*sqlite);
  const Result sqlite_result = run_clients(*sqlite, seconds, clients);
  print("sqlite", sqlite_result);
  sqlite.reset();
  fs::remove_all(dir);

  const char* pg_base = std::getenv("SAXDETECT_TEST_PG");
  if (!pg_base || !*pg_base) {
    fmt::print("postgresql  skipped: set SAXDETECT_TEST_PG (bench/store.sh starts a server)\n");
    return 0;
  }
  auto pg = sax::open_store(sax::Home{dir}, fresh_pg_database(pg_base));
  fill(*pg);
  const Result pg_result = run_clients(*pg, seconds, clients);
  print("postgresql", pg_result);
  fmt::print("ratio postgresql/sqlite: {:.2f}x votes/s\n",
             pg_result.votes_per_second / sqlite_result.votes_per_second);
  return 0;
}
