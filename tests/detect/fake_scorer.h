#pragma once
// A Scorer for tests that needs no model: the "saxophone" is a 1 kHz tone. Each 10 ms block of
// a window counts as sax when its 1 kHz component is loud, and the window's probability is the
// share of such blocks, so a window is >= 0.5 exactly when sax fills at least half of it.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "infer/detector.h"
#include "support/testing.h"

namespace sax::testing {

constexpr int kFakeRate = 8000;
constexpr double kSaxHz = 1000, kBackgroundHz = 300;  // whole cycles in a 10 ms block

class ToneScorer : public Scorer {
 public:
  explicit ToneScorer(double window_seconds = 2.0)
      : window_(static_cast<size_t>(window_seconds * kFakeRate)) {}

  std::string name() const override { return "tone"; }
  int sample_rate() const override { return kFakeRate; }
  size_t window_samples() const override { return window_; }
  double threshold() const override { return 0.5; }

  std::vector<float> score_sliding(const float* audio, size_t count, size_t hop) override {
    ++calls;
    largest_call = std::max(largest_call, count);
    std::vector<float> out;
    for (size_t start = 0; start + window_ <= count; start += hop)
      out.push_back(score(audio + start, window_));
    return out;
  }

  std::vector<float> score_windows(const std::vector<std::vector<float>>& windows) override {
    std::vector<float> out;
    for (auto w : windows) {
      w.resize(window_, 0.0f);
      out.push_back(score(w.data(), w.size()));
    }
    return out;
  }

  size_t calls = 0;         // score_sliding calls
  size_t largest_call = 0;  // most samples passed to one call (bounded memory)

 private:
  static constexpr size_t kBlock = kFakeRate / 100;

  static bool block_has_sax(const float* x) {
    double c = 0, s = 0;
    for (size_t i = 0; i < kBlock; ++i) {
      const double phase = 2 * M_PI * kSaxHz * static_cast<double>(i) / kFakeRate;
      c += x[i] * std::cos(phase);
      s += x[i] * std::sin(phase);
    }
    return 2 * std::sqrt(c * c + s * s) / kBlock > 0.1;  // amplitude of the 1 kHz part
  }

 protected:
  float score(const float* x, size_t n) const {
    size_t sax = 0, blocks = n / kBlock;
    for (size_t b = 0; b < blocks; ++b) sax += block_has_sax(x + b * kBlock);
    return blocks ? static_cast<float>(sax) / blocks : 0.0f;
  }

  size_t window_;
};

// The tone scorer as a frame model: each window also reports a probability per 0.2 s step.
class StepToneScorer : public ToneScorer {
 public:
  using ToneScorer::ToneScorer;
  static constexpr double kStep = 0.2;

  double step_seconds() const override { return kStep; }
  std::vector<float> score_sliding_steps(const float* audio, size_t count, size_t hop,
                                         std::vector<float>& steps) override {
    const auto step = static_cast<size_t>(kStep * kFakeRate);
    steps.clear();
    for (size_t start = 0; start + window_ <= count; start += hop)
      for (size_t j = 0; j + step <= window_; j += step)
        steps.push_back(score(audio + start + j, step));
    return score_sliding(audio, count, hop);
  }
};

// `seconds` of a quiet 300 Hz background with a 1 kHz "saxophone" during each [start, end).
inline std::vector<float> song_with_sax(double seconds,
                                        const std::vector<std::pair<double, double>>& sax) {
  std::vector<float> audio = tone(seconds, kFakeRate, 1, kBackgroundHz, 0.3);
  for (const auto& [start, end] : sax)
    for (size_t i = static_cast<size_t>(start * kFakeRate); i < end * kFakeRate && i < audio.size();
         ++i)
      audio[i] += static_cast<float>(0.4 * std::sin(2 * M_PI * kSaxHz * i / kFakeRate));
  return audio;
}

}  // namespace sax::testing
