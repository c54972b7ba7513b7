#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "plot/image.h"
#include "support/testing.h"

namespace sax {
namespace {

TEST(Magma, RunsFromDarkToBrightAndClamps) {
  const Rgb low = magma(0), high = magma(1);
  EXPECT_LT(low.r + low.g + low.b, 30);
  EXPECT_GT(high.r + high.g + high.b, 600);
  EXPECT_EQ(magma(-5).r, low.r);
  EXPECT_EQ(magma(7).g, high.g);
  // Brightness never decreases along the map (perceptual ordering).
  int previous = -1;
  for (double t = 0; t <= 1.0; t += 0.05) {
    const Rgb c = magma(t);
    const int brightness = 299 * c.r + 587 * c.g + 114 * c.b;
    EXPECT_GE(brightness, previous) << t;
    previous = brightness;
  }
}

TEST(Heatmap, PutsRowZeroAtTheBottomAndScales) {
  // 2 rows x 3 cols: row 0 all low, row 1 all high.
  const std::vector<float> values = {0, 0, 0, 1, 1, 1};
  const Image image = heatmap(values, 2, 3, 4);
  EXPECT_EQ(image.width, 12);
  EXPECT_EQ(image.height, 8);
  const Rgb top = const_cast<Image&>(image).at(0, 0);
  const Rgb bottom = const_cast<Image&>(image).at(0, 7);
  EXPECT_GT(top.r + top.g + top.b, bottom.r + bottom.g + bottom.b);
  EXPECT_THROW(heatmap(values, 4, 3), Error);
}

TEST(Png, WritesAValidSignatureAndSize) {
  testing::TempDir dir;
  Image image(5, 3);
  image.at(2, 1) = {255, 0, 0};
  write_png(dir / "x.png", image);
  std::ifstream in(dir / "x.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(bytes.size(), 33u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  // IHDR width and height, big-endian at bytes 16..23.
  EXPECT_EQ(static_cast<unsigned char>(bytes[19]), 5);
  EXPECT_EQ(static_cast<unsigned char>(bytes[23]), 3);
  EXPECT_EQ(encode_png(image), bytes);
  EXPECT_THROW(write_png("/nonexistent/dir/x.png", image), Error);
}

}  // namespace
}  // namespace sax
