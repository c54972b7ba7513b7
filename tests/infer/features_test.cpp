#include "infer/features.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "support/testing.h"

namespace sax {
namespace {

// Slaney mel scale written out independently of the implementation, as the test's oracle.
double slaney_mel(double hz) {
  return hz < 1000 ? hz * 3.0 / 200.0 : 15.0 + std::log(hz / 1000.0) / (std::log(6.4) / 27.0);
}

int loudest_band(const Spectrogram& s) {
  std::vector<double> energy(s.rows, 0.0);
  for (int r = 0; r < s.rows; ++r)
    for (int c = 0; c < s.cols; ++c) energy[r] += s.values[static_cast<size_t>(r) * s.cols + c];
  return static_cast<int>(std::max_element(energy.begin(), energy.end()) - energy.begin());
}

double slaney_hz(double mel) {
  return mel < 15 ? mel * 200.0 / 3.0 : 1000.0 * std::exp((mel - 15.0) * std::log(6.4) / 27.0);
}

// The log-mel spectrogram by definition, in double precision: a centred, zero-padded, periodic
// Hann-windowed DFT per frame, power, Slaney triangles of unit area, floored log.
std::vector<double> naive_log_mel(const std::vector<float>& audio, const FeatureConfig& c) {
  const int n_fft = c.n_fft, hop = c.hop(), n_freqs = n_fft / 2 + 1;
  const int frames = 1 + static_cast<int>(audio.size()) / hop;
  const double fmax = c.fmax > 0 ? c.fmax : c.sample_rate / 2.0;
  const double lo = slaney_mel(c.fmin), hi = slaney_mel(fmax);
  std::vector<double> edges(c.n_mels + 2);
  for (size_t i = 0; i < edges.size(); ++i)
    edges[i] = slaney_hz(lo + (hi - lo) * static_cast<double>(i) / (c.n_mels + 1));
  std::vector<double> out(static_cast<size_t>(c.n_mels) * frames);
  for (int t = 0; t < frames; ++t) {
    std::vector<double> power(n_freqs);
    for (int k = 0; k < n_freqs; ++k) {
      double re = 0, im = 0;
      for (int n = 0; n < n_fft; ++n) {
        const long at = static_cast<long>(t) * hop + n - n_fft / 2;
        const double x = at >= 0 && at < static_cast<long>(audio.size()) ? audio[at] : 0.0;
        const double w = 0.5 - 0.5 * std::cos(2 * M_PI * n / n_fft);
        re += w * x * std::cos(2 * M_PI * k * n / n_fft);
        im -= w * x * std::sin(2 * M_PI * k * n / n_fft);
      }
      power[k] = re * re + im * im;
    }
    for (int m = 0; m < c.n_mels; ++m) {
      double sum = 0;
      for (int k = 0; k < n_freqs; ++k) {
        const double hz = static_cast<double>(k) * c.sample_rate / n_fft;
        const double rising = (hz - edges[m]) / (edges[m + 1] - edges[m]);
        const double falling = (edges[m + 2] - hz) / (edges[m + 2] - edges[m + 1]);
        sum +=
            std::max(0.0, std::min(rising, falling)) * 2.0 / (edges[m + 2] - edges[m]) * power[k];
      }
      out[static_cast<size_t>(m) * frames + t] = std::log(std::max(sum, c.log_floor));
    }
  }
  return out;
}

TEST(Features, MatchesTheDefinitionComputedNaively) {
  FeatureConfig config;
  config.sample_rate = 8000;
  config.seconds = 0.25;  // 2000 samples
  config.n_fft = 256;
  config.n_mels = 24;
  config.frames = 26;  // hop 80
  config.normalise = "none";
  std::vector<float> audio = testing::tone(0.25, 8000, 1, 440.0, 0.3);
  uint32_t state = 7;
  for (size_t i = 0; i < audio.size(); ++i) {  // plus a little noise and a second tone
    state = state * 1664525u + 1013904223u;
    audio[i] += 0.05f * (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) +
                0.2f * static_cast<float>(std::sin(2 * M_PI * 2500.0 * i / 8000.0));
  }
  const auto s = log_mel(audio.data(), audio.size(), config);
  ASSERT_EQ(s.rows, 24);
  ASSERT_EQ(s.cols, 26);
  const auto expected = naive_log_mel(audio, config);
  ASSERT_EQ(expected.size(), s.values.size());
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(s.values[i], expected[i], 1e-3 * std::max(1.0, std::abs(expected[i])))
        << "band " << i / 26 << " frame " << i % 26;
}

// log_mel_batch of `windows` against log_mel of each of the windows at `checked`.
void expect_batch_equals_one_at_a_time(const std::vector<std::vector<float>>& windows,
                                       const FeatureConfig& config,
                                       const std::vector<size_t>& checked) {
  const auto batch = log_mel_batch(windows, config);
  ASSERT_EQ(batch.size(), windows.size());
  for (size_t i : checked) {
    const auto single = log_mel(windows[i].data(), windows[i].size(), config);
    ASSERT_EQ(single.values.size(), batch[i].values.size());
    for (size_t k = 0; k < single.values.size(); ++k)
      ASSERT_NEAR(single.values[k], batch[i].values[k], 1e-4) << "window " << i << " value " << k;
  }
}

TEST(Features, LongBatchEqualsSmallBatches) {
  // Many windows go through the STFT in chunks: every window's result is its own.
  FeatureConfig config;
  config.n_mels = 64;
  std::vector<std::vector<float>> windows;
  for (int i = 0; i < 70; ++i)
    windows.push_back(testing::tone(5.0, config.sample_rate, 1, 100.0 + 50.0 * i));
  expect_batch_equals_one_at_a_time(windows, config, {0, 33, 64, 69});
}

TEST(Features, DefaultShapeIs128By108) {
  FeatureConfig config;
  const auto audio = testing::tone(5.0, config.sample_rate);
  const auto s = log_mel(audio.data(), audio.size(), config);
  EXPECT_EQ(s.rows, 128);
  EXPECT_EQ(s.cols, 108);
  EXPECT_EQ(s.values.size(), 128u * 108u);
  EXPECT_EQ(config.window_samples(), 110250u);
}

TEST(Features, HighResolutionShapeIs256By216) {
  FeatureConfig config;
  config.n_mels = 256;
  config.frames = 216;
  const auto audio = testing::tone(5.0, config.sample_rate);
  const auto s = log_mel(audio.data(), audio.size(), config);
  EXPECT_EQ(s.rows, 256);
  EXPECT_EQ(s.cols, 216);
  EXPECT_EQ(config.hop(), 512);
}

TEST(Features, ShortInputIsPaddedAndLongInputCut) {
  FeatureConfig config;
  const auto short_audio = testing::tone(1.0, config.sample_rate);
  const auto long_audio = testing::tone(9.0, config.sample_rate);
  EXPECT_EQ(log_mel(short_audio.data(), short_audio.size(), config).cols, 108);
  EXPECT_EQ(log_mel(long_audio.data(), long_audio.size(), config).cols, 108);
}

TEST(Features, PureToneLandsInItsMelBand) {
  FeatureConfig config;
  config.normalise = "none";
  const double lo = slaney_mel(config.fmin), hi = slaney_mel(config.sample_rate / 2.0);
  const double step = (hi - lo) / (config.n_mels + 1);
  for (double hz : {300.0, 1000.0, 2500.0, 6000.0}) {
    const auto audio = testing::tone(5.0, config.sample_rate, 1, hz);
    const int expected = static_cast<int>(std::lround((slaney_mel(hz) - lo) / step)) - 1;
    EXPECT_NEAR(loudest_band(log_mel(audio.data(), audio.size(), config)), expected, 1)
        << hz << " Hz";
  }
}

TEST(Features, BatchEqualsOneAtATime) {
  FeatureConfig config;
  std::vector<std::vector<float>> windows;
  for (double hz : {220.0, 880.0, 3520.0})
    windows.push_back(testing::tone(5.0, config.sample_rate, 1, hz));
  expect_batch_equals_one_at_a_time(windows, config, {0, 1, 2});
}

TEST(Features, PerSampleNormalisationGivesZeroMeanUnitVariance) {
  FeatureConfig config;
  const auto audio = testing::tone(5.0, config.sample_rate, 1, 440.0, 0.1);
  const auto s = log_mel(audio.data(), audio.size(), config);
  double sum = 0, sq = 0;
  for (float v : s.values) sum += v, sq += static_cast<double>(v) * v;
  const double mean = sum / s.values.size();
  EXPECT_NEAR(mean, 0.0, 1e-3);
  EXPECT_NEAR(sq / s.values.size() - mean * mean, 1.0, 1e-2);
}

TEST(Features, SilenceStaysFinite) {
  FeatureConfig config;
  const std::vector<float> silence(config.window_samples(), 0.0f);
  const auto s = log_mel(silence.data(), silence.size(), config);
  for (float v : s.values) ASSERT_TRUE(std::isfinite(v));
}

TEST(Features, KeyChangesWithEveryField) {
  const FeatureConfig base;
  std::vector<FeatureConfig> variants(9, base);
  variants[0].sample_rate = 16000;
  variants[1].seconds = 4.0;
  variants[2].n_mels = 64;
  variants[3].frames = 216;
  variants[4].n_fft = 1024;
  variants[5].fmin = 50;
  variants[6].fmax = 8000;
  variants[7].log_floor = 1e-6;
  variants[8].normalise = "none";
  std::set<std::string> keys{base.key()};
  for (const auto& v : variants) keys.insert(v.key());
  EXPECT_EQ(keys.size(), variants.size() + 1);
  EXPECT_EQ(base.key(), FeatureConfig{}.key());
}

TEST(Features, JsonRoundTrip) {
  FeatureConfig config;
  config.n_mels = 64;
  config.normalise = "none";
  const nlohmann::json j = config;
  const auto back = j.get<FeatureConfig>();
  EXPECT_EQ(back.key(), config.key());
  EXPECT_EQ(back.n_mels, 64);
}

TEST(Features, OddFftSizeIsRefusedByName) {
  EXPECT_THROW((void)nlohmann::json({{"n_fft", 1023}}).get<FeatureConfig>(), Error);
}

TEST(Features, WholeSpanColumnsEqualTheWindowWhenAligned) {
  // A window cut from a longer span's spectrogram at frame f equals the window's own log-mel,
  // away from the edges where the span has real audio and the window zeros.
  FeatureConfig config;
  config.normalise = "none";
  const int hop = config.hop(), n_fft = config.n_fft;
  const auto span = testing::tone(12.0, config.sample_rate, 1, 523.0, 0.4);
  const Spectrogram whole = log_mel_raw(span.data(), span.size(), config);
  EXPECT_EQ(whole.cols, 1 + static_cast<int>(span.size()) / hop);
  const int first = 40;
  const Spectrogram cut = columns(whole, first, config.frames);
  const Spectrogram own =
      log_mel(span.data() + static_cast<size_t>(first) * hop, config.window_samples(), config);
  const int inner = n_fft / 2 / hop + 1;  // frames that see past the window's own audio
  for (int r = 0; r < config.n_mels; ++r)
    for (int c = inner; c < config.frames - inner; ++c)
      ASSERT_NEAR(cut.values[r * config.frames + c], own.values[r * config.frames + c], 1e-4)
          << r << "," << c;
}

TEST(Features, ColumnsPastTheEndAreZeros) {
  Spectrogram s{2, 3, {1, 2, 3, 4, 5, 6}};
  const Spectrogram cut = columns(s, 1, 4);
  EXPECT_EQ(cut.values, (std::vector<float>{2, 3, 0, 0, 5, 6, 0, 0}));
}

TEST(Features, BadJsonNamesTheField) {
  auto message_of = [](const nlohmann::json& j) {
    return testing::error_of([&] { (void)j.get<FeatureConfig>(); });
  };
  EXPECT_NE(message_of({{"n_mels", "many"}}).find("n_mels"), std::string::npos);
  EXPECT_NE(message_of({{"n_mel", 64}}).find("unknown field 'n_mel'"), std::string::npos);
  EXPECT_NE(message_of({{"fmax", 20000}}).find("Nyquist"), std::string::npos);
  EXPECT_NE(message_of({{"normalise", "global"}}).find("normalise"), std::string::npos);
}

}  // namespace
}  // namespace sax
