// From per-window probabilities to segments: median filter, hysteresis, gap merging,
// minimum length. See detect.h for the order and the timing of each window's slot.
#include <algorithm>
#include <cmath>

#include "common/time_ranges.h"
#include "detect/detect.h"

namespace sax::detect {

namespace {

struct Run {
  size_t first = 0, last = 0;  // window indices, inclusive
};

// Hysteresis as a double threshold: a run is a stretch where the value stays at or above `exit`
// that reaches `enter` somewhere. Both ends sit on the `exit` contour, so a phrase's onset is
// placed where its rise begins, as its end is where its decay ends, and not late by the time
// the curve takes to climb from `exit` to `enter` (which widens the rests between phrases).
// A NaN compares false both ways, so it is tested as "not at or above": it ends a run, and the
// scan always moves on (a `< exit` test would neither skip it nor start a run on it).
std::vector<Run> hysteresis_runs(const std::vector<float>& values, double enter, double exit) {
  std::vector<Run> runs;
  size_t i = 0;
  while (i < values.size()) {
    if (!(values[i] >= exit)) {
      ++i;
      continue;
    }
    Run run{i, i};
    bool reaches_enter = false;
    for (; i < values.size() && values[i] >= exit; ++i) {
      run.last = i;
      reaches_enter = reaches_enter || values[i] >= enter;
    }
    if (reaches_enter) runs.push_back(run);
  }
  return runs;
}

// The hop-long slot a window stands for: centred on the window, the outer ones stretched to
// the file's ends so a sax stretch at the very start or end is not cut short.
struct Slots {
  double hop, window, duration;
  size_t count;
  double start(size_t i) const {
    return i == 0 ? 0.0 : std::clamp(i * hop + (window - hop) / 2, 0.0, duration);
  }
  double end(size_t i) const {
    return i + 1 == count ? duration : std::clamp(i * hop + (window + hop) / 2, 0.0, duration);
  }
};

// Mean raw probability of the windows whose slot centre lies inside the segment.
double mean_inside(const Segment& segment, const std::vector<float>& probabilities,
                   const Slots& slots) {
  double sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const double centre = (slots.start(i) + slots.end(i)) / 2;
    if (centre >= segment.start && centre <= segment.end && std::isfinite(probabilities[i])) {
      sum += probabilities[i];
      ++n;
    }
  }
  return n ? sum / n : 0.0;
}

}  // namespace

std::vector<float> median_filter(const std::vector<float>& values, int length) {
  if (length <= 1 || values.size() < 2) return values;
  const size_t half = static_cast<size_t>(length / 2);
  std::vector<float> out(values.size());
  std::vector<float> window;
  // NaN breaks the strict weak ordering nth_element relies on (undefined behaviour): it sorts
  // below every number here, as if it were no evidence of a saxophone.
  const auto less = [](float a, float b) { return std::isnan(a) ? !std::isnan(b) : a < b; };
  for (size_t i = 0; i < values.size(); ++i) {
    // Near the ends the window shrinks symmetrically, so edges are not biased toward zero.
    const size_t reach = std::min({half, i, values.size() - 1 - i});
    window.assign(values.begin() + (i - reach), values.begin() + (i + reach + 1));
    std::nth_element(window.begin(), window.begin() + reach, window.end(), less);
    out[i] = window[reach];
  }
  return out;
}

double default_exit(double enter) {
  // A fixed margin below a small threshold would reach 0, where every window qualifies and a
  // segment never ends (a calibrated zero-shot threshold can be 0.02). Half the threshold keeps
  // exit above 0 whenever enter is, and equals the fixed margin at enter = 0.3.
  return std::max(enter - kExitMargin, enter / 2);
}

std::vector<Segment> segments_from_probabilities(const std::vector<float>& probabilities,
                                                 double hop, double window, double duration,
                                                 const Smoothing& smoothing, double enter) {
  const double exit = smoothing.exit >= 0 ? smoothing.exit : default_exit(enter);
  const auto smoothed = median_filter(probabilities, smoothing.median_windows);
  const Slots slots{hop, window, duration, probabilities.size()};
  std::vector<TimeRange> raw;
  for (const Run& run : hysteresis_runs(smoothed, enter, std::min(exit, enter)))
    raw.emplace_back(slots.start(run.first), slots.end(run.last));
  std::vector<Segment> kept;
  for (const auto& [start, end] : close_gaps(std::move(raw), smoothing.merge_gap)) {
    if (end - start < smoothing.min_segment) continue;
    Segment s{start, end, 0.0};
    s.probability = mean_inside(s, probabilities, slots);
    kept.push_back(s);
  }
  return kept;
}

}  // namespace sax::detect
