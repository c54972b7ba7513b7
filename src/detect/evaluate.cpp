// Detection quality against ground truth: frame-level precision/recall/F1, clip accuracy of
// the per-file verdict, how many true segments were found with both ends within 1 s, and how
// many detected segments lie that close to a true one.
#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/time_ranges.h"
#include "detect/detect.h"
#include "labels/truth.h"

namespace sax::detect {

namespace fs = std::filesystem;

namespace {

bool inside_any(double t, const std::vector<std::pair<double, double>>& ranges) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [t](const auto& r) { return t >= r.first && t < r.second; });
}

std::string lead_at(double t, const SongTruth& song) {
  for (const auto& section : song.sections)
    if (t >= section.start && t < section.end)
      return section.instrument.empty() ? "none" : section.instrument;
  return "none";
}

double ratio(size_t part, size_t whole) { return whole ? static_cast<double>(part) / whole : 0.0; }

// The 2.5th and 97.5th percentiles of the matched share over 2,000 resamples of the files
// (with replacement). A fixed seed and our own index draw keep the output the same everywhere.
std::pair<double, double> bootstrap_interval(const std::vector<std::pair<size_t, size_t>>& files) {
  if (files.empty()) return {0.0, 0.0};
  constexpr int kResamples = 2000;
  std::mt19937_64 rng(20261126);
  std::vector<double> shares;
  shares.reserve(kResamples);
  for (int r = 0; r < kResamples; ++r) {
    size_t matched = 0, total = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      const auto& [m, t] = files[rng() % files.size()];
      matched += m;
      total += t;
    }
    shares.push_back(ratio(matched, total));
  }
  std::sort(shares.begin(), shares.end());
  return {shares[kResamples / 40], shares[kResamples - 1 - kResamples / 40]};
}

double f1(double precision, double recall) {
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

}  // namespace

Evaluator::Evaluator(double frame_seconds, double boundary_tolerance, double truth_gap)
    : frame_seconds_(frame_seconds), tolerance_(boundary_tolerance), truth_gap_(truth_gap) {}

void Evaluator::add(const Analysis& predicted, const SongTruth& song) {
  SongTruth truth = song;
  truth.sax = close_gaps(song.sax, truth_gap_);
  Evaluation& c = counts_;
  ++c.files;
  std::vector<std::pair<double, double>> detected;
  for (const auto& s : predicted.segments) detected.emplace_back(s.start, s.end);
  const auto frames = static_cast<size_t>(std::ceil(predicted.duration / frame_seconds_));
  for (size_t f = 0; f < frames; ++f) {
    const double centre = (f + 0.5) * frame_seconds_;
    const bool is_sax = inside_any(centre, truth.sax), said_sax = inside_any(centre, detected);
    c.true_positive_frames += is_sax && said_sax;
    c.false_positive_frames += !is_sax && said_sax;
    c.false_negative_frames += is_sax && !said_sax;
    auto& lead = c.by_lead[lead_at(centre, truth)];
    ++lead.frames;
    lead.correct += is_sax == said_sax;
  }
  const bool has_sax = !truth.sax.empty();
  (has_sax ? c.sax_files : c.clean_files) += 1;
  if (has_sax && predicted.sax) ++c.sax_files_found;
  if (!has_sax && !predicted.sax) ++c.clean_files_found;
  auto matches_one_of = [this](const std::pair<double, double>& segment, const auto& others) {
    return std::any_of(others.begin(), others.end(), [&](const auto& other) {
      return std::abs(other.first - segment.first) <= tolerance_ &&
             std::abs(other.second - segment.second) <= tolerance_;
    });
  };
  size_t matched = 0;
  for (const auto& passage : truth.sax) matched += matches_one_of(passage, detected);
  c.truth_segments += truth.sax.size();
  c.matched_segments += matched;
  for (const auto& segment : detected)
    c.matched_detected_segments += matches_one_of(segment, truth.sax);
  c.detected_segments += detected.size();
  if (has_sax) passages_by_file_.emplace_back(matched, truth.sax.size());
}

Evaluation Evaluator::result() const {
  Evaluation e = counts_;
  e.frame_precision =
      ratio(e.true_positive_frames, e.true_positive_frames + e.false_positive_frames);
  e.frame_recall = ratio(e.true_positive_frames, e.true_positive_frames + e.false_negative_frames);
  e.frame_f1 = f1(e.frame_precision, e.frame_recall);
  e.clip_accuracy = ratio(e.sax_files_found + e.clean_files_found, e.files);
  // Balanced accuracy averages the recall of each class present (one class: its recall).
  std::vector<double> recalls;
  if (e.sax_files) recalls.push_back(ratio(e.sax_files_found, e.sax_files));
  if (e.clean_files) recalls.push_back(ratio(e.clean_files_found, e.clean_files));
  double sum = 0;
  for (double r : recalls) sum += r;
  e.clip_balanced_accuracy = recalls.empty() ? 0.0 : sum / recalls.size();
  e.segments_within_1s = ratio(e.matched_segments, e.truth_segments);
  e.detected_segments_within_1s = ratio(e.matched_detected_segments, e.detected_segments);
  std::tie(e.segments_within_1s_low, e.segments_within_1s_high) =
      bootstrap_interval(passages_by_file_);
  return e;
}

namespace {
nlohmann::json by_lead_json(const Evaluation& e) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [lead, f] : e.by_lead)
    j[lead] = {{"frames", f.frames}, {"accuracy", ratio(f.correct, f.frames)}};
  return j;
}
}  // namespace

nlohmann::json to_json(const Evaluation& e) {
  // Resampling fewer than two sax songs has nothing to vary: no interval, as in format_human.
  const nlohmann::json interval =
      e.sax_files < 2 ? nlohmann::json(nullptr)
                      : nlohmann::json{e.segments_within_1s_low, e.segments_within_1s_high};
  return {{"frame_f1", e.frame_f1},
          {"frame_precision", e.frame_precision},
          {"frame_recall", e.frame_recall},
          {"clip_accuracy", e.clip_accuracy},
          {"clip_balanced_accuracy", e.clip_balanced_accuracy},
          {"segments_within_1s", e.segments_within_1s},
          {"segments_within_1s_interval", interval},
          {"files", e.files},
          {"sax_files", e.sax_files},
          {"clean_files", e.clean_files},
          {"truth_segments", e.truth_segments},
          {"matched_segments", e.matched_segments},
          {"detected_segments_within_1s", e.detected_segments_within_1s},
          {"detected_segments", e.detected_segments},
          {"matched_detected_segments", e.matched_detected_segments},
          {"by_lead", by_lead_json(e)}};
}

std::string format_human(const Evaluation& e) {
  std::string leads;
  for (const auto& [lead, f] : e.by_lead)
    leads +=
        fmt::format("{}{} {:.2f}", leads.empty() ? "" : ", ", lead, ratio(f.correct, f.frames));
  // Resampling one song always draws that song: its "interval" would be the point itself.
  const std::string interval =
      e.sax_files < 2
          ? fmt::format("{} with sax: no interval", e.sax_files ? "one song" : "no song")
          : fmt::format("95% interval over songs {:.0f}-{:.0f}%", 100 * e.segments_within_1s_low,
                        100 * e.segments_within_1s_high);
  return fmt::format(
      "files {} ({} with sax, {} without)\n"
      "frame precision {:.3f}  recall {:.3f}  F1 {:.3f}\n"
      "clip accuracy {:.3f}  balanced accuracy {:.3f}\n"
      "truth segments found with both ends within 1 s: {}/{} ({:.0f}%; {})\n"
      "detected segments with both ends within 1 s of a true one: {}/{} ({:.0f}%)\n"
      "frame accuracy by lead instrument: {}\n",
      e.files, e.sax_files, e.clean_files, e.frame_precision, e.frame_recall, e.frame_f1,
      e.clip_accuracy, e.clip_balanced_accuracy, e.matched_segments, e.truth_segments,
      100 * e.segments_within_1s, interval, e.matched_detected_segments, e.detected_segments,
      100 * e.detected_segments_within_1s, leads.empty() ? "-" : leads);
}

}  // namespace sax::detect
