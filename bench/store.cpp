// Votes per second and latency percentiles with 32 concurrent clients, SQLite vs PostgreSQL in
// the same run (PostgreSQL when $SAXDETECT_TEST_PG names a server; bench/store.sh starts one).
// Two loads per back end: "label", each client doing what the labelling page does per clip
// (ask for the next sample, vote on it), and "vote", each client only voting (add_vote alone,
// on samples spread over the library: the vote path by itself).
//
//   bench_store [seconds per load, default 5] [clients, default 32]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
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

enum class Load { label, vote };

sax::Label label_of(int client) { return client % 3 ? sax::Label::sax : sax::Label::not_sax; }

// One labelling-page client: next sample, vote on it, until the time is up or nothing is left.
void label_client(sax::Store& store, int c, double seconds, Clock::time_point start,
                  std::vector<double>& vote_latency, std::vector<double>& next_latency) {
  sax::NextQuery query;
  query.annotator = "label" + std::to_string(c);
  query.votes_wanted = 3;
  while (since(start) < seconds) {
    auto asked = Clock::now();
    auto next = store.next_sample(query);
    next_latency.push_back(since(asked));
    if (!next) break;
    auto voting = Clock::now();
    store.add_vote(next->id, query.annotator, label_of(c));
    vote_latency.push_back(since(voting));
  }
}

// A client that only votes, on consecutive samples from its own share of the library (as
// people labelling different songs do); a second pass replaces its votes.
void vote_client(sax::Store& store, int c, int clients, const std::vector<int64_t>& ids,
                 double seconds, Clock::time_point start, std::vector<double>& vote_latency) {
  const std::string annotator = "vote" + std::to_string(c);
  for (size_t i = ids.size() * c / clients; since(start) < seconds; ++i) {
    auto voting = Clock::now();
    store.add_vote(ids[i % ids.size()], annotator, label_of(c));
    vote_latency.push_back(since(voting));
  }
}

Result run_clients(sax::Store& store, Load load, double seconds, int clients) {
  std::vector<std::vector<double>> vote_latency(clients), next_latency(clients);
  std::vector<int64_t> ids;
  for (const sax::Sample& sample : store.samples()) ids.push_back(sample.id);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      if (load == Load::label)
        label_client(store, c, seconds, start, vote_latency[c], next_latency[c]);
      else
        vote_client(store, c, clients, ids, seconds, start, vote_latency[c]);
    });
  for (auto& thread : threads) thread.join();
  const double elapsed = since(start);
  size_t votes = 0;
  for (const auto& latencies : vote_latency) votes += latencies.size();
  std::vector<double> all_votes, all_next;
  for (int c = 0; c < clients; ++c) {
    all_votes.insert(all_votes.end(), vote_latency[c].begin(), vote_latency[c].end());
    all_next.insert(all_next.end(), next_latency[c].begin(), next_latency[c].end());
  }
  Result result;
  result.votes_per_second = static_cast<double>(votes) / elapsed;
  result.vote_p50_ms = percentile_ms(all_votes, 0.50);
  result.vote_p99_ms = percentile_ms(all_votes, 0.99);
  result.next_p99_ms = percentile_ms(all_next, 0.99);
  return result;
}

std::string fresh_pg_database(const std::string& base, int round) {
  const std::string name = "saxbench_" + std::to_string(getpid()) + "_" + std::to_string(round);
  pqxx::connection admin(base);
  pqxx::nontransaction tx(admin);
  tx.exec("DROP DATABASE IF EXISTS " + name);
  tx.exec("CREATE DATABASE " + name);
  return base.substr(0, base.rfind('/') + 1) + name;
}

void print(const std::string& backend, const std::string& load, const Result& r) {
  fmt::print("{:<11} {:<6} {:>7.0f} votes/s   vote p50 {:6.2f} ms  p99 {:6.2f} ms", backend, load,
             r.votes_per_second, r.vote_p50_ms, r.vote_p99_ms);
  if (r.next_p99_ms > 0) fmt::print("   next p99 {:6.2f} ms", r.next_p99_ms);
  fmt::print("\n");
}

// Both loads on one store, a fresh library each (the vote load would otherwise start from the
// votes the label load left).
std::pair<Result, Result> bench_backend(const std::string& backend,
                                        const std::function<std::unique_ptr<sax::Store>()>& open,
                                        double seconds, int clients) {
  std::pair<Result, Result> results;
  for (Load load : {Load::label, Load::vote}) {
    auto store = open();
    fill(*store);
    Result& result = load == Load::label ? results.first : results.second;
    result = run_clients(*store, load, seconds, clients);
    print(backend, load == Load::label ? "label" : "vote", result);
  }
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 32;
  fmt::print(
      "{} clients, {} s per load, {} sources x {} samples; label: next_sample + add_vote, "
      "vote: add_vote alone\n",
      clients, seconds, kSources, kSamplesPerSource);

  const fs::path dir = fs::temp_directory_path() / ("saxbench-" + std::to_string(getpid()));
  int round = 0;
  const auto sqlite = bench_backend(
      "sqlite",
      [&] {
        const fs::path file = dir / ("bench" + std::to_string(round++) + ".db");
        fs::create_directories(dir);
        return sax::open_store(sax::Home{dir}, "sqlite:" + file.string());
      },
      seconds, clients);
  fs::remove_all(dir);

  const char* pg_base = std::getenv("SAXDETECT_TEST_PG");
  if (!pg_base || !*pg_base) {
    fmt::print("postgresql  skipped: set SAXDETECT_TEST_PG (bench/store.sh starts a server)\n");
    return 0;
  }
  const auto pg = bench_backend(
      "postgresql",
      [&] { return sax::open_store(sax::Home{dir}, fresh_pg_database(pg_base, round++)); }, seconds,
      clients);
  fmt::print("ratio postgresql/sqlite: {:.2f}x votes/s labelling, {:.2f}x voting alone\n",
             pg.first.votes_per_second / sqlite.first.votes_per_second,
             pg.second.votes_per_second / sqlite.second.votes_per_second);
  return 0;
}
