#include "plot/image.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include <png.h>

#include "common/error.h"

namespace sax {

namespace {

// Key points of the magma colour map (matplotlib's, sampled at 9 even steps); linear
// interpolation between them is visually indistinguishable at spectrogram sizes.
constexpr std::array<std::array<double, 3>, 9> kMagma = {{{0.001, 0.000, 0.014},
                                                          {0.078, 0.054, 0.211},
                                                          {0.232, 0.060, 0.438},
                                                          {0.390, 0.100, 0.502},
                                                          {0.550, 0.161, 0.506},
                                                          {0.716, 0.215, 0.475},
                                                          {0.868, 0.288, 0.409},
                                                          {0.967, 0.439, 0.360},
                                                          {0.987, 0.991, 0.749}}};

void encode(const Image& image, void* io, png_rw_ptr write_fn, const std::string& where) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) throw Error(where + ": cannot initialise PNG writer");
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error(where + ": PNG write failed");
  }
  png_set_write_fn(png, io, write_fn, nullptr);
  png_set_IHDR(png, info, image.width, image.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y) {
    auto* row = reinterpret_cast<png_bytep>(
        const_cast<Rgb*>(image.pixels.data() + static_cast<size_t>(y) * image.width));
    png_write_row(png, row);
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
}

void append_to_string(png_structp png, png_bytep data, png_size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<char*>(data), length);
}

void append_to_file(png_structp png, png_bytep data, png_size_t length) {
  if (std::fwrite(data, 1, length, static_cast<FILE*>(png_get_io_ptr(png))) != length)
    png_error(png, "short write");
}

}  // namespace

static_assert(sizeof(Rgb) == 3, "Image rows are handed to libpng as packed RGB");

Rgb magma(double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * (kMagma.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), kMagma.size() - 2);
  const double f = t - i;
  auto channel = [&](int c) {
    return static_cast<uint8_t>(std::lround(255 * (kMagma[i][c] * (1 - f) + kMagma[i + 1][c] * f)));
  };
  return {channel(0), channel(1), channel(2)};
}

Image heatmap(const std::vector<float>& values, int rows, int cols, int scale) {
  if (rows <= 0 || cols <= 0 || values.size() != static_cast<size_t>(rows) * cols)
    throw Error("heatmap: matrix size does not match rows x cols");
  std::vector<float> sorted(values);
  auto pct = [&](double q) {
    auto k = static_cast<size_t>(q * (sorted.size() - 1));
    std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
    return sorted[k];
  };
  const float lo = pct(0.01), hi = std::max(pct(0.995), lo + 1e-6f);
  Image image(cols * scale, rows * scale);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const Rgb colour = magma((values[static_cast<size_t>(r) * cols + c] - lo) / (hi - lo));
      for (int dy = 0; dy < scale; ++dy)
        for (int dx = 0; dx < scale; ++dx)
          image.at(c * scale + dx, (rows - 1 - r) * scale + dy) = colour;
    }
  return image;
}

void write_png(const std::filesystem::path& path, const Image& image) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) throw Error(path.string() + ": cannot open for writing");
  try {
    encode(image, file, append_to_file, path.string());
  } catch (...) {
    std::fclose(file);
    throw;
  }
  if (std::fclose(file) != 0) throw Error(path.string() + ": write failed");
}

std::string encode_png(const Image& image) {
  std::string bytes;
  encode(image, &bytes, append_to_string, "PNG");
  return bytes;
}

}  // namespace sax
