#pragma once
// Stretches of time in a recording, e.g. where a saxophone sounds: [start, end] seconds.
#include <utility>
#include <vector>

namespace sax {

using TimeRange = std::pair<double, double>;  // [start, end] seconds

// Seconds of [start, end) that the ranges cover (ranges assumed not to overlap each other).
double covered_seconds(const std::vector<TimeRange>& ranges, double start, double end);

// [start, start + duration) cut into `bins` equal parts: the share (0..1) of each that the
// ranges cover. What a window's time steps are trained towards when the truth is known.
std::vector<float> coverage(const std::vector<TimeRange>& ranges, double start, double duration,
                            int bins);

// The ranges sorted, with gaps shorter than `gap` seconds closed: phrases a breath apart become
// one passage, the unit detection reports (its merge gap) and is measured against.
std::vector<TimeRange> close_gaps(std::vector<TimeRange> ranges, double gap);

}  // namespace sax
