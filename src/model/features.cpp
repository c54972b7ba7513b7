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

// Windows go through the STFT this many at a time: the complex spectrum of one default window
// is ~0.9 MB, so this bounds memory whatever the caller passes.
constexpr int64_t kStftChunk = 64;

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

torch::Tensor hann_window(int n_fft) {
  static std::mutex mutex;
  static std::map<int, torch::Tensor> cache;
  std::lock_guard lock(mutex);
  auto& window = cache[n_fft];
  if (!window.defined())
    window = torch::hann_window(n_fft, torch::TensorOptions().dtype(torch::kFloat32));
  return window;
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
  const nlohmann::json j = *this;
  return sha256_bytes(j.dump().data(), j.dump().size()).substr(0, 16);
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

torch::Tensor filter_bank(const FeatureConfig& config) {
  static std::mutex mutex;
  static std::map<std::string, torch::Tensor> cache;
  const std::string key = config.key();
  std::lock_guard lock(mutex);
  auto& bank = cache[key];
  if (!bank.defined()) {
    validate(config);
    bank = compute_filter_bank(config);
  }
  return bank;
}

torch::Tensor log_mel_raw(const torch::Tensor& audio, const FeatureConfig& config) {
  const auto bank_t = filter_bank(config).t().to(audio.device());  // [n_mels, n_freqs]
  const auto window = hann_window(config.n_fft).to(audio.device());
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < audio.size(0); first += kStftChunk) {
    const auto chunk = audio.narrow(0, first, std::min(kStftChunk, audio.size(0) - first));
    // Reflect padding needs more samples than half the FFT; zero padding works for any length.
    const auto spectrum = torch::stft(chunk, config.n_fft, config.hop(), config.n_fft, window,
                                      /*center=*/true, /*pad_mode=*/"constant",
                                      /*normalized=*/false, /*onesided=*/true,
                                      /*return_complex=*/true);
    const auto power = torch::view_as_real(spectrum).pow(2).sum(-1);  // [b, n_freqs, T]
    parts.push_back(torch::matmul(bank_t, power).clamp_min(config.log_floor).log());
  }
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
