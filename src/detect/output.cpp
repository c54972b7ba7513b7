// Analyses for people (timeline bar, mm:ss segments) and machines (JSON, CSV).
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/progress.h"
#include "detect/detect.h"

namespace sax::detect {

namespace {

// Millisecond precision is all a listener or a plot can use; it keeps the JSON readable.
double rounded(double value, double unit = 1e-3) { return std::round(value / unit) * unit; }

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string csv_row(const std::string& file, const char* kind, double start, double end,
                    double probability, bool sax) {
  return fmt::format("{},{},{:.3f},{:.3f},{:.4f},{}\n", csv_field(file), kind, start, end,
                     probability, sax ? 1 : 0);
}

// Seconds of [from, to) covered by segments.
double covered(const std::vector<Segment>& segments, double from, double to) {
  double total = 0;
  for (const auto& s : segments)
    total += std::max(0.0, std::min(to, s.end) - std::max(from, s.start));
  return total;
}

}  // namespace

std::string mmss(double seconds) { return format_duration(seconds); }

nlohmann::json to_json(const Analysis& a) {
  nlohmann::json segments = nlohmann::json::array();
  for (const auto& s : a.segments)
    segments.push_back({{"start", rounded(s.start)},
                        {"end", rounded(s.end)},
                        {"probability", rounded(s.probability)}});
  nlohmann::json windows = nlohmann::json::array();
  for (const auto& w : a.windows)
    windows.push_back({{"start", rounded(w.start)},
                       {"end", rounded(w.end)},
                       {"probability", rounded(w.probability)}});
  return {{"file", a.file},
          {"duration", rounded(a.duration)},
          {"sax", a.sax},
          {"probability", rounded(a.probability)},
          {"mean_probability", rounded(a.mean_probability)},
          {"sax_share", rounded(a.sax_share)},
          {"threshold", rounded(a.threshold)},
          {"model", a.scorer},
          {"segments", std::move(segments)},
          {"windows", std::move(windows)}};
}

nlohmann::json error_json(const std::string& file, const std::string& message) {
  return {{"file", file}, {"error", message}};
}

std::string csv_header() { return "file,kind,start,end,probability,sax\n"; }

std::string to_csv(const Analysis& a) {
  std::string out = csv_row(a.file, "file", 0, a.duration, a.probability, a.sax);
  for (const auto& s : a.segments)
    out += csv_row(a.file, "segment", s.start, s.end, s.probability, true);
  for (const auto& w : a.windows)
    out += csv_row(a.file, "window", w.start, w.end, w.probability, w.probability >= a.threshold);
  return out;
}

std::string timeline_bar(const Analysis& a, int width) {
  std::string bar;
  if (width <= 0 || a.duration <= 0) return bar;
  const double cell = a.duration / width;
  for (int c = 0; c < width; ++c) {
    const double from = c * cell, to = from + cell;
    // A cell shows sax when segments fill half of it, or a segment starts in it (so even a
    // short segment in a long file stays visible).
    bool starts_here = std::any_of(a.segments.begin(), a.segments.end(), [&](const Segment& s) {
      return s.start >= from && s.start < to;
    });
    bar += covered(a.segments, from, to) >= cell / 2 || starts_here ? '#' : '-';
  }
  return bar;
}

std::string format_human(const Analysis& a, int bar_width) {
  std::string out =
      fmt::format("{}  {}  {}  (probability {:.2f}, sax {:.0f}% of the time)\n", a.file,
                  mmss(a.duration), a.sax ? "SAX" : "no sax", a.probability, 100 * a.sax_share);
  const std::string end_label = mmss(a.duration);
  out += fmt::format("  |{}|\n", timeline_bar(a, bar_width));
  out += fmt::format("  0:00{:>{}}\n", end_label, std::max<int>(1, bar_width + 2 - 4));
  for (const auto& s : a.segments)
    out += fmt::format("  sax {} - {}  (probability {:.2f})\n", mmss(s.start), mmss(s.end),
                       s.probability);
  return out;
}

}  // namespace sax::detect
