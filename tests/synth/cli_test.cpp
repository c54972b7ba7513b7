// `saxdetect synth` and `saxdetect labels` end to end through the command line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "soundfonts.h"
#include "support/testing.h"
#include "synth/synth.h"

using sax::testing::run_saxdetect;
using sax::testing::TempDir;

TEST(SynthCli, RendersSongsThenLabelsTheirIngestedSamples) {
  REQUIRE_SOUNDFONTS();
  TempDir dir;
  std::string library = (dir / "library").string(), home = (dir / "home").string(), out;
  ASSERT_EQ(run_saxdetect("synth --out " + library + " --songs 2 --seconds 8 --seed 5 --style funk",
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("rendered 2 songs"), std::string::npos) << out;
  auto truth = sax::read_truth(dir / "library/truth.json");
  ASSERT_EQ(truth.size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(dir / "library/song-000.flac"));

  ASSERT_EQ(run_saxdetect("--home " + home + " ingest " + library, &out), 0) << out;
  ASSERT_EQ(run_saxdetect(
                "--home " + home + " labels import --from-truth " + library + "/truth.json", &out),
            0)
      << out;
  EXPECT_NE(out.find("2 songs labelled"), std::string::npos) << out;

  ASSERT_EQ(run_saxdetect("--home " + home + " labels export --format json --out " +
                              (dir / "l.json").string(),
                          &out),
            0)
      << out;
  std::ifstream in(dir / "l.json");
  auto exported = nlohmann::json::parse(in);
  ASSERT_GE(exported.size(), 2u);
  int sax = 0, not_sax = 0;
  for (const auto& sample : exported) {
    EXPECT_EQ(sample["votes"][0]["annotator"], "truth");
    std::string file =
        std::filesystem::path(sample["source"].get<std::string>()).filename().string();
    for (const auto& song : truth)
      if (song.file == file) {
        double seconds =
            sax::covered_seconds(song.sax, sample["start"], sample["start"].get<double>() + 5);
        if (sample["reconciled"] == "sax") {
          ++sax;
          EXPECT_GE(seconds, 0.5);
        } else if (sample["reconciled"] == "not_sax") {
          ++not_sax;
          EXPECT_EQ(seconds, 0.0);
        }
      }
  }
  EXPECT_GT(sax + not_sax, 0);
}

TEST(SynthCli, BadSoundfontAndOptionsFailWithOneClearLine) {
  TempDir dir;
  std::string out;
  EXPECT_EQ(run_saxdetect("synth --out " + (dir / "x").string() +
                              " --songs 1 --seconds 5 --soundfont /no/such.sf2",
                          &out),
            1);
  EXPECT_NE(out.find("/no/such.sf2"), std::string::npos) << out;
  EXPECT_NE(run_saxdetect("synth --out " + (dir / "x").string() + " --seconds abc", &out), 0);
  EXPECT_NE(out.find("--seconds"), std::string::npos) << out;
  EXPECT_NE(run_saxdetect("synth --out " + (dir / "x").string() + " --style polka", &out), 0);
  EXPECT_NE(out.find("polka"), std::string::npos) << out;
}

TEST(LabelsCli, CsvWithOnlyBadRowsFailsNamingTheLines) {
  TempDir dir;
  std::ofstream(dir / "bad.csv") << "/none.flac,0,sax,ana\n/none.flac,x,sax,ana\n";
  std::string out;
  EXPECT_EQ(run_saxdetect("--home " + (dir / "home").string() + " labels import " +
                              (dir / "bad.csv").string(),
                          &out),
            1);
  EXPECT_NE(out.find("bad.csv:1:"), std::string::npos) << out;
  EXPECT_NE(out.find("bad.csv:2:"), std::string::npos) << out;
  EXPECT_NE(run_saxdetect("--home " + (dir / "home").string() + " labels import", &out), 0);
  EXPECT_NE(out.find("--from-truth"), std::string::npos) << out;
}

TEST(LabelsCli, ManyBadRowsShowTheFirstTwentyAndACount) {
  TempDir dir;
  {
    std::ofstream csv(dir / "bad.csv");
    for (int i = 0; i < 25; ++i) csv << "/none.flac,0,sax,ana\n";
  }
  std::string out;
  EXPECT_EQ(run_saxdetect("--home " + (dir / "home").string() + " labels import " +
                              (dir / "bad.csv").string(),
                          &out),
            1);
  EXPECT_NE(out.find("bad.csv:20:"), std::string::npos) << out;
  EXPECT_EQ(out.find("bad.csv:21:"), std::string::npos) << out;
  EXPECT_NE(out.find("... and 5 more problems"), std::string::npos) << out;
  EXPECT_NE(out.find("25 problems"), std::string::npos) << out;
}

TEST(LabelsCli, ATruthJsonGivenAsCsvSaysToUseFromTruth) {
  TempDir dir;
  std::ofstream(dir / "truth.json") << "{\n  \"songs\": []\n}\n";
  std::string out;
  EXPECT_NE(run_saxdetect("--home " + (dir / "home").string() + " labels import " +
                              (dir / "truth.json").string(),
                          &out),
            0);
  EXPECT_NE(out.find("truth.json: this is JSON, not CSV"), std::string::npos) << out;
  EXPECT_NE(out.find("--from-truth"), std::string::npos) << out;
}
