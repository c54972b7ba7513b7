#include "common/time_ranges.h"

#include <algorithm>

namespace sax {

double covered_seconds(const std::vector<TimeRange>& ranges, double start, double end) {
  double total = 0;
  for (const auto& [from, to] : ranges)
    total += std::max(0.0, std::min(to, end) - std::max(from, start));
  return total;
}

std::vector<float> coverage(const std::vector<TimeRange>& ranges, double start, double duration,
                            int bins) {
  std::vector<float> shares(static_cast<size_t>(std::max(0, bins)));
  const double width = bins > 0 ? duration / bins : 0;
  for (size_t i = 0; i < shares.size() && width > 0; ++i) {
    const double from = start + static_cast<double>(i) * width;
    shares[i] =
        static_cast<float>(std::min(1.0, covered_seconds(ranges, from, from + width) / width));
  }
  return shares;
}

std::vector<TimeRange> close_gaps(std::vector<TimeRange> ranges, double gap) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<TimeRange> out;
  for (const auto& r : ranges)
    if (!out.empty() && r.first - out.back().second < gap)
      out.back().second = std::max(out.back().second, r.second);
    else
      out.push_back(r);
  return out;
}

}  // namespace sax
