#include "plot/svg.h"

#include <gtest/gtest.h>

#include "support/testing.h"

namespace sax::svg {
namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Svg, NiceTicksCoverTheRangeInRoundSteps) {
  const auto unit = nice_ticks(0, 1, 6);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i) EXPECT_NEAR(unit[i], 0.2 * i, 1e-12);
  const auto ticks = nice_ticks(3, 47, 5);
  ASSERT_GE(ticks.size(), 3u);
  EXPECT_GE(ticks.front(), 3);
  EXPECT_LE(ticks.back(), 47);
  EXPECT_DOUBLE_EQ(ticks[1] - ticks[0], 10);
}

TEST(Svg, EscapesMarkup) { EXPECT_EQ(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;"); }

TEST(Svg, LineChartHasOnePolylinePerSeriesAndALegend) {
  LineChart chart;
  chart.title = "Loss <train>";
  chart.series.push_back({"train", {{1, 0.7}, {2, 0.5}, {3, 0.3}}, "", false});
  chart.series.push_back({"validation", {{1, 0.72}, {2, 0.6}}, "", true});
  chart.bands.push_back({1.5, 2.5});
  const auto svg = render(chart);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<polyline"), 2u);
  EXPECT_NE(svg.find(">train<"), std::string::npos);
  EXPECT_NE(svg.find(">validation<"), std::string::npos);
  EXPECT_NE(svg.find("Loss &lt;train&gt;"), std::string::npos);
  EXPECT_EQ(count_of(svg, "fill-opacity"), 1u);
}

TEST(Svg, RocChartShowsTheAucAndTheChanceLine) {
  const auto chart = roc_chart({{0, 0}, {0.1, 0.8}, {1, 1}}, 0.912);
  EXPECT_NE(chart.title.find("0.912"), std::string::npos);
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_TRUE(chart.series[1].dashed);
  testing::TempDir dir;
  write(dir / "roc.svg", chart);
  std::string out;
  EXPECT_EQ(testing::run_shell("grep -c polyline " + (dir / "roc.svg").string(), &out), 0);
}

}  // namespace
}  // namespace sax::svg
