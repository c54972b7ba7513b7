// The Library API at scale: 100,000 synthetic scan results in a SQLite store, then GET
// /api/library over loopback (one keep-alive client, as one person paging): p50/p99 for a
// filtered sorted page, a search, a deep page by name, and a first page with every song.
// Target: a filtered, sorted page of 50 under 50 ms p99 on SQLite.
//
//   bench_library [requests per query, default 400] [songs, default 100000]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include <httplib.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/sql_store.h"
#include "web/server.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const std::string kModel = "bench-model";

// One transaction of plain INSERTs: the store API would commit row by row.
void fill(const sax::Home& home, int songs) {
  auto db = sax::open_database(home, "");
  std::mt19937 random(7);
  std::uniform_real_distribution<double> unit(0, 1);
  db->write([&](sax::sql::Connection& conn) {
    for (int i = 1; i <= songs; ++i) {
      const std::string artist = fmt::format("Artist {}", i % 997);
      const std::string title = fmt::format("Song number {}", i);
      const std::string path = fmt::format("/music/{}/{:06}-{}.mp3", artist, i, title);
      conn.execute(
          "INSERT INTO sources (id, path, hash, duration, state, created, artist, title) VALUES "
          "($1, $2, $3, $4, 'done', '2026-12-07T00:00:00Z', $5, $6)",
          {int64_t{i}, path, fmt::format("hash-{}", i), 200.0, artist, title});
      const bool sax = i % 3 == 0;
      const double duration = 120 + 280 * unit(random);
      const double share = sax ? 0.03 + 0.9 * unit(random) : 0.02 * unit(random);
      const double start = unit(random) * duration * (1 - share);
      std::string lower = fmt::format("{:06}-song number {}.mp3", i, i);
      conn.execute(
          "INSERT INTO scans (source_id, model, status, file_hash, file_stamp, sax, probability, "
          "share, duration, segments, curve, curve_step, sort_name, search, scanned) VALUES ($1, "
          "$2, 'done', $3, 'stamp', $4, $5, $6, $7, $8, 'gICAgA==', 0.09, $9, $10, "
          "'2026-12-07T00:00:00Z')",
          {int64_t{i}, kModel, fmt::format("hash-{}", i), int64_t{sax ? 1 : 0},
           sax ? 0.5 + 0.5 * unit(random) : 0.5 * unit(random), share, duration,
           sax ? fmt::format("[[{:.2f},{:.2f},0.9]]", start, start + share * duration) : "[]",
           lower, lower + "\n" + fmt::format("song number {}\nartist {}\n", i, i % 997)});
    }
  });
}

double percentile(std::vector<double> values, double p) {
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

// Requests `url_of(i)` `count` times; prints p50/p99 and the total the server reported.
bool measure(const std::string& name, httplib::Client& client, int count,
             const std::function<std::string(int)>& url_of, double target_ms = 0) {
  std::vector<double> ms;
  int64_t total = -1;
  for (int i = 0; i < count; ++i) {
    const auto before = Clock::now();
    auto r = client.Get(url_of(i));
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - before).count());
    if (!r || r->status != 200) {
      fmt::print("{}: request failed ({})\n", name, r ? r->status : 0);
      return false;
    }
    if (i == 0) total = nlohmann::json::parse(r->body).at("total").get<int64_t>();
  }
  const double p99 = percentile(ms, 0.99);
  fmt::print(
      "{:<44} p50 {:>6.2f} ms   p99 {:>6.2f} ms   ({} matches){}\n", name, percentile(ms, 0.5), p99,
      total,
      target_ms > 0 ? (p99 < target_ms ? "   target < 50 ms: met" : "   target: NOT met") : "");
  return target_ms == 0 || p99 < target_ms;
}

}  // namespace

int main(int argc, char** argv) {
  const int requests = argc > 1 ? std::atoi(argv[1]) : 400;
  const int songs = argc > 2 ? std::atoi(argv[2]) : 100000;
  const fs::path dir =
      fs::temp_directory_path() / ("saxdetect-bench-library-" + std::to_string(getpid()));
  const sax::Home home{dir};
  home.create();
  bool met = true;
  {
    const auto filling = Clock::now();
    fill(home, songs);
    fmt::print(
        "bench_library: {} songs in SQLite (filled in {:.1f} s), {} requests per query, "
        "{} cores\n",
        songs, std::chrono::duration<double>(Clock::now() - filling).count(), requests,
        std::thread::hardware_concurrency());
    auto store = sax::open_store(home);
    {  // the store alone, without HTTP and JSON
      sax::LibraryQuery query;
      query.model = kModel;
      query.verdict = sax::LibraryQuery::Verdict::sax;
      query.min_share = 0.1;
      query.sort = sax::LibraryQuery::Sort::share;
      query.descending = true;
      query.limit = 50;
      std::vector<double> ms;
      for (int i = 0; i < requests; ++i) {
        query.offset = 50 * (i % 40);
        const auto before = Clock::now();
        store->library(query);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - before).count());
      }
      fmt::print("{:<44} p50 {:>6.2f} ms   p99 {:>6.2f} ms\n",
                 "the same page from the store, no HTTP", percentile(ms, 0.5),
                 percentile(ms, 0.99));
    }
    sax::web::WebOptions options;
    options.port = 0;
    options.scan_model_id = [](const sax::Home&) { return kModel; };
    sax::web::WebServer server(*store, home, options);
    const int port = server.start();
    httplib::Client client("127.0.0.1", port);
    client.set_keep_alive(true);
    std::mt19937 random(11);
    auto page = [&](int pages) { return std::to_string(50 * (random() % pages)); };
    met = measure(
        "sax, share >= 10 %, by share desc, page 1-40", client, requests,
        [&](int) {
          return "/api/library?verdict=sax&min_share=0.1&sort=share&order=desc&limit=50&offset=" +
                 page(40);
        },
        50);
    measure("no sax, by probability desc, page 1-40", client, requests, [&](int) {
      return "/api/library?verdict=no_sax&sort=probability&order=desc&limit=50&offset=" + page(40);
    });
    measure("search 'artist 12', by share desc", client, requests,
            [&](int) { return "/api/library?q=artist%2012&sort=share&order=desc&limit=50"; });
    measure("all songs by name, any page", client, requests,
            [&](int) { return "/api/library?sort=name&limit=50&offset=" + page(songs / 50); });
    server.stop();
  }
  fs::remove_all(dir);
  return met ? 0 : 1;
}
