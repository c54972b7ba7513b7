#include "model/assess.h"

#include <fmt/format.h>

#include "audio/audio.h"
#include "common/error.h"
#include "common/progress.h"

namespace sax {

namespace {
constexpr size_t kBatch = 32;  // windows scored at once
}  // namespace

Assessment assess(Store& store, const Home& home, Scorer& scorer, bool quiet) {
  std::vector<LabeledSample> samples;
  for (auto& s : store.labeled_samples())
    if (s.label == Label::sax || s.label == Label::not_sax) samples.push_back(std::move(s));
  if (samples.empty())
    throw Error(fmt::format("{}: no sample is labelled sax or not_sax", home.root.string()));
  Progress progress("assess", samples.size(),
                    quiet ? Progress::Mode::never : Progress::Mode::automatic);
  std::vector<float> probabilities;
  std::vector<int> labels;
  for (size_t first = 0; first < samples.size(); first += kBatch) {
    std::vector<std::vector<float>> windows;
    double seconds = 0;
    for (size_t i = first; i < std::min(samples.size(), first + kBatch); ++i) {
      const auto& s = samples[i];
      try {
        windows.push_back(decode_mono(home.inside(s.sample.path), scorer.sample_rate()));
      } catch (const Error& e) {
        throw Error(fmt::format("sample {}: {}", s.sample.id, e.what()));
      }
      seconds += s.sample.duration;
      labels.push_back(s.label == Label::sax ? 1 : 0);
    }
    const auto p = scorer.score_windows(windows);
    probabilities.insert(probabilities.end(), p.begin(), p.end());
    progress.advance(windows.size(), seconds);
  }
  progress.finish();
  Assessment a;
  a.samples = samples.size();
  a.metrics = compute_metrics(probabilities, labels, scorer.threshold());
  a.best_threshold = choose_threshold(probabilities, labels);
  a.at_best_threshold = compute_metrics(probabilities, labels, a.best_threshold);
  a.roc = roc_curve(probabilities, labels);
  return a;
}

}  // namespace sax
