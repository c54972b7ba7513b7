#pragma once
// A toy library for the training tests: each song is a run of sample-long stretches, each a
// reed-like harmonic tone with vibrato (sax) or a low hum (not sax) under a little noise.
// Stretch k of song `song` is sax when song + k is even, so every song has both classes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace sax::testing {

inline bool reed_song_is_sax(int song, int k) { return (song + k) % 2 == 0; }

// `stretches` stretches of `seconds` at `rate`; the noise is drawn from seed song + noise_seed.
inline std::vector<float> reed_song(int song, int stretches, double seconds, int rate,
                                    uint64_t noise_seed) {
  std::mt19937_64 rng(static_cast<uint64_t>(song) + noise_seed);
  std::normal_distribution<double> noise(0.0, 0.01);
  const auto per_stretch = static_cast<size_t>(seconds * rate);
  std::vector<float> audio(per_stretch * stretches);
  const double reed_hz = 220 + 25 * song, hum_hz = 70 + 5 * song;
  double phase = 0;
  for (size_t i = 0; i < audio.size(); ++i) {
    const double t = static_cast<double>(i) / rate;
    double v = noise(rng);
    if (reed_song_is_sax(song, static_cast<int>(i / per_stretch))) {
      phase += 2 * M_PI * reed_hz * (1 + 0.01 * std::sin(2 * M_PI * 5 * t)) / rate;
      for (int h = 1; h <= 10; ++h) v += 0.3 / h * std::sin(h * phase);
    } else {
      v += 0.3 * std::sin(2 * M_PI * hum_hz * t);
    }
    audio[i] = static_cast<float>(v);
  }
  return audio;
}

}  // namespace sax::testing
