#include "infer/features.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/hash.h"
#include "common/json_fields.h"
#include "infer/numeric.h"

namespace sax {

namespace jf = json_fields;

namespace {

// Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
constexpr double kLinearHzPerMel = 200.0 / 3.0;
constexpr double kLogStartHz = 1000.0;
const double kLogStartMel = kLogStartHz / kLinearHzPerMel;
const double kLogStep = std::log(6.4) / 27.0;
const double kPi = std::acos(-1.0);

double hz_to_mel(double hz) {
  return hz < kLogStartHz ? hz / kLinearHzPerMel
                          : kLogStartMel + std::log(hz / kLogStartHz) / kLogStep;
}

double mel_to_hz(double mel) {
  return mel < kLogStartMel ? mel * kLinearHzPerMel
                            : kLogStartHz * std::exp(kLogStep * (mel - kLogStartMel));
}

double effective_fmax(const FeatureConfig& c) { return c.fmax > 0 ? c.fmax : c.sample_rate / 2.0; }

void validate(const FeatureConfig& c) {
  auto fail = [](const std::string& why) { throw Error("feature config: " + why); };
  if (c.sample_rate < 1000) fail(fmt::format("sample_rate {} is below 1000 Hz", c.sample_rate));
  if (!(c.seconds > 0)) fail(fmt::format("seconds must be positive, got {}", c.seconds));
  if (c.n_mels < 1) fail(fmt::format("n_mels must be at least 1, got {}", c.n_mels));
  if (c.frames < 2) fail(fmt::format("frames must be at least 2, got {}", c.frames));
  if (c.n_fft < 16 || c.n_fft % 2 != 0)
    fail(fmt::format("n_fft must be even and at least 16, got {}", c.n_fft));
  if (c.fmin < 0 || c.fmin >= effective_fmax(c))
    fail(fmt::format("fmin {} must lie in [0, fmax {})", c.fmin, effective_fmax(c)));
  if (effective_fmax(c) > c.sample_rate / 2.0)
    fail(fmt::format("fmax {} is above the Nyquist frequency {}", c.fmax, c.sample_rate / 2.0));
  if (!(c.log_floor > 0)) fail(fmt::format("log_floor must be positive, got {}", c.log_floor));
  if (c.normalise != "per_sample" && c.normalise != "none")
    fail(fmt::format("normalise must be \"per_sample\" or \"none\", got \"{}\"", c.normalise));
  if (static_cast<size_t>(c.hop()) < 1 || c.window_samples() < static_cast<size_t>(c.n_fft))
    fail(fmt::format("{} s at {} Hz is too short for n_fft {} and {} frames", c.seconds,
                     c.sample_rate, c.n_fft, c.frames));
}

std::vector<float> compute_filter_bank(const FeatureConfig& c) {
  const int n_freqs = c.n_fft / 2 + 1;
  const double mel_lo = hz_to_mel(c.fmin), mel_hi = hz_to_mel(effective_fmax(c));
  std::vector<double> edges(c.n_mels + 2);
  for (size_t i = 0; i < edges.size(); ++i)
    edges[i] = mel_to_hz(mel_lo + (mel_hi - mel_lo) * static_cast<double>(i) / (c.n_mels + 1));
  std::vector<float> bank(static_cast<size_t>(c.n_mels) * n_freqs, 0.0f);
  for (int m = 0; m < c.n_mels; ++m) {
    const double lower = edges[m], centre = edges[m + 1], upper = edges[m + 2];
    const double area_norm = 2.0 / (upper - lower);  // each triangle has unit area (Slaney)
    for (int k = 0; k < n_freqs; ++k) {
      const double hz = static_cast<double>(k) * c.sample_rate / c.n_fft;
      const double rising = (hz - lower) / (centre - lower);
      const double falling = (upper - hz) / (upper - centre);
      const double weight = std::max(0.0, std::min(rising, falling));
      bank[static_cast<size_t>(m) * n_freqs + k] = static_cast<float>(weight * area_norm);
    }
  }
  return bank;
}

// Everything about a config that does not depend on the audio, built once per config and
// shared by every call: the analysis window and the filter bank in band form.
struct MelPlan {
  std::vector<float> window;  // periodic Hann, n_fft samples (torch.hann_window's default)
  // Each triangle touches a few neighbouring bins only: mel m weighs bins first[m] ..
  // first[m] + count[m] - 1 with weights[offset[m] ..], ~2 n_freqs multiply-adds a frame
  // instead of n_mels x n_freqs for a dense product with the bank.
  std::vector<int> first, count, offset;
  std::vector<float> weights;
};

MelPlan make_plan(const FeatureConfig& c) {
  validate(c);
  MelPlan plan;
  plan.window.resize(static_cast<size_t>(c.n_fft));
  for (int n = 0; n < c.n_fft; ++n)
    plan.window[n] = static_cast<float>(0.5 - 0.5 * std::cos(2 * kPi * n / c.n_fft));
  const auto bank = compute_filter_bank(c);
  const int n_freqs = c.n_fft / 2 + 1;
  for (int m = 0; m < c.n_mels; ++m) {
    const float* row = bank.data() + static_cast<size_t>(m) * n_freqs;
    int lo = 0, hi = 0;  // [lo, hi): the non-zero bins
    for (int k = 0; k < n_freqs; ++k)
      if (row[k] != 0.0f) {
        if (hi == 0) lo = k;
        hi = k + 1;
      }
    plan.first.push_back(lo);
    plan.count.push_back(hi - lo);
    plan.offset.push_back(static_cast<int>(plan.weights.size()));
    plan.weights.insert(plan.weights.end(), row + lo, row + hi);
  }
  return plan;
}

// Plans by every field of the config (cheaper than FeatureConfig::key(), same identity).
const MelPlan& plan_of(const FeatureConfig& c) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<const MelPlan>> cache;
  const std::string id =
      fmt::format("{}|{:.17g}|{}|{}|{}|{:.17g}|{:.17g}|{:.17g}|{}", c.sample_rate, c.seconds,
                  c.n_mels, c.frames, c.n_fft, c.fmin, c.fmax, c.log_floor, c.normalise);
  std::lock_guard lock(mutex);
  auto& plan = cache[id];
  if (!plan) plan = std::make_unique<const MelPlan>(make_plan(c));
  return *plan;
}

// Fills `frame` with the windowed samples of the frame starting at sample `start` (which may
// lie partly outside the signal: zeros there).
void windowed_frame(const float* audio, long count, long start, const std::vector<float>& window,
                    float* frame) {
  const long n = static_cast<long>(window.size());
  if (start >= 0 && start + n <= count) {
    for (long i = 0; i < n; ++i) frame[i] = audio[start + i] * window[i];
    return;
  }
  for (long i = 0; i < n; ++i) {
    const long at = start + i;
    frame[i] = at >= 0 && at < count ? audio[at] * window[i] : 0.0f;
  }
}

}  // namespace

size_t FeatureConfig::window_samples() const {
  return static_cast<size_t>(std::llround(seconds * sample_rate));
}

int FeatureConfig::hop() const {
  // `frames` centred frames span the window when (frames - 1) hops fit inside it.
  return static_cast<int>(window_samples() / static_cast<size_t>(std::max(1, frames - 1)));
}

std::string FeatureConfig::key() const {
  const std::string text = nlohmann::json(*this).dump();
  return sha256_bytes(text.data(), text.size()).substr(0, 16);
}

const auto kFeatureFields = std::make_tuple(
    jf::field("sample_rate", &FeatureConfig::sample_rate),
    jf::field("seconds", &FeatureConfig::seconds), jf::field("n_mels", &FeatureConfig::n_mels),
    jf::field("frames", &FeatureConfig::frames), jf::field("n_fft", &FeatureConfig::n_fft),
    jf::field("fmin", &FeatureConfig::fmin), jf::field("fmax", &FeatureConfig::fmax),
    jf::field("log_floor", &FeatureConfig::log_floor),
    jf::field("normalise", &FeatureConfig::normalise));

void to_json(nlohmann::json& j, const FeatureConfig& c) { jf::write(j, c, kFeatureFields); }

void from_json(const nlohmann::json& j, FeatureConfig& c) {
  jf::read_object(j, c, kFeatureFields, "feature config");
  validate(c);
}

std::vector<float> mel_filter_bank(const FeatureConfig& config) {
  validate(config);
  return compute_filter_bank(config);
}

Spectrogram log_mel_raw(const float* audio, size_t count, const FeatureConfig& config) {
  const MelPlan& plan = plan_of(config);
  const int n_fft = config.n_fft, hop = config.hop(), n_freqs = n_fft / 2 + 1;
  const auto floor = static_cast<float>(config.log_floor);
  Spectrogram s;
  s.rows = config.n_mels;
  s.cols = 1 + static_cast<int>(count / static_cast<size_t>(hop));
  s.values.resize(static_cast<size_t>(s.rows) * s.cols);
  RealFft& fft = RealFft::of_this_thread(n_fft);
  std::vector<float> power(static_cast<size_t>(n_freqs));
  for (int t = 0; t < s.cols; ++t) {
    windowed_frame(audio, static_cast<long>(count), static_cast<long>(t) * hop - n_fft / 2,
                   plan.window, fft.input());
    const float* z = fft.run();
    for (int k = 0; k < n_freqs; ++k) power[k] = z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1];
    for (int m = 0; m < s.rows; ++m) {
      const float* w = plan.weights.data() + plan.offset[m];
      const float* p = power.data() + plan.first[m];
      float sum = 0;
      for (int j = 0; j < plan.count[m]; ++j) sum += w[j] * p[j];
      s.values[static_cast<size_t>(m) * s.cols + t] = std::log(std::max(sum, floor));
    }
  }
  return s;
}

Spectrogram columns(const Spectrogram& s, int first, int cols) {
  Spectrogram out;
  out.rows = s.rows;
  out.cols = cols;
  out.values.assign(static_cast<size_t>(s.rows) * cols, 0.0f);
  const int have = std::clamp(s.cols - first, 0, cols);
  for (int r = 0; r < s.rows; ++r)
    std::copy_n(s.values.data() + static_cast<size_t>(r) * s.cols + first, have,
                out.values.data() + static_cast<size_t>(r) * cols);
  return out;
}

Spectrogram log_mel_window(const float* audio, size_t count, const FeatureConfig& config) {
  const size_t length = config.window_samples();
  Spectrogram raw;
  if (count >= length) {
    raw = log_mel_raw(audio, length, config);
  } else {  // zero-padded to the window: frames past the audio still see its tail
    std::vector<float> padded(length, 0.0f);
    std::copy_n(audio, count, padded.data());
    raw = log_mel_raw(padded.data(), length, config);
  }
  return raw.cols == config.frames ? raw : columns(raw, 0, config.frames);
}

void normalise(Spectrogram& s, const FeatureConfig& config) {
  if (config.normalise == "none" || s.values.empty()) return;
  double sum = 0, squares = 0;
  for (float v : s.values) sum += v;
  const double mean = sum / static_cast<double>(s.values.size());
  for (float v : s.values) squares += (v - mean) * (v - mean);
  const double std = std::sqrt(squares / static_cast<double>(s.values.size()));
  // The epsilon keeps a silent (constant) clip finite: it normalises to all zeros.
  const double scale = 1.0 / (std + 1e-5);
  for (float& v : s.values) v = static_cast<float>((v - mean) * scale);
}

Spectrogram log_mel(const float* audio, size_t count, const FeatureConfig& config) {
  Spectrogram s = log_mel_window(audio, count, config);
  normalise(s, config);
  return s;
}

std::vector<Spectrogram> log_mel_batch(const std::vector<std::vector<float>>& windows,
                                       const FeatureConfig& config) {
  std::vector<Spectrogram> out;
  out.reserve(windows.size());
  for (const auto& w : windows) out.push_back(log_mel(w.data(), w.size(), config));
  return out;
}

}  // namespace sax
