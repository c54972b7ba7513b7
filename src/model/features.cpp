#include "model/features.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/hash.h"
#include "model/json_fields.h"
#include "model/mel.h"

namespace sax {

namespace {

// Windows go through the STFT this many at a time. One default window's padded audio, frames
// and complex spectrum are ~2 MB together; one at a time keeps them in cache and measured ~1.5x
// faster per window than 64 at a time (bench_features), and bounds memory for any batch.
constexpr int64_t kStftChunk = 1;

// Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
constexpr double kLinearHzPerMel = 200.0 / 3.0;
constexpr double kLogStartHz = 1000.0;
const double kLogStartMel = kLogStartHz / kLinearHzPerMel;
const double kLogStep = std::log(6.4) / 27.0;

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
  if (c.n_fft < 16) fail(fmt::format("n_fft must be at least 16, got {}", c.n_fft));
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

torch::Tensor compute_filter_bank(const FeatureConfig& c) {
  const int64_t n_freqs = c.n_fft / 2 + 1;
  const double mel_lo = hz_to_mel(c.fmin), mel_hi = hz_to_mel(effective_fmax(c));
  std::vector<double> edges(c.n_mels + 2);
  for (size_t i = 0; i < edges.size(); ++i)
    edges[i] = mel_to_hz(mel_lo + (mel_hi - mel_lo) * static_cast<double>(i) / (c.n_mels + 1));
  auto bank = torch::zeros({n_freqs, c.n_mels}, torch::kFloat32);
  auto acc = bank.accessor<float, 2>();
  for (int m = 0; m < c.n_mels; ++m) {
    const double lower = edges[m], centre = edges[m + 1], upper = edges[m + 2];
    const double area_norm = 2.0 / (upper - lower);  // each triangle has unit area (Slaney)
    for (int64_t k = 0; k < n_freqs; ++k) {
      const double hz = static_cast<double>(k) * c.sample_rate / c.n_fft;
      const double rising = (hz - lower) / (centre - lower);
      const double falling = (upper - hz) / (upper - centre);
      const double weight = std::max(0.0, std::min(rising, falling));
      acc[k][m] = static_cast<float>(weight * area_norm);
    }
  }
  return bank;
}

// Everything about a config that does not depend on the audio, built once per config and
// shared by every call: the filter bank, its non-zero bands and the analysis window.
struct MelPlan {
  torch::Tensor bank;    // [n_freqs, n_mels]
  torch::Tensor bank_t;  // [n_mels, n_freqs], contiguous: the matmul form for other devices
  torch::Tensor window;  // periodic Hann, n_fft samples
  // Each triangle touches a few neighbouring bins only: mel m weighs bins first[m] ..
  // first[m] + count[m] - 1 with weights[offset[m] ..]. The CPU path multiplies by this band
  // form, ~2 n_freqs multiply-adds a frame instead of n_mels x n_freqs for the dense matmul.
  std::vector<int64_t> first, count, offset;
  std::vector<float> weights;
};

MelPlan make_plan(const FeatureConfig& c) {
  validate(c);
  MelPlan plan;
  plan.bank = compute_filter_bank(c);
  plan.bank_t = plan.bank.t().contiguous();
  plan.window = torch::hann_window(c.n_fft, torch::TensorOptions().dtype(torch::kFloat32));
  const auto acc = plan.bank_t.accessor<float, 2>();
  const int64_t n_freqs = plan.bank_t.size(1);
  for (int64_t m = 0; m < c.n_mels; ++m) {
    int64_t lo = 0, hi = 0;  // [lo, hi): the non-zero bins
    for (int64_t k = 0; k < n_freqs; ++k)
      if (acc[m][k] != 0.0f) {
        if (hi == 0) lo = k;
        hi = k + 1;
      }
    plan.first.push_back(lo);
    plan.count.push_back(hi - lo);
    plan.offset.push_back(static_cast<int64_t>(plan.weights.size()));
    for (int64_t k = lo; k < hi; ++k) plan.weights.push_back(acc[m][k]);
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

// One chunk's log-mel on the CPU: `spectrum` [b, n_freqs, T] complex -> out [b, n_mels, T].
// Power, band-limited mel sums and the floored log in one pass per frame.
void log_mel_cpu(const torch::Tensor& spectrum, const MelPlan& plan, float floor,
                 torch::Tensor out) {
  const int64_t b = spectrum.size(0), n_freqs = spectrum.size(1), frames = spectrum.size(2);
  const int64_t n_mels = static_cast<int64_t>(plan.first.size());
  // torch::stft returns a transposed view of [b, T, n_freqs]: frame-major is free.
  const auto by_frame = spectrum.transpose(1, 2).contiguous();
  const float* z = reinterpret_cast<const float*>(by_frame.data_ptr<c10::complex<float>>());
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, b * frames, 8, [&](int64_t begin, int64_t end) {
    std::vector<float> power(static_cast<size_t>(n_freqs));
    for (int64_t i = begin; i < end; ++i) {
      const float* zi = z + i * n_freqs * 2;
      for (int64_t k = 0; k < n_freqs; ++k)
        power[k] = zi[2 * k] * zi[2 * k] + zi[2 * k + 1] * zi[2 * k + 1];
      float* column = dst + (i / frames) * n_mels * frames + i % frames;
      for (int64_t m = 0; m < n_mels; ++m) {
        const float* w = plan.weights.data() + plan.offset[m];
        const float* p = power.data() + plan.first[m];
        float sum = 0;
        for (int64_t j = 0; j < plan.count[m]; ++j) sum += w[j] * p[j];
        column[m * frames] = std::log(std::max(sum, floor));
      }
    }
  });
}

// Cuts or zero-pads the last dimension to exactly `length`.
torch::Tensor fit_length(const torch::Tensor& t, int64_t length) {
  const int64_t have = t.size(-1);
  if (have == length) return t;
  if (have > length) return t.narrow(-1, 0, length);
  return torch::constant_pad_nd(t, {0, length - have}, 0.0);
}

torch::Tensor windows_tensor(const std::vector<std::vector<float>>& windows, size_t length) {
  auto batch = torch::zeros({static_cast<int64_t>(windows.size()), static_cast<int64_t>(length)});
  for (size_t i = 0; i < windows.size(); ++i) {
    const size_t n = std::min(length, windows[i].size());
    std::copy_n(windows[i].data(), n, batch[static_cast<int64_t>(i)].data_ptr<float>());
  }
  return batch;
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

void to_json(nlohmann::json& j, const FeatureConfig& c) {
  j = nlohmann::json{{"sample_rate", c.sample_rate},
                     {"seconds", c.seconds},
                     {"n_mels", c.n_mels},
                     {"frames", c.frames},
                     {"n_fft", c.n_fft},
                     {"fmin", c.fmin},
                     {"fmax", c.fmax},
                     {"log_floor", c.log_floor},
                     {"normalise", c.normalise}};
}

void from_json(const nlohmann::json& j, FeatureConfig& c) {
  const std::string where = "feature config";
  json_fields::require_object(j, where);
  json_fields::reject_unknown(j,
                              {"sample_rate", "seconds", "n_mels", "frames", "n_fft", "fmin",
                               "fmax", "log_floor", "normalise"},
                              where);
  json_fields::read(j, "sample_rate", c.sample_rate, where);
  json_fields::read(j, "seconds", c.seconds, where);
  json_fields::read(j, "n_mels", c.n_mels, where);
  json_fields::read(j, "frames", c.frames, where);
  json_fields::read(j, "n_fft", c.n_fft, where);
  json_fields::read(j, "fmin", c.fmin, where);
  json_fields::read(j, "fmax", c.fmax, where);
  json_fields::read(j, "log_floor", c.log_floor, where);
  json_fields::read(j, "normalise", c.normalise, where);
  validate(c);
}

namespace mel {

torch::Tensor filter_bank(const FeatureConfig& config) { return plan_of(config).bank; }

torch::Tensor log_mel_raw(const torch::Tensor& audio, const FeatureConfig& config) {
  const MelPlan& plan = plan_of(config);
  const bool cpu = audio.device().is_cpu() && audio.scalar_type() == torch::kFloat32 &&
                   !(audio.requires_grad() && torch::GradMode::is_enabled());
  const auto window = cpu ? plan.window : plan.window.to(audio.device());
  const auto bank_t = cpu ? plan.bank_t : plan.bank_t.to(audio.device());
  const int64_t batch = audio.size(0);
  torch::Tensor out;  // CPU: [B, n_mels, T], filled chunk by chunk
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < batch; first += kStftChunk) {
    const int64_t n = std::min(kStftChunk, batch - first);
    const auto chunk = audio.narrow(0, first, n);
    // Reflect padding needs more samples than half the FFT; zero padding works for any length.
    const auto spectrum = torch::stft(chunk, config.n_fft, config.hop(), config.n_fft, window,
                                      /*center=*/true, /*pad_mode=*/"constant",
                                      /*normalized=*/false, /*onesided=*/true,
                                      /*return_complex=*/true);
    if (cpu) {
      if (!out.defined()) out = torch::empty({batch, config.n_mels, spectrum.size(2)});
      log_mel_cpu(spectrum, plan, static_cast<float>(config.log_floor), out.narrow(0, first, n));
    } else {
      const auto power = torch::view_as_real(spectrum).pow(2).sum(-1);  // [b, n_freqs, T]
      parts.push_back(torch::matmul(bank_t, power).clamp_min(config.log_floor).log());
    }
  }
  if (cpu)
    return out.defined() ? out
                         : torch::empty({0, config.n_mels, 1 + audio.size(-1) / config.hop()});
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

torch::Tensor log_mel_windows(const torch::Tensor& audio, const FeatureConfig& config) {
  const auto fitted = fit_length(audio, static_cast<int64_t>(config.window_samples()));
  return fit_length(log_mel_raw(fitted, config), config.frames);
}

torch::Tensor normalise(const torch::Tensor& spectrograms, const FeatureConfig& config) {
  if (config.normalise == "none") return spectrograms;
  const auto mean = spectrograms.mean({-2, -1}, /*keepdim=*/true);
  const auto std = spectrograms.std({-2, -1}, /*unbiased=*/false, /*keepdim=*/true);
  // The epsilon keeps a silent (constant) clip finite: it normalises to all zeros.
  return (spectrograms - mean) / (std + 1e-5);
}

std::vector<Spectrogram> to_spectrograms(const torch::Tensor& batch) {
  const auto contiguous = batch.to(torch::kCPU, torch::kFloat32).contiguous();
  std::vector<Spectrogram> out(static_cast<size_t>(contiguous.size(0)));
  for (size_t i = 0; i < out.size(); ++i) {
    auto& s = out[i];
    s.rows = static_cast<int>(contiguous.size(1));
    s.cols = static_cast<int>(contiguous.size(2));
    const float* data = contiguous[static_cast<int64_t>(i)].data_ptr<float>();
    s.values.assign(data, data + static_cast<size_t>(s.rows) * s.cols);
  }
  return out;
}

}  // namespace mel

Spectrogram log_mel(const float* audio, size_t count, const FeatureConfig& config) {
  std::vector<std::vector<float>> one{std::vector<float>(audio, audio + count)};
  return log_mel_batch(one, config).front();
}

std::vector<Spectrogram> log_mel_batch(const std::vector<std::vector<float>>& windows,
                                       const FeatureConfig& config) {
  if (windows.empty()) return {};
  torch::NoGradGuard no_grad;
  const auto audio = windows_tensor(windows, config.window_samples());
  return mel::to_spectrograms(mel::normalise(mel::log_mel_windows(audio, config), config));
}

}  // namespace sax
