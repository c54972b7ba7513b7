#pragma once
// Small SVG charts: line charts with axes, ticks, legend and shaded x-spans (training curves,
// ROC curves, detection timelines). Self-contained SVG text, no scripts, safe to inline in HTML.
//
//   sax::svg::LineChart chart;
//   chart.title = "Training";
//   chart.x.label = "epoch";
//   chart.series.push_back({"train loss", {{1, 0.69}, {2, 0.41}}});
//   sax::svg::write("training.svg", chart);
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace sax::svg {

struct Series {
  std::string name;  // shown in the legend (empty: not listed)
  std::vector<std::pair<double, double>> points;
  std::string colour;  // CSS colour; empty: the next colour of the palette
  bool dashed = false;
};

// A shaded span of x (e.g. where the saxophone plays).
struct Band {
  double from = 0, to = 0;
  std::string colour = "#f4a261";
  double opacity = 0.35;
};

struct Axis {
  std::string label;
  bool fixed = false;  // use min/max below instead of fitting the data
  double min = 0, max = 1;
};

struct LineChart {
  std::string title;
  Axis x, y;
  std::vector<Series> series;
  std::vector<Band> bands;
  int width = 640, height = 400;
};

std::string render(const LineChart& chart);
void write(const std::filesystem::path& path, const LineChart& chart);  // throws sax::Error

// ROC curve with the chance diagonal, both axes 0..1, AUC in the title.
LineChart roc_chart(const std::vector<std::pair<double, double>>& roc, double auc);

// "Nice" tick positions (1, 2 or 5 x 10^k steps) covering [lo, hi], about `count` of them.
std::vector<double> nice_ticks(double lo, double hi, int count = 6);

// Escapes &, <, >, " for SVG text and attributes.
std::string escape(const std::string& text);

}  // namespace sax::svg
