// --plot: the sax probability curve, threshold and segments drawn over the log-mel overview.
// PNG is drawn pixel by pixel; SVG embeds the spectrogram as a PNG and draws vector lines.
#include <algorithm>
#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "common/error.h"
#include "detect/detect.h"
#include "plot/image.h"

namespace sax::detect {

namespace {

constexpr int kWidth = 1000;
constexpr int kSpectrogramHeight = 240;
constexpr int kBandHeight = 16;  // the segment band under the spectrogram
constexpr Rgb kCurve{255, 255, 255}, kThreshold{255, 200, 0}, kSegment{40, 200, 90},
    kBand{30, 30, 40};

// The overview stretched (nearest neighbour) to width x height; black when there is none.
Image spectrogram_image(const Overview& overview, int width, int height) {
  Image out(width, height);
  const Spectrogram& s = overview.spectrogram;
  if (s.rows == 0 || s.cols == 0) return out;
  Image source = heatmap(s.values, s.rows, s.cols, 1);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      out.at(x, y) = source.at(x * source.width / width, y * source.height / height);
  return out;
}

// y pixel of probability p in the spectrogram area (p = 1 at the top).
int probability_y(double p) {
  return std::clamp(static_cast<int>(std::lround((1 - p) * (kSpectrogramHeight - 1))), 0,
                    kSpectrogramHeight - 1);
}

struct CurvePoint {
  double seconds, probability;
};

// The curve the segments were cut from: a frame model's step timeline, averaged per pixel column
// (a 5-minute song has about 6,500 quarter-step slots for 1,000 pixels), else the windows at
// their centres.
std::vector<CurvePoint> curve(const Analysis& a) {
  std::vector<CurvePoint> points;
  if (a.timeline.empty() || a.timeline_slot <= 0) {
    for (const auto& w : a.windows) points.push_back({(w.start + w.end) / 2, w.probability});
    return points;
  }
  const double column_seconds = std::max(a.duration, 1e-9) / kWidth;
  double sum = 0;
  size_t count = 0;
  long column = -1;
  for (size_t k = 0; k < a.timeline.size(); ++k) {
    const long c = static_cast<long>((k + 0.5) * a.timeline_slot / column_seconds);
    if (c != column && count > 0) {
      points.push_back({(column + 0.5) * column_seconds, sum / count});
      sum = 0;
      count = 0;
    }
    column = c;
    sum += a.timeline[k];
    ++count;
  }
  if (count > 0) points.push_back({(column + 0.5) * column_seconds, sum / count});
  return points;
}

void draw_line(Image& image, int x0, int y0, int x1, int y1, Rgb colour) {
  const int steps = std::max({std::abs(x1 - x0), std::abs(y1 - y0), 1});
  for (int i = 0; i <= steps; ++i) {
    const int x = x0 + (x1 - x0) * i / steps, y = y0 + (y1 - y0) * i / steps;
    if (x >= 0 && x < image.width && y >= 0 && y < image.height) image.at(x, y) = colour;
  }
}

Image draw_png(const Analysis& a) {
  Image image(kWidth, kSpectrogramHeight + kBandHeight);
  const Image spectrogram = spectrogram_image(a.overview, kWidth, kSpectrogramHeight);
  std::copy(spectrogram.pixels.begin(), spectrogram.pixels.end(), image.pixels.begin());
  const double seconds = std::max(a.duration, 1e-9);
  auto x_of = [&](double t) { return static_cast<int>(std::lround(t / seconds * (kWidth - 1))); };
  for (int x = 0; x < kWidth; x += 6)
    draw_line(image, x, probability_y(a.threshold), x + 2, probability_y(a.threshold), kThreshold);
  const auto points = curve(a);
  for (size_t i = 1; i < points.size(); ++i)
    draw_line(image, x_of(points[i - 1].seconds), probability_y(points[i - 1].probability),
              x_of(points[i].seconds), probability_y(points[i].probability), kCurve);
  for (int y = kSpectrogramHeight; y < image.height; ++y)
    for (int x = 0; x < kWidth; ++x) image.at(x, y) = kBand;
  for (const auto& s : a.segments)
    for (int y = kSpectrogramHeight + 2; y < image.height - 2; ++y)
      for (int x = x_of(s.start); x <= std::min(kWidth - 1, x_of(s.end)); ++x)
        image.at(x, y) = kSegment;
  return image;
}

std::string base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(v >> shift) & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string plot_svg(const Analysis& a) {
  const int height = kSpectrogramHeight + kBandHeight;
  const double seconds = std::max(a.duration, 1e-9);
  auto x_of = [&](double t) { return t / seconds * kWidth; };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" "
      "height=\"{1}\">\n<title>{2}: sax probability</title>\n<rect width=\"{0}\" height=\"{1}\" "
      "fill=\"#1e1e28\"/>\n",
      kWidth, height, xml_escape(a.file));
  if (a.overview.spectrogram.cols > 0)
    svg += fmt::format(
        "<image x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" "
        "href=\"data:image/png;base64,{}\"/>\n",
        kWidth, kSpectrogramHeight,
        base64(encode_png(spectrogram_image(a.overview, kWidth, kSpectrogramHeight))));
  svg += fmt::format(
      "<line class=\"threshold\" x1=\"0\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#ffc800\" "
      "stroke-dasharray=\"4 4\"/>\n",
      kWidth, probability_y(a.threshold), probability_y(a.threshold));
  svg +=
      "<polyline class=\"probability\" fill=\"none\" stroke=\"white\" stroke-width=\"1.5\" "
      "points=\"";
  for (const auto& point : curve(a))
    svg += fmt::format("{:.1f},{} ", x_of(point.seconds), probability_y(point.probability));
  svg += "\"/>\n";
  for (const auto& s : a.segments)
    svg += fmt::format(
        "<rect class=\"segment\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" "
        "fill=\"#28c85a\">"
        "<title>sax {} - {} (probability {:.2f})</title></rect>\n",
        x_of(s.start), kSpectrogramHeight + 2, x_of(s.end) - x_of(s.start), kBandHeight - 4,
        mmss(s.start), mmss(s.end), s.probability);
  return svg + "</svg>\n";
}

void write_plot(const std::filesystem::path& path, const Analysis& analysis) {
  const std::string extension = path.extension().string();
  if (extension == ".png") return write_png(path, draw_png(analysis));
  if (extension != ".svg")
    throw Error(fmt::format("{}: --plot needs a .png or .svg file name", path.string()));
  std::ofstream out(path);
  out << plot_svg(analysis);
  if (!out) throw Error(fmt::format("{}: cannot write the plot", path.string()));
}

}  // namespace sax::detect
