// What predict prints: the JSON object, CSV rows, the human report and the plots.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "detect/detect.h"
#include "fake_scorer.h"

namespace sax::testing {
namespace {

using detect::Analysis;

// A 10 s file with 2 s windows every 1 s and one segment [5, 10).
Analysis hand_made() {
  Analysis a;
  a.file = "music/take, one.mp3";
  a.duration = 10;
  a.sax = true;
  a.probability = 0.9;
  a.sax_share = 0.5;
  a.threshold = 0.5;
  a.scorer = "tone";
  for (int i = 0; i <= 8; ++i) a.windows.push_back({i * 1.0, i + 2.0, i >= 4 ? 0.9f : 0.1f});
  a.segments.push_back({5, 10, 0.9});
  return a;
}

TEST(Output, JsonHasTheKeysTheIssueLists) {
  const auto j = detect::to_json(hand_made());
  for (const char* key :
       {"file", "duration", "sax", "probability", "sax_share", "segments", "windows"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["file"], "music/take, one.mp3");
  EXPECT_EQ(j["sax"], true);
  EXPECT_DOUBLE_EQ(j["sax_share"].get<double>(), 0.5);
  ASSERT_EQ(j["segments"].size(), 1u);
  EXPECT_EQ(j["segments"][0],
            (nlohmann::json{{"start", 5.0}, {"end", 10.0}, {"probability", 0.9}}));
  ASSERT_EQ(j["windows"].size(), 9u);
  for (const auto& w : j["windows"]) {
    EXPECT_EQ(w.size(), 3u);
    EXPECT_TRUE(w.contains("start") && w.contains("end") && w.contains("probability"));
  }
  const auto failure = detect::error_json("bad.mp3", "bad.mp3: not audio");
  EXPECT_EQ(failure, (nlohmann::json{{"file", "bad.mp3"}, {"error", "bad.mp3: not audio"}}));
}

TEST(Output, CsvHasAFileRowSegmentsAndWindows) {
  const std::string csv = detect::to_csv(hand_made());
  std::istringstream lines(csv);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 1u + 1u + 9u);
  EXPECT_EQ(detect::csv_header(), "file,kind,start,end,probability,sax\n");
  // The comma in the file name is quoted, so every row keeps six fields.
  EXPECT_EQ(rows[0], "\"music/take, one.mp3\",file,0.000,10.000,0.9000,1");
  EXPECT_EQ(rows[1], "\"music/take, one.mp3\",segment,5.000,10.000,0.9000,1");
  EXPECT_EQ(rows[2], "\"music/take, one.mp3\",window,0.000,2.000,0.1000,0");
  EXPECT_EQ(rows[10], "\"music/take, one.mp3\",window,8.000,10.000,0.9000,1");
}

TEST(Output, TimelineBarMarksTheSegments) {
  EXPECT_EQ(detect::timeline_bar(hand_made(), 10), "-----#####");
  EXPECT_EQ(detect::timeline_bar(hand_made(), 4), "--##");
  Analysis blip = hand_made();
  blip.duration = 600;
  blip.segments = {{300, 301, 0.8}};  // 1 s in 10 minutes still shows as one cell
  const std::string bar = detect::timeline_bar(blip, 60);
  EXPECT_EQ(std::count(bar.begin(), bar.end(), '#'), 1);
  EXPECT_EQ(bar[30], '#');
}

TEST(Output, HumanReportShowsVerdictBarAndMmSsSegments) {
  const std::string text = detect::format_human(hand_made(), 10);
  EXPECT_NE(text.find("SAX"), std::string::npos);
  EXPECT_NE(text.find("|-----#####|"), std::string::npos);
  EXPECT_NE(text.find("sax 0:05 - 0:10"), std::string::npos) << text;
  EXPECT_NE(text.find("50%"), std::string::npos);
  EXPECT_EQ(detect::mmss(187), "3:07");
  EXPECT_EQ(detect::mmss(3723), "1:02:03");
}

TEST(Plot, SvgAndPngShowCurveSegmentsAndSpectrogram) {
  const auto audio = song_with_sax(25, {{8, 16}});
  ToneScorer scorer;
  detect::Options options;
  options.keep_spectrogram = true;
  const Analysis a = detect::analyse_samples(audio.data(), audio.size(), scorer, options, "s");
  EXPECT_EQ(a.overview.spectrogram.cols, 250);  // 10 columns a second
  EXPECT_EQ(a.overview.spectrogram.rows, 64);

  const std::string svg = detect::plot_svg(a);
  EXPECT_NE(svg.find("<polyline class=\"probability\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"segment\""), std::string::npos);
  EXPECT_NE(svg.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos);  // PNG magic

  TempDir dir;
  detect::write_plot(dir / "p.png", a);
  detect::write_plot(dir / "p.svg", a);
  std::ifstream png(dir / "p.png", std::ios::binary);
  std::string magic(8, '\0');
  png.read(magic.data(), 8);
  EXPECT_EQ(magic, "\x89PNG\r\n\x1a\n");
  EXPECT_GT(std::filesystem::file_size(dir / "p.svg"), 1000u);
  EXPECT_THROW(detect::write_plot(dir / "p.gif", a), Error);
}

// The polyline's points as (x, y) pairs.
std::vector<std::pair<double, int>> curve_points(const std::string& svg) {
  const std::string start = "<polyline class=\"probability\"";
  const size_t at = svg.find("points=\"", svg.find(start)) + 8;
  std::istringstream in(svg.substr(at, svg.find('"', at) - at));
  std::vector<std::pair<double, int>> points;
  double x;
  int y;
  char comma;
  while (in >> x >> comma >> y) points.emplace_back(x, y);
  return points;
}

TEST(Plot, FrameModelsDrawTheTimelineTheSegmentsCameFrom) {
  Analysis a = hand_made();  // windows at 0.1, then 0.9: never at the top of the plot
  a.timeline_slot = 0.05;
  a.timeline.assign(200, 0.0f);  // 10 s: silent, then certain from 5 s on
  std::fill(a.timeline.begin() + 100, a.timeline.end(), 1.0f);
  auto points = curve_points(detect::plot_svg(a));
  ASSERT_EQ(points.size(), 200u);         // 5 pixels a slot: one point each
  EXPECT_EQ(points.front().second, 239);  // probability 0 at the bottom
  EXPECT_EQ(points.back().second, 0);     // probability 1 at the top
  // A long file's slots are averaged per pixel column: at most one point per pixel.
  a.duration = 1000;
  a.timeline.assign(20000, 0.5f);
  points = curve_points(detect::plot_svg(a));
  EXPECT_EQ(points.size(), 1000u);
  EXPECT_EQ(points[500].second, 120);  // (1 - 0.5) * 239, rounded
}

}  // namespace
}  // namespace sax::testing
