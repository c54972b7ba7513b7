#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/hash.h"
#include "common/home.h"
#include "common/json_fields.h"
#include "common/progress.h"
#include "common/time_ranges.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;

TEST(TimeRanges, CoveredSecondsCountsOverlap) {
  const std::vector<TimeRange> sax{{1, 2}, {3, 6}};
  EXPECT_DOUBLE_EQ(covered_seconds(sax, 0, 5), 3.0);
  EXPECT_DOUBLE_EQ(covered_seconds(sax, 2, 3), 0.0);
  EXPECT_DOUBLE_EQ(covered_seconds(sax, 1.5, 3.5), 1.0);
}

TEST(TimeRanges, CoverageGivesEachBinItsShare) {
  // Bins of 0.5 s from 10 s: [10, 10.5) is free, [10.5, 11) half covered, then fully covered.
  const std::vector<TimeRange> sax{{10.75, 11.6}, {20, 30}};
  const auto shares = coverage(sax, 10, 2, 4);
  ASSERT_EQ(shares.size(), 4u);
  EXPECT_FLOAT_EQ(shares[0], 0.0f);
  EXPECT_FLOAT_EQ(shares[1], 0.5f);
  EXPECT_FLOAT_EQ(shares[2], 1.0f);
  EXPECT_NEAR(shares[3], 0.2f, 1e-6);
  EXPECT_TRUE(coverage(sax, 0, 5, 0).empty());
}

TEST(TimeRanges, CloseGapsJoinsRangesLessThanTheGapApart) {
  const std::vector<sax::TimeRange> phrases{{5, 6}, {0, 1}, {1.5, 2}, {2.9, 4}};
  using Ranges = std::vector<sax::TimeRange>;
  EXPECT_EQ(sax::close_gaps(phrases, 1.0), (Ranges{{0, 4}, {5, 6}}));  // a 1 s gap stays
  EXPECT_EQ(sax::close_gaps(phrases, 0.6), (Ranges{{0, 2}, {2.9, 4}, {5, 6}}));
  EXPECT_EQ(sax::close_gaps(phrases, 0), (Ranges{{0, 1}, {1.5, 2}, {2.9, 4}, {5, 6}}));
}

struct Knobs {
  int count = 3;
  std::string name = "a";
};
const auto kKnobFields = std::make_tuple(sax::json_fields::field("count", &Knobs::count),
                                         sax::json_fields::field("name", &Knobs::name));

TEST(JsonFields, OneFieldListWritesAndReadsEveryField) {
  Knobs k{7, "b"};
  nlohmann::json j;
  sax::json_fields::write(j, k, kKnobFields);
  EXPECT_EQ(j, nlohmann::json({{"count", 7}, {"name", "b"}}));
  Knobs back;
  sax::json_fields::read_object(nlohmann::json{{"name", "c"}}, back, kKnobFields, "knobs");
  EXPECT_EQ(back.count, 3);  // missing: the default stays
  EXPECT_EQ(back.name, "c");
}

TEST(JsonFields, UnknownFieldsWrongTypesAndNonObjectsNameTheProblem) {
  Knobs k;
  const auto message = [&](const nlohmann::json& j) {
    try {
      sax::json_fields::read_object(j, k, kKnobFields, "knobs");
    } catch (const sax::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({{"cuont", 1}}), "knobs: unknown field 'cuont'");
  EXPECT_EQ(message({{"count", "many"}}), "knobs: field 'count' has the wrong type: \"many\"");
  EXPECT_EQ(message(nlohmann::json::array()), "knobs: expected a JSON object, got []");
}

TEST(Home, FlagWinsOverEnvironmentWhichWinsOverDefault) {
  ::setenv("SAXDETECT_HOME", "/tmp/from-env", 1);
  EXPECT_EQ(Home::resolve("/tmp/from-flag").root, fs::path("/tmp/from-flag"));
  EXPECT_EQ(Home::resolve("").root, fs::path("/tmp/from-env"));
  ::unsetenv("SAXDETECT_HOME");
  EXPECT_EQ(Home::resolve("").root, fs::path("saxdetect-data"));
}

TEST(Home, CreateMakesStandardFolders) {
  testing::TempDir dir;
  Home home{dir / "home"};
  home.create();
  for (const auto& sub : {home.samples(), home.cache(), home.models(), home.uploads()})
    EXPECT_TRUE(fs::is_directory(sub)) << sub;
}

TEST(Home, InsideAcceptsRelativePathsUnderTheHome) {
  testing::TempDir dir;
  Home home{dir.path()};
  home.create();
  const fs::path resolved = home.inside("samples/ab/clip.flac");
  EXPECT_EQ(resolved, fs::weakly_canonical(dir.path()) / "samples/ab/clip.flac");
}

TEST(Home, InsideRefusesEscapes) {
  testing::TempDir dir;
  Home home{dir / "home"};
  home.create();
  EXPECT_THROW(home.inside("../secret"), Error);
  EXPECT_THROW(home.inside("samples/../../secret"), Error);
  EXPECT_THROW(home.inside("/etc/passwd"), Error);
  EXPECT_THROW(home.inside(""), Error);
  // A symlink inside the home that points outside it is refused too.
  fs::create_directory_symlink("/etc", home.root / "link");
  EXPECT_THROW(home.inside("link/passwd"), Error);
}

TEST(Hash, Sha256MatchesKnownVectors) {
  EXPECT_EQ(sha256_bytes("", 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_bytes("abc", 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hash, FileHashEqualsHashOfItsBytes) {
  testing::TempDir dir;
  std::string content(200000, 'x');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
  std::ofstream(dir / "f.bin", std::ios::binary) << content;
  EXPECT_EQ(sha256_file(dir / "f.bin"), sha256_bytes(content.data(), content.size()));
}

TEST(Hash, MissingFileNamesTheFile) {
  try {
    sha256_file("/nonexistent/file.mp3");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/file.mp3"), std::string::npos);
  }
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
}

TEST(Progress, CountsAdvancesFromManyThreads) {
  Progress progress("test", 4000, Progress::Mode::never);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) progress.advance(1, 0.5);
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(progress.done(), 4000u);
}

}  // namespace
}  // namespace sax
