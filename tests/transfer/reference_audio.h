#pragma once
// YAMNet's front end computed from first principles, in double precision, for tests: framing
// (25 ms window, 10 ms hop at 16 kHz), periodic Hann window, exact DFT magnitude of the window
// centred in 512 points, an HTK mel filterbank (64 bands, 125-7500 Hz), log(mel + 0.001).
#include <cmath>
#include <cstddef>
#include <vector>

namespace sax::testing {

// Mel filterbank weights [64][257] as tf.signal.linear_to_mel_weight_matrix defines them.
inline std::vector<std::vector<double>> htk_mel_matrix() {
  const int bands = 64, bins = 257;
  auto mel = [](double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); };
  const double low = mel(125.0), high = mel(7500.0);
  std::vector<double> edges(bands + 2);
  for (int i = 0; i < bands + 2; ++i) edges[i] = low + (high - low) * i / (bands + 1);
  std::vector<std::vector<double>> weights(bands, std::vector<double>(bins, 0.0));
  for (int b = 0; b < bands; ++b)
    for (int k = 1; k < bins; ++k) {  // the DC bin carries no weight
      const double m = mel(8000.0 * k / (bins - 1));
      const double rising = (m - edges[b]) / (edges[b + 1] - edges[b]);
      const double falling = (edges[b + 2] - m) / (edges[b + 2] - edges[b + 1]);
      weights[b][k] = std::max(0.0, std::min(rising, falling));
    }
  return weights;
}

// Log-mel frames [frames][64] of 16 kHz audio.
inline std::vector<std::vector<double>> reference_log_mel(const std::vector<float>& audio) {
  const int window = 400, hop = 160, fft = 512, bins = 257;
  const auto mel = htk_mel_matrix();
  const size_t frames = audio.size() < window ? 0 : (audio.size() - window) / hop + 1;
  std::vector<std::vector<double>> out;
  for (size_t f = 0; f < frames; ++f) {
    std::vector<double> magnitude(bins);
    for (int k = 0; k < bins; ++k) {
      double re = 0, im = 0;
      for (int n = 0; n < window; ++n) {
        const double w = 0.5 - 0.5 * std::cos(2 * M_PI * n / window);
        const double x = w * audio[f * hop + n];
        const double angle = 2 * M_PI * k * (n + (fft - window) / 2) / fft;
        re += x * std::cos(angle);
        im -= x * std::sin(angle);
      }
      magnitude[k] = std::sqrt(re * re + im * im);
    }
    std::vector<double> row(mel.size());
    for (size_t b = 0; b < mel.size(); ++b) {
      double energy = 0;
      for (int k = 0; k < bins; ++k) energy += mel[b][k] * magnitude[k];
      row[b] = std::log(energy + 0.001);
    }
    out.push_back(row);
  }
  return out;
}

// A reproducible test signal: two tones and a little noise, 16 kHz.
inline std::vector<float> chord(size_t samples, unsigned seed = 1) {
  std::vector<float> out(samples);
  unsigned state = seed;
  for (size_t i = 0; i < samples; ++i) {
    state = state * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(state >> 8) / (1u << 24) - 0.5) * 0.05;
    out[i] =
        static_cast<float>(0.3 * std::sin(2 * M_PI * 440.0 * i / 16000) +
                           0.2 * std::sin(2 * M_PI * (1000.0 + 200 * seed) * i / 16000) + noise);
  }
  return out;
}

}  // namespace sax::testing
