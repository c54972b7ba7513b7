#include "scan/scan.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/hash.h"
#include "infer/detector.h"

namespace sax {

namespace fs = std::filesystem;

namespace {

// Claims are renewed this often while a long file is scored, well inside the lease.
constexpr double kRenewSeconds = 20;

// Size and modification time: when both match the last scan, the file is taken as unchanged.
std::optional<std::string> file_stamp(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  const auto size = fs::file_size(file, ec);
  if (ec) return std::nullopt;
  const auto modified = fs::last_write_time(file, ec);
  if (ec) return std::nullopt;
  return fmt::format("{}:{}", size, modified.time_since_epoch().count());
}

// The curve a plot would draw: a frame model's timeline averaged back to whole steps, else one
// value per window.
std::pair<std::vector<float>, double> curve_of(const detect::Analysis& analysis) {
  std::vector<float> curve;
  if (!analysis.timeline.empty()) {
    const size_t group = detect::kSlotsPerStep;
    for (size_t i = 0; i < analysis.timeline.size(); i += group) {
      const size_t end = std::min(i + group, analysis.timeline.size());
      float sum = 0;
      for (size_t j = i; j < end; ++j) sum += analysis.timeline[j];
      curve.push_back(sum / static_cast<float>(end - i));
    }
    return {curve, analysis.timeline_slot * group};
  }
  for (const auto& window : analysis.windows) curve.push_back(window.probability);
  const double step = analysis.windows.size() > 1
                          ? analysis.windows[1].start - analysis.windows[0].start
                          : analysis.duration;
  return {curve, step};
}

double rounded(double value, double unit) { return std::round(value / unit) * unit; }

class Scan {
 public:
  Scan(Store& store, const std::vector<Source>& sources, const std::string& model_id,
       const ScanOptions& options, const ScanErrorSink& on_error)
      : store_(store),
        sources_(sources),
        model_(model_id),
        options_(options),
        on_error_(on_error),
        worker_(options.worker.empty() ? default_worker_id() : options.worker),
        states_(store.scan_states(model_id)),
        progress_("scan", sources.size(), options.progress) {}

  ScanSummary go(const std::function<std::unique_ptr<Scorer>()>& make_scorer) {
    summary_.sources = sources_.size();
    const int threads = std::max(1, std::min<int>(options_.jobs, sources_.size()));
    std::vector<std::unique_ptr<Scorer>> scorers;
    for (int i = 0; i < threads; ++i) scorers.push_back(make_scorer());
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&, i] { work(*scorers[i]); });
    work(*scorers[0]);
    for (auto& thread : pool) thread.join();
    progress_.finish();
    summary_.elapsed_seconds = progress_.elapsed_seconds();
    return summary_;
  }

  void report_error(const std::string& line) {
    std::lock_guard lock(mutex_);
    ++summary_.failed;
    summary_.errors.push_back(line);
    if (on_error_) on_error_(line);
  }

 private:
  void work(Scorer& scorer) {
    for (size_t i = next_++; i < sources_.size(); i = next_++) {
      double seconds = 0;
      try {
        seconds = one(sources_[i], scorer);
      } catch (const std::exception& e) {
        report_error(sources_[i].path + ": " + e.what());
      }
      progress_.advance(1, seconds);
    }
  }

  // Returns the seconds of audio scored (0 when skipped).
  double one(const Source& source, Scorer& scorer) {
    const auto stamp = file_stamp(source.path);
    if (!stamp) {
      store_.mark_scan_missing(source.id, model_);
      count(&ScanSummary::missing);
      return 0;
    }
    if (up_to_date(source.id, *stamp)) {
      count(&ScanSummary::skipped);
      return 0;
    }
    auto claim = store_.claim_scan(source.id, model_, *stamp, worker_, options_.lease_seconds,
                                   options_.retry_errors);
    if (claim.claim == ScanClaim::busy && worker_is_dead(claim.holder))
      claim = store_.claim_scan(source.id, model_, *stamp, worker_, options_.lease_seconds,
                                options_.retry_errors, claim.holder);
    if (claim.claim != ScanClaim::claimed) {
      count(claim.claim == ScanClaim::busy ? &ScanSummary::busy : &ScanSummary::skipped);
      return 0;
    }
    return score(source, *stamp, scorer);
  }

  bool up_to_date(int64_t source_id, const std::string& stamp) const {
    const auto found = states_.find(source_id);
    if (found == states_.end() || found->second.second != stamp) return false;
    const std::string& status = found->second.first;
    return status == "done" || (status == "error" && !options_.retry_errors);
  }

  double score(const Source& source, const std::string& stamp, Scorer& scorer) {
    ScanResult result;
    try {
      const std::string hash = sha256_file(source.path);
      result = scan_result_from(analyse(source, scorer), source.id, model_);
      result.file_hash = hash;
    } catch (const std::exception& e) {
      result.source_id = source.id;
      result.model = model_;
      result.status = "error";
      result.error = e.what();
      report_error(source.path + ": " + e.what());
    }
    result.file_stamp = stamp;
    store_.put_scan(result, worker_);
    if (result.status == "done") {
      std::lock_guard lock(mutex_);
      ++summary_.scanned;
      summary_.with_sax += result.sax;
      summary_.audio_seconds += result.duration;
    }
    return result.duration;
  }

  detect::Analysis analyse(const Source& source, Scorer& scorer) {
    detect::Options analysis = options_.analysis;
    auto renewed = std::chrono::steady_clock::now();
    analysis.on_progress = [&](double) {
      const auto now = std::chrono::steady_clock::now();
      if (std::chrono::duration<double>(now - renewed).count() < kRenewSeconds) return;
      store_.renew_scan_claim(source.id, model_, worker_);
      renewed = now;
    };
    return detect::analyse_file(source.path, scorer, analysis);
  }

  void count(size_t ScanSummary::*field) {
    std::lock_guard lock(mutex_);
    ++(summary_.*field);
  }

  Store& store_;
  const std::vector<Source>& sources_;
  const std::string model_;
  const ScanOptions& options_;
  const ScanErrorSink& on_error_;
  const std::string worker_;
  const std::map<int64_t, std::pair<std::string, std::string>> states_;
  Progress progress_;
  std::atomic<size_t> next_{0};
  std::mutex mutex_;
  ScanSummary summary_;
};

// The sources of the files under `paths` (ingested just before): by path, else by content
// (the same song ingested earlier from elsewhere).
std::vector<Source> sources_of(Store& store, const std::vector<fs::path>& paths) {
  std::vector<std::string> ignored;  // ingest already reported them
  std::map<std::string, Source> by_path;
  for (Source& source : store.sources()) by_path[source.path] = std::move(source);
  std::vector<Source> out;
  std::set<int64_t> seen;
  for (const auto& file : find_audio_files(paths, ignored)) {
    const std::string path = fs::absolute(file).lexically_normal().string();
    std::optional<Source> source;
    if (auto found = by_path.find(path); found != by_path.end()) source = found->second;
    std::error_code ec;
    if (!source && fs::is_regular_file(file, ec)) source = store.source_by_hash(sha256_file(file));
    if (source && source->state == "done" && seen.insert(source->id).second) out.push_back(*source);
  }
  return out;
}

}  // namespace

ScanSummary scan_sources(Store& store, const std::vector<Source>& sources,
                         const std::function<std::unique_ptr<Scorer>()>& make_scorer,
                         const std::string& model_id, const ScanOptions& options,
                         const ScanErrorSink& on_error) {
  if (options.jobs < 1) throw Error("--jobs must be at least 1");
  if (!(options.lease_seconds > 0)) throw Error("the scan lease must be positive");
  detect::validate(options.analysis);
  return Scan(store, sources, model_id, options, on_error).go(make_scorer);
}

ScanSummary scan_library(Store& store, const Home& home, const ScanOptions& options,
                         const ScanErrorSink& on_error) {
  const std::string model_id = scan_model_id(home, options.model_dir);
  auto first = open_scan_detector(home, options.model_dir);  // no model: says how to get one
  std::vector<Source> sources;
  std::vector<std::string> ingest_errors;
  if (options.paths.empty()) {
    for (Source& source : store.sources())
      if (source.state == "done") sources.push_back(std::move(source));
  } else {
    IngestOptions ingest_options = options.ingest;
    ingest_options.progress = options.progress;
    if (const auto format = store.sample_format()) {  // new files are cut as the store's are
      ingest_options.rate = format->sample_rate;
      ingest_options.length = ingest_options.hop = format->seconds;
    }
    ingest_errors = ingest(options.paths, store, home, ingest_options, on_error).errors;
    sources = sources_of(store, options.paths);
  }
  auto make_scorer = [&]() -> std::unique_ptr<Scorer> {
    if (first) return std::move(first);
    return open_scan_detector(home, options.model_dir);
  };
  ScanSummary summary = scan_sources(store, sources, make_scorer, model_id, options, on_error);
  summary.failed += ingest_errors.size();
  summary.errors.insert(summary.errors.begin(), ingest_errors.begin(), ingest_errors.end());
  return summary;
}

ScanResult scan_result_from(const detect::Analysis& analysis, int64_t source_id,
                            const std::string& model_id) {
  ScanResult result;
  result.source_id = source_id;
  result.model = model_id;
  result.status = "done";
  result.sax = analysis.sax;
  result.probability = analysis.probability;
  result.share = analysis.sax_share;
  result.duration = analysis.duration;
  nlohmann::json segments = nlohmann::json::array();
  for (const auto& s : analysis.segments)
    segments.push_back(
        {rounded(s.start, 0.001), rounded(s.end, 0.001), rounded(s.probability, 0.0001)});
  result.segments = segments.dump();
  const auto [curve, step] = curve_of(analysis);
  std::vector<unsigned char> bytes;
  bytes.reserve(curve.size());
  for (float p : curve)
    bytes.push_back(static_cast<unsigned char>(std::lround(std::clamp(p, 0.0f, 1.0f) * 255)));
  result.curve = base64_encode(bytes);
  result.curve_step = step;
  return result;
}

std::vector<float> decode_curve(const std::string& base64) {
  std::vector<float> curve;
  for (unsigned char byte : base64_decode(base64)) curve.push_back(byte / 255.0f);
  return curve;
}

bool worker_is_dead(const std::string& worker) {
  const auto colon = worker.rfind(':');
  if (colon == std::string::npos) return false;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  if (worker.substr(0, colon) != host) return false;  // another machine: only its lease says
  long pid = 0;
  try {
    pid = std::stol(worker.substr(colon + 1));
  } catch (const std::exception&) {
    return false;
  }
  if (pid <= 0 || pid == getpid()) return false;
  return kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH;
}

}  // namespace sax
