#include "model/features.h"

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
  const auto batch = log_mel_batch(windows, config);
  ASSERT_EQ(batch.size(), 3u);
  for (size_t i = 0; i < windows.size(); ++i) {
    const auto single = log_mel(windows[i].data(), windows[i].size(), config);
    ASSERT_EQ(single.values.size(), batch[i].values.size());
    for (size_t k = 0; k < single.values.size(); ++k)
      ASSERT_NEAR(single.values[k], batch[i].values[k], 1e-4) << "window " << i << " value " << k;
  }
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

TEST(Features, BadJsonNamesTheField) {
  auto message_of = [](const nlohmann::json& j) {
    try {
      (void)j.get<FeatureConfig>();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message_of({{"n_mels", "many"}}).find("n_mels"), std::string::npos);
  EXPECT_NE(message_of({{"n_mel", 64}}).find("unknown field 'n_mel'"), std::string::npos);
  EXPECT_NE(message_of({{"fmax", 20000}}).find("Nyquist"), std::string::npos);
  EXPECT_NE(message_of({{"normalise", "global"}}).find("normalise"), std::string::npos);
}

}  // namespace
}  // namespace sax
