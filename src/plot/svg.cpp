#include "plot/svg.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "common/error.h"

namespace sax::svg {

namespace {

// Colour-blind-safe palette (Okabe-Ito).
const char* const kPalette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                "#e69f00", "#56b4e9", "#000000", "#f0e442"};
constexpr double kLeft = 60, kRight = 20, kTop = 36, kBottom = 48;

struct Range {
  double lo = 0, hi = 1;
};

Range data_range(const LineChart& chart, bool x_axis) {
  const Axis& axis = x_axis ? chart.x : chart.y;
  if (axis.fixed) return {axis.min, axis.max};
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : chart.series)
    for (const auto& [x, y] : s.points) {
      const double v = x_axis ? x : y;
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  if (x_axis)
    for (const auto& b : chart.bands) lo = std::min(lo, b.from), hi = std::max(hi, b.to);
  if (!std::isfinite(lo)) return {0, 1};
  if (hi - lo < 1e-12) return {lo - 0.5, hi + 0.5};
  return {lo, hi};
}

std::string format_tick(double v) {
  if (v == 0) return "0";
  return std::abs(v) >= 1e4 || std::abs(v) < 1e-3 ? fmt::format("{:.1e}", v)
                                                  : fmt::format("{:g}", v);
}

class Canvas {
 public:
  Canvas(const LineChart& chart, Range xr, Range yr) : chart_(chart), xr_(xr), yr_(yr) {}
  double px(double x) const {
    return kLeft + (x - xr_.lo) / (xr_.hi - xr_.lo) * (chart_.width - kLeft - kRight);
  }
  double py(double y) const {
    return chart_.height - kBottom -
           (y - yr_.lo) / (yr_.hi - yr_.lo) * (chart_.height - kTop - kBottom);
  }

 private:
  const LineChart& chart_;
  Range xr_, yr_;
};

void draw_axes(std::string& out, const LineChart& chart, const Canvas& c, Range xr, Range yr) {
  const double x0 = kLeft, x1 = chart.width - kRight, y0 = chart.height - kBottom, y1 = kTop;
  for (double t : nice_ticks(xr.lo, xr.hi)) {
    out += fmt::format(
        R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#e5e5e5"/>)", c.px(t),
        y0, y1);
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)", c.px(t),
                       y0 + 16, format_tick(t));
  }
  for (double t : nice_ticks(yr.lo, yr.hi)) {
    out += fmt::format(
        R"(<line x1="{1:.1f}" y1="{0:.1f}" x2="{2:.1f}" y2="{0:.1f}" stroke="#e5e5e5"/>)", c.py(t),
        x0, x1);
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end">{}</text>)", x0 - 6,
                       c.py(t) + 4, format_tick(t));
  }
  out += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#333"/>)",
                     x0, y1, x1 - x0, y0 - y1);
  out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)", (x0 + x1) / 2,
                     chart.height - 10.0, escape(chart.x.label));
  out += fmt::format(
      R"svg(<text transform="translate(14 {:.1f}) rotate(-90)" text-anchor="middle">{}</text>)svg",
      (y0 + y1) / 2, escape(chart.y.label));
  out += fmt::format(
      R"(<text x="{:.1f}" y="22" text-anchor="middle" font-size="14" font-weight="bold">{}</text>)",
      chart.width / 2.0, escape(chart.title));
}

void draw_series(std::string& out, const LineChart& chart, const Canvas& c) {
  int legend_row = 0;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const auto& s = chart.series[i];
    const std::string colour = s.colour.empty() ? kPalette[i % std::size(kPalette)] : s.colour;
    std::string points;
    for (const auto& [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y))
        points += fmt::format("{:.1f},{:.1f} ", c.px(x), c.py(y));
    out += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>)",
                       colour, s.dashed ? R"( stroke-dasharray="6 4")" : "", points);
    if (s.name.empty()) continue;
    const double lx = chart.width - kRight - 150, ly = kTop + 14 + 16.0 * legend_row++;
    out += fmt::format(
        R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2"{}/>)",
        lx, ly - 4, lx + 18, ly - 4, colour, s.dashed ? R"( stroke-dasharray="6 4")" : "");
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}">{}</text>)", lx + 24, ly, escape(s.name));
  }
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo) || count < 2) return {lo};
  const double magnitude = std::pow(10.0, std::floor(std::log10((hi - lo) / (count - 1))));
  auto ticks_with = [&](double step) {
    std::vector<double> ticks;
    for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
      ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    return ticks;
  };
  // Of the round steps (1, 2, 5, 10 x 10^k), the one giving the tick count nearest `count`.
  std::vector<double> best;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    auto ticks = ticks_with(m * magnitude);
    const auto miss = [&](const std::vector<double>& t) {
      return std::abs(static_cast<int>(t.size()) - count);
    };
    if (best.empty() || miss(ticks) < miss(best)) best = std::move(ticks);
  }
  return best;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string render(const LineChart& chart) {
  const Range xr = data_range(chart, true), yr = data_range(chart, false);
  const Canvas c(chart, xr, yr);
  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" font-family="sans-serif" font-size="11">)",
      chart.width, chart.height);
  out += fmt::format(R"(<rect width="{}" height="{}" fill="white"/>)", chart.width, chart.height);
  for (const auto& b : chart.bands)
    out += fmt::format(
        R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" fill-opacity="{}"/>)",
        c.px(b.from), kTop, std::max(0.0, c.px(b.to) - c.px(b.from)), chart.height - kTop - kBottom,
        b.colour, b.opacity);
  draw_axes(out, chart, c, xr, yr);
  draw_series(out, chart, c);
  out += "</svg>\n";
  return out;
}

void write(const std::filesystem::path& path, const LineChart& chart) {
  const std::string text = render(chart);
  std::ofstream out(path);
  out << text;
  if (!out) throw Error(fmt::format("{}: cannot write the chart", path.string()));
}

LineChart roc_chart(const std::vector<std::pair<double, double>>& roc, double auc) {
  LineChart chart;
  chart.title = fmt::format("ROC curve (AUC {:.3f})", auc);
  chart.x = {"false positive rate", true, 0, 1};
  chart.y = {"true positive rate", true, 0, 1};
  chart.series.push_back({"model", roc, "", false});
  chart.series.push_back({"chance", {{0, 0}, {1, 1}}, "#999999", true});
  return chart;
}

}  // namespace sax::svg
