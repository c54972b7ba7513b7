// Streaming sliding-window analysis: decode in chunks, score each chunk with one
// score_sliding call, keep the window overlap between chunks, smooth into segments.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include <fmt/format.h>

#include "audio/audio.h"
#include "common/error.h"
#include "detect/detect.h"
#include "infer/detector.h"

namespace sax::detect {

namespace {

// Where samples come from: a Decoder for files, a plain buffer for analyse_samples. Both go
// through the same chunking so tests of the in-memory path cover the file path too.
using ReadFn = std::function<size_t(float* out, size_t count)>;

struct Geometry {
  int rate = 0;
  size_t window = 0;         // samples
  size_t hop = 0;            // samples
  size_t chunk_windows = 0;  // windows scored per score_sliding call
};

Geometry geometry_for(const Scorer& scorer, const Options& options) {
  Geometry g;
  g.rate = scorer.sample_rate();
  g.window = scorer.window_samples();
  g.hop = std::max<size_t>(1, static_cast<size_t>(std::llround(options.hop * g.rate)));
  const double chunk_samples = options.chunk_seconds * g.rate;
  g.chunk_windows = std::max<size_t>(1, static_cast<size_t>(chunk_samples / g.hop));
  return g;
}

// Reads until `out` holds `target` samples or the source ends; returns false at the end.
bool fill(std::vector<float>& buffer, size_t target, const ReadFn& read) {
  while (buffer.size() < target) {
    const size_t have = buffer.size();
    buffer.resize(target);
    const size_t got = read(buffer.data() + have, target - have);
    buffer.resize(have + got);
    if (got == 0) return false;
  }
  return true;
}

// Reads past `count` samples no window needs (hops longer than the window), handing them to
// `sink` so the overview picture keeps its timeline.
void discard(size_t count, const ReadFn& read,
             const std::function<void(const float*, size_t)>& sink) {
  std::vector<float> scratch(std::min<size_t>(count, 1 << 16));
  while (count > 0) {
    const size_t got = read(scratch.data(), std::min(count, scratch.size()));
    if (got == 0) return;
    sink(scratch.data(), got);
    count -= got;
  }
}

// The coarse log-mel picture of the whole file, built block by block as audio streams past.
// Blocks have one fixed length (the mel filter bank is cached per FeatureConfig) and the last
// one is zero-padded, keeping only the columns that hold audio.
class OverviewBuilder {
 public:
  explicit OverviewBuilder(int rate) {
    config_.sample_rate = rate;
    config_.seconds = kBlockSeconds;
    config_.n_mels = kMels;
    config_.n_fft = 1024;  // a picture needs less frequency detail than the model
    config_.frames = static_cast<int>(kBlockSeconds * kColsPerSecond);
    config_.normalise = "none";
  }

  void add(const float* audio, size_t count) {
    pending_.insert(pending_.end(), audio, audio + count);
    const size_t block = config_.window_samples();
    while (pending_.size() >= block) {
      convert(std::vector<float>(pending_.begin(), pending_.begin() + block), config_.frames);
      pending_.erase(pending_.begin(), pending_.begin() + block);
    }
  }

  Overview finish() {
    if (!pending_.empty()) {
      const double seconds = static_cast<double>(pending_.size()) / config_.sample_rate;
      convert(pending_, std::max(1, static_cast<int>(std::lround(seconds * kColsPerSecond))));
      pending_.clear();
    }
    Overview overview;
    overview.cols_per_second = kColsPerSecond;
    Spectrogram& s = overview.spectrogram;
    s.rows = kMels;
    s.cols = static_cast<int>(columns_.size() / kMels);
    s.values.resize(columns_.size());
    for (int c = 0; c < s.cols; ++c)  // columns_ is column-major; Spectrogram is row-major
      for (int r = 0; r < kMels; ++r)
        s.values[static_cast<size_t>(r) * s.cols + c] =
            columns_[static_cast<size_t>(c) * kMels + r];
    return overview;
  }

 private:
  // Enough columns to see phrases, few enough that 2 hours stay small (72,000 x 64 floats).
  static constexpr double kColsPerSecond = 10;
  static constexpr double kBlockSeconds = 10;
  static constexpr int kMels = 64;

  void convert(const std::vector<float>& block, int keep_cols) {
    const Spectrogram part = log_mel(block.data(), block.size(), config_);
    for (int c = 0; c < std::min(keep_cols, part.cols); ++c)
      for (int r = 0; r < part.rows; ++r)
        columns_.push_back(part.values[static_cast<size_t>(r) * part.cols + c]);
  }

  FeatureConfig config_;
  std::vector<float> pending_;
  std::vector<float> columns_;
};

struct Scored {
  std::vector<float> probabilities;
  std::vector<float> steps;  // frame models: every window's step probabilities, window-major
  size_t samples = 0;        // total decoded
  Overview overview;
};

// A NaN probability has no place on a threshold; it means a broken model or input, and is
// reported with the time of its window rather than smoothed into a verdict. `values` holds
// `windows` windows' worth (several steps each for a frame model), the first being window
// `first` of the file.
void check_finite(const Scorer& scorer, const std::vector<float>& values, size_t first,
                  const Geometry& g, size_t windows = 0) {
  const size_t per_window = windows ? std::max<size_t>(1, values.size() / windows) : 1;
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw Error(fmt::format(
          "scorer {} gave a probability that is not a number for the window "
          "at {:.1f} s (a broken model or audio)",
          scorer.name(), static_cast<double>((first + i / per_window) * g.hop) / g.rate));
}

// Scores one chunk and checks the scorer kept its contract (a wrong count would shift every
// later window in time).
void score_chunk(Scorer& scorer, const std::vector<float>& buffer, const Geometry& g, Scored& out) {
  const size_t expected = (buffer.size() - g.window) / g.hop + 1;
  std::vector<float> steps;
  std::vector<float> p = scorer.score_sliding_steps(buffer.data(), buffer.size(), g.hop, steps);
  if (p.size() != expected || (!steps.empty() && steps.size() % expected != 0))
    throw Error(fmt::format("scorer {} returned {} windows ({} steps) for a chunk holding {}",
                            scorer.name(), p.size(), steps.size(), expected));
  check_finite(scorer, p, out.probabilities.size(), g);
  check_finite(scorer, steps, out.probabilities.size(), g, expected);
  out.probabilities.insert(out.probabilities.end(), p.begin(), p.end());
  out.steps.insert(out.steps.end(), steps.begin(), steps.end());
}

Scored score_stream(const ReadFn& source, Scorer& scorer, const Geometry& g,
                    const Options& options) {
  Scored s;
  ReadFn read = [&](float* out, size_t n) {
    const size_t got = source(out, n);
    s.samples += got;
    return got;
  };
  OverviewBuilder overview(g.rate);
  auto to_overview = [&](const float* audio, size_t n) {
    if (options.keep_spectrogram) overview.add(audio, n);
  };
  // A chunk holds chunk_windows windows: (n - 1) hops plus one window of samples.
  const size_t chunk_samples = (g.chunk_windows - 1) * g.hop + g.window;
  const size_t advance = g.chunk_windows * g.hop;  // samples between chunk starts
  std::vector<float> buffer;
  buffer.reserve(chunk_samples);
  size_t base = 0;  // absolute index of buffer[0]
  for (;;) {
    const bool more = fill(buffer, chunk_samples, read);
    if (buffer.size() >= g.window) score_chunk(scorer, buffer, g, s);
    const size_t fresh = more ? std::min(advance, buffer.size()) : buffer.size();
    to_overview(buffer.data(), fresh);
    if (options.on_progress) options.on_progress(static_cast<double>(base + fresh) / g.rate);
    if (!more) break;
    if (advance >= buffer.size()) {
      discard(advance - buffer.size(), read, to_overview);
      buffer.clear();
    } else {
      buffer.erase(buffer.begin(), buffer.begin() + advance);
    }
    base += advance;
  }
  if (s.samples == 0) throw Error("no audio");
  if (options.keep_spectrogram) s.overview = overview.finish();
  if (s.probabilities.empty()) {  // shorter than one window: one zero-padded window
    // `buffer` still holds the whole (short) input here.
    s.probabilities = scorer.score_windows({buffer});
    check_finite(scorer, s.probabilities, 0, g);
  }
  return s;
}

Analysis build_analysis(Scored scored, const Scorer& scorer, const Geometry& g,
                        const Options& options, const std::string& name) {
  Analysis a;
  a.file = name;
  a.scorer = scorer.name();
  a.duration = static_cast<double>(scored.samples) / g.rate;
  const bool short_file = scored.samples < g.window;
  const double hop = short_file ? a.duration : static_cast<double>(g.hop) / g.rate;
  const double window = short_file ? a.duration : static_cast<double>(g.window) / g.rate;
  const auto& p = scored.probabilities;
  for (size_t i = 0; i < p.size(); ++i) a.windows.push_back({i * hop, i * hop + window, p[i]});
  // A frame model places segments by its steps (a tenth of a second by default), a window model by
  // the hop-long slots of its windows.
  const double step = scorer.step_seconds();
  const bool by_steps = !scored.steps.empty() && step > 0 && !short_file;
  a.threshold = options.smoothing.enter >= 0 ? options.smoothing.enter
                : by_steps                   ? scorer.step_threshold()
                                             : scorer.threshold();
  if (by_steps) {
    a.timeline = step_timeline(scored.steps, p.size(), hop, step);
    a.timeline_slot = step / kSlotsPerStep;
    a.segments = segments_from_probabilities(a.timeline, a.timeline_slot, a.timeline_slot,
                                             a.duration, options.smoothing, a.threshold);
  } else
    a.segments =
        segments_from_probabilities(p, hop, window, a.duration, options.smoothing, a.threshold);
  double covered = 0;
  for (const auto& s : a.segments) covered += s.end - s.start;
  a.sax_share = a.duration > 0 ? covered / a.duration : 0;
  a.sax = !a.segments.empty() && a.sax_share >= options.smoothing.min_share;
  const auto smoothed = median_filter(p, options.smoothing.median_windows);
  a.probability = smoothed.empty() ? 0 : *std::max_element(smoothed.begin(), smoothed.end());
  a.mean_probability = p.empty() ? 0 : std::accumulate(p.begin(), p.end(), 0.0) / p.size();
  a.overview = std::move(scored.overview);
  return a;
}

// Reads a source on a background thread, up to `capacity` samples ahead of the consumer, so
// decoding overlaps scoring. Errors of the source are rethrown by read(), in order: samples
// read before the error are still handed out first. The source is only ever called from the
// background thread, and not after the Prefetcher is destroyed.
class Prefetcher {
 public:
  Prefetcher(ReadFn source, size_t capacity)
      : source_(std::move(source)),
        block_(std::clamp<size_t>(capacity / 4, 1, kMaxBlock)),
        capacity_(std::max(capacity, block_)),
        thread_([this] { produce(); }) {}

  ~Prefetcher() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  size_t read(float* out, size_t count) {
    size_t written = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (written < count) {
      changed_.wait(lock, [&] { return !ready_.empty() || done_; });
      if (ready_.empty()) {
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
        break;
      }
      std::vector<float>& front = ready_.front();
      const size_t n = std::min(count - written, front.size() - front_pos_);
      std::memcpy(out + written, front.data() + front_pos_, n * sizeof(float));
      written += n;
      front_pos_ += n;
      queued_ -= n;
      if (front_pos_ == front.size()) {
        spare_ = std::move(front);
        ready_.pop_front();
        front_pos_ = 0;
      }
      changed_.notify_all();
    }
    return written;
  }

 private:
  static constexpr size_t kMaxBlock = 1 << 16;

  void produce() {
    try {
      for (;;) {
        std::vector<float> block;
        {
          std::unique_lock<std::mutex> lock(mutex_);
          changed_.wait(lock, [&] { return stop_ || queued_ + block_ <= capacity_; });
          if (stop_) return;
          block = std::move(spare_);  // reuse a consumed block's memory
        }
        block.resize(block_);
        const size_t got = source_(block.data(), block.size());
        block.resize(got);
        const std::lock_guard<std::mutex> lock(mutex_);
        if (got == 0) {
          done_ = true;
          break;
        }
        queued_ += got;
        ready_.push_back(std::move(block));
        changed_.notify_all();
      }
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      done_ = true;
    }
    changed_.notify_all();
  }

  ReadFn source_;
  const size_t block_, capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::vector<float>> ready_;
  std::vector<float> spare_;
  size_t front_pos_ = 0, queued_ = 0;
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once everything above is initialised
};

Analysis analyse(const ReadFn& read, Scorer& scorer, const Options& options,
                 const std::string& name) {
  validate(options);
  const Geometry g = geometry_for(scorer, options);
  return build_analysis(score_stream(read, scorer, g, options), scorer, g, options, name);
}

}  // namespace

std::vector<float> step_timeline(const std::vector<float>& steps, size_t windows, double hop,
                                 double step) {
  const size_t per_window = windows ? steps.size() / windows : 0;
  const double slot = step / kSlotsPerStep;
  std::vector<double> sum, count;
  for (size_t i = 0; i < windows; ++i) {
    const auto first = static_cast<size_t>(std::llround(i * hop / slot));
    const size_t end = first + per_window * kSlotsPerStep;
    if (sum.size() < end) {
      sum.resize(end);
      count.resize(end);
    }
    for (size_t k = first; k < end; ++k) {
      sum[k] += steps[i * per_window + (k - first) / kSlotsPerStep];
      count[k] += 1;
    }
  }
  std::vector<float> timeline(sum.size());
  for (size_t k = 0; k < sum.size(); ++k)
    timeline[k] = count[k] > 0 ? static_cast<float>(sum[k] / count[k]) : 0.0f;
  return timeline;
}

void validate(const Options& options) {
  const auto& s = options.smoothing;
  auto require = [](bool ok, const char* what) {
    if (!ok) throw Error(what);
  };
  require(options.hop > 0 && std::isfinite(options.hop),
          "--hop must be a positive number of seconds");
  require(options.chunk_seconds > 0, "chunk length must be positive");
  require(s.median_windows >= 1 && s.median_windows % 2 == 1,
          "--median must be an odd window count (1 = off)");
  require(s.enter <= 1, "--enter must be a probability (0..1)");
  require(s.exit <= 1, "--exit must be a probability (0..1)");
  require(s.exit < 0 || s.enter < 0 || s.exit <= s.enter, "--exit must not exceed --enter");
  require(s.merge_gap >= 0, "--merge-gap must not be negative");
  require(s.min_segment >= 0, "--min-segment must not be negative");
  require(s.min_share >= 0 && s.min_share <= 1, "--min-share must be a fraction (0..1)");
}

std::vector<double> window_starts(size_t count, int sample_rate, size_t window_samples,
                                  size_t hop_samples) {
  std::vector<double> starts;
  for (size_t start = 0; start + window_samples <= count; start += hop_samples)
    starts.push_back(static_cast<double>(start) / sample_rate);
  return starts;
}

Analysis analyse_samples(const float* audio, size_t count, Scorer& scorer, const Options& options,
                         const std::string& name) {
  size_t position = 0;
  ReadFn read = [&](float* out, size_t n) {
    const size_t take = std::min(n, count - position);
    std::memcpy(out, audio + position, take * sizeof(float));
    position += take;
    return take;
  };
  try {
    return analyse(read, scorer, options, name);
  } catch (const Error& e) {
    throw Error(name.empty() ? e.what() : fmt::format("{}: {}", name, e.what()));
  }
}

Analysis analyse_file(const std::filesystem::path& file, Scorer& scorer, const Options& options) {
  validate(options);  // option errors are not the file's fault: report them without its name
  Decoder decoder(file, scorer.sample_rate());  // throws "<file>: <reason>"
  // Decoding runs ahead on its own thread while the scorer works on the chunk before.
  const Geometry g = geometry_for(scorer, options);
  Prefetcher prefetcher([&](float* out, size_t n) { return decoder.read(out, n); },
                        /*capacity=*/(g.chunk_windows - 1) * g.hop + g.window);
  ReadFn read = [&](float* out, size_t n) { return prefetcher.read(out, n); };
  try {
    return analyse(read, scorer, options, file.string());
  } catch (const Error& e) {
    const std::string message = e.what();
    // Decoder errors already start with the file name.
    if (message.rfind(file.string(), 0) == 0) throw;
    throw Error(fmt::format("{}: {}", file.string(), message));
  }
}

}  // namespace sax::detect
