#pragma once
// Pictures people look at: RGB images written as PNG, and perceptual colour maps for
// spectrograms. Charts (curves, ROC, timelines) are SVG, see plot/svg.h.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sax {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

struct Image {
  int width = 0, height = 0;
  std::vector<Rgb> pixels;  // row-major, top row first

  Image(int w, int h) : width(w), height(h), pixels(static_cast<size_t>(w) * h) {}
  Rgb& at(int x, int y) { return pixels[static_cast<size_t>(y) * width + x]; }
};

// Perceptual (magma-like) colour map: t in [0, 1] -> colour; outside values are clamped.
Rgb magma(double t);

// rows x cols matrix (row-major, row 0 = lowest frequency) -> image with low frequencies at
// the bottom, values scaled between their 1st and 99.5th percentile. Each cell becomes
// scale x scale pixels.
Image heatmap(const std::vector<float>& values, int rows, int cols, int scale = 2);

void write_png(const std::filesystem::path& path, const Image& image);  // throws sax::Error
std::string encode_png(const Image& image);                             // PNG bytes in memory

}  // namespace sax
