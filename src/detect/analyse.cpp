// Streaming sliding-window analysis: decode in chunks, score each chunk with one
// score_sliding call, keep the window overlap between chunks, smooth into segments.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "audio/audio.h"
#include "common/error.h"
#include "detect/detect.h"
#include "model/detector.h"

namespace sax::detect {

namespace {

// Where samples come from: a Decoder for files, a plain buffer for analyse_samples. Both go
// through the same chunking so tests of the in-memory path cover the file path too.
using ReadFn = std::function<size_t(float* out, size_t count)>;

// Log-mel columns a second in the overview picture: enough to see notes, small for 2 hours.
constexpr double kOverviewColsPerSecond = 10;
constexpr int kOverviewMels = 64;

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

// Appends the log-mel columns of `count` new samples to the overview picture.
void append_overview(Overview& overview, const float* audio, size_t count, int rate) {
  if (count == 0) return;
  FeatureConfig config;
  config.sample_rate = rate;
  config.seconds = static_cast<double>(count) / rate;
  config.n_mels = kOverviewMels;
  config.frames =
      std::max(1, static_cast<int>(std::lround(config.seconds * kOverviewColsPerSecond)));
  config.normalise = "none";
  const Spectrogram part = log_mel(audio, count, config);
  Spectrogram& all = overview.spectrogram;
  overview.cols_per_second = kOverviewColsPerSecond;
  if (all.rows == 0) all.rows = part.rows;
  // Row-major storage: rebuild with the new columns appended to every row.
  std::vector<float> merged(static_cast<size_t>(all.rows) * (all.cols + part.cols));
  for (int r = 0; r < all.rows; ++r) {
    std::copy_n(all.values.begin() + static_cast<size_t>(r) * all.cols, all.cols,
                merged.begin() + static_cast<size_t>(r) * (all.cols + part.cols));
    std::copy_n(part.values.begin() + static_cast<size_t>(r) * part.cols, part.cols,
                merged.begin() + static_cast<size_t>(r) * (all.cols + part.cols) + all.cols);
  }
  all.values = std::move(merged);
  all.cols += part.cols;
}

struct Scored {
  std::vector<float> probabilities;
  size_t samples = 0;  // total decoded
  Overview overview;
};

// Scores one chunk and checks the scorer kept its contract (a wrong count would shift every
// later window in time).
void score_chunk(Scorer& scorer, const std::vector<float>& buffer, const Geometry& g,
                 std::vector<float>& out) {
  const size_t expected = (buffer.size() - g.window) / g.hop + 1;
  std::vector<float> p = scorer.score_sliding(buffer.data(), buffer.size(), g.hop);
  if (p.size() != expected)
    throw Error(fmt::format("scorer {} returned {} windows for a chunk holding {}", scorer.name(),
                            p.size(), expected));
  out.insert(out.end(), p.begin(), p.end());
}

Scored score_stream(const ReadFn& source, Scorer& scorer, const Geometry& g,
                    const Options& options) {
  Scored s;
  ReadFn read = [&](float* out, size_t n) {
    const size_t got = source(out, n);
    s.samples += got;
    return got;
  };
  auto to_overview = [&](const float* audio, size_t n) {
    if (options.keep_spectrogram) append_overview(s.overview, audio, n, g.rate);
  };
  // A chunk holds chunk_windows windows: (n - 1) hops plus one window of samples.
  const size_t chunk_samples = (g.chunk_windows - 1) * g.hop + g.window;
  const size_t advance = g.chunk_windows * g.hop;  // samples between chunk starts
  std::vector<float> buffer;
  buffer.reserve(chunk_samples);
  size_t base = 0;  // absolute index of buffer[0]
  for (;;) {
    const bool more = fill(buffer, chunk_samples, read);
    if (buffer.size() >= g.window) score_chunk(scorer, buffer, g, s.probabilities);
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
  if (s.probabilities.empty()) {  // shorter than one window: one zero-padded window
    // `buffer` still holds the whole (short) input here.
    s.probabilities = scorer.score_windows({buffer});
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
  a.threshold = options.smoothing.enter >= 0 ? options.smoothing.enter : scorer.threshold();
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

Analysis analyse(const ReadFn& read, Scorer& scorer, const Options& options,
                 const std::string& name) {
  validate(options);
  const Geometry g = geometry_for(scorer, options);
  return build_analysis(score_stream(read, scorer, g, options), scorer, g, options, name);
}

}  // namespace

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
  ReadFn read = [&](float* out, size_t n) { return decoder.read(out, n); };
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
