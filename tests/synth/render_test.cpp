// Rendering with the Debian soundfonts: every style, truth checked against a sax-only stem,
// determinism, soundfont errors. Songs are 8-12 s so the suite stays fast.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "audio/audio.h"
#include "common/error.h"
#include "soundfonts.h"
#include "support/testing.h"
#include "synth/render.h"
#include "synth/synth.h"

using namespace sax::synth;
using sax::read_truth;
using sax::TimeRange;
using sax::testing::TempDir;

namespace {

Renderer& fluid() {
  static Renderer renderer(kFluidR3);
  return renderer;
}
Renderer& musescore() {
  static Renderer renderer(kMuseScore);
  return renderer;
}

double rms_between(const Rendering& r, double start, double end) {
  size_t from = static_cast<size_t>(std::max(0.0, start) * kSampleRate) * 2;
  size_t to = std::min(r.stereo.size(), static_cast<size_t>(end * kSampleRate) * 2);
  return from < to ? sax::rms(r.stereo.data() + from, to - from) : 0.0;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool inside_truth(const std::vector<TimeRange>& sax, double t) {
  for (const auto& [start, end] : sax)
    if (t >= start && t < end) return true;
  return false;
}

}  // namespace

TEST(Render, EveryStyleRendersMusic) {
  REQUIRE_SOUNDFONTS();
  for (Style style : kStyles) {
    SCOPED_TRACE(style_name(style));
    Arrangement song = arrange(style, 8, true, 21);
    Rendering r = fluid().render(song);
    EXPECT_EQ(r.frames(), static_cast<size_t>(std::ceil(song.seconds * kSampleRate)));
    double level = sax::rms(r.stereo.data(), r.stereo.size());
    EXPECT_NEAR(20 * std::log10(level), song.loudness_db, 3.0);
    float peak = 0;
    for (float v : r.stereo) peak = std::max(peak, std::abs(v));
    EXPECT_LE(peak, 0.9f) << "the limiter holds peaks under -1 dBFS";
    ASSERT_FALSE(r.sax.empty());
    EXPECT_LT(r.sax.back().second, song.seconds);
  }
}

// The heart of the ground truth: in a sax-only stem, sound exactly inside the truth ranges.
TEST(Render, SaxStemSoundsExactlyWhereTheTruthSays) {
  REQUIRE_SOUNDFONTS();
  int checked = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    Renderer& renderer = seed % 2 ? fluid() : musescore();
    Arrangement song = arrange(kStyles[seed % 6], 10, true, seed);
    SCOPED_TRACE(style_name(song.style) + " on " + renderer.soundfont().filename().string());
    Rendering stem = renderer.render(song, true);
    Rendering mix = renderer.render(song, false);
    ASSERT_FALSE(stem.sax.empty());
    EXPECT_EQ(stem.sax, mix.sax) << "the mix and the stem have the same sax voices";
    for (const auto& [start, end] : stem.sax) {
      EXPECT_GT(end - start, 0.1);
      EXPECT_GT(rms_between(stem, start, end), 1e-3) << start << "-" << end;
      EXPECT_GT(rms_between(stem, start, start + 0.05), 1e-4) << "sound from the first note-on";
    }
    double sax_time = 0;
    for (const auto& [start, end] : stem.sax) sax_time += end - start;
    EXPECT_LT(sax_time, song.seconds * 0.8) << "the sax plays only part of the song";
    for (size_t i = 0; i < stem.frames(); ++i) {
      double t = static_cast<double>(i) / kSampleRate;
      if (inside_truth(stem.sax, t)) continue;
      ASSERT_EQ(stem.stereo[2 * i], 0.0f) << "sound outside the truth at " << t << " s";
      ASSERT_EQ(stem.stereo[2 * i + 1], 0.0f) << "sound outside the truth at " << t << " s";
      ++checked;
    }
  }
  EXPECT_GT(checked, kSampleRate * 4) << "the stems have silent stretches to check";
}

TEST(Render, NoSaxSongHasEmptyTruth) {
  REQUIRE_SOUNDFONTS();
  Rendering r = musescore().render(arrange(Style::chamber, 8, false, 4));
  EXPECT_TRUE(r.sax.empty());
  EXPECT_GT(sax::rms(r.stereo.data(), r.stereo.size()), 0.01);
}

TEST(Render, ASongRendersTheSameWhateverCameBefore) {
  REQUIRE_SOUNDFONTS();
  Arrangement song = arrange(Style::swing, 8, true, 8);
  Renderer fresh(kFluidR3);
  Rendering alone = fresh.render(song);
  fluid().render(arrange(Style::rock, 8, true, 9));
  Rendering after = fluid().render(song);
  EXPECT_EQ(alone.stereo, after.stereo);
  EXPECT_EQ(alone.sax, after.sax);
}

TEST(Synthesize, SameSeedGivesByteIdenticalAudioAndTruth) {
  REQUIRE_SOUNDFONTS();
  TempDir one, two, other;
  SynthOptions options;
  options.songs = 2;
  options.min_seconds = 8;
  options.max_seconds = 10;
  options.seed = 42;
  options.progress = false;
  options.out = one.path();
  auto truth = synthesize(options);
  options.out = two.path();
  synthesize(options);
  ASSERT_EQ(truth.size(), 2u);
  EXPECT_EQ(truth[0].soundfont, "FluidR3_GM.sf2");
  EXPECT_EQ(truth[1].soundfont, "MuseScore_General_Full.sf3");
  for (const char* name : {"song-000.flac", "song-001.flac", "truth.json"}) {
    std::string a = slurp(one / name);
    EXPECT_GT(a.size(), 1000u) << name;
    EXPECT_EQ(a, slurp(two / name)) << name;
  }
  options.out = other.path();
  options.seed = 43;
  synthesize(options);
  EXPECT_NE(slurp(one / "song-000.flac"), slurp(other / "song-000.flac"));
}

TEST(Synthesize, WritesTruthThatReadsBack) {
  REQUIRE_SOUNDFONTS();
  TempDir dir;
  SynthOptions options;
  options.out = dir.path();
  options.songs = 1;
  options.min_seconds = options.max_seconds = 8;
  options.soundfont = kMuseScore;
  options.format = "wav";
  options.styles = {Style::funk};
  options.progress = false;
  auto written = synthesize(options);
  auto read = read_truth(dir / "truth.json");
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].file, "song-000.wav");
  EXPECT_EQ(read[0].style, "funk");
  EXPECT_EQ(read[0].soundfont, "MuseScore_General_Full.sf3");
  EXPECT_EQ(read[0].instruments, written[0].instruments);
  ASSERT_EQ(read[0].sax.size(), written[0].sax.size());
  for (size_t i = 0; i < read[0].sax.size(); ++i)
    EXPECT_NEAR(read[0].sax[i].first, written[0].sax[i].first, 0.001);
  auto info = sax::probe_audio(dir / "song-000.wav");
  EXPECT_EQ(info.sample_rate, 44100);
  EXPECT_EQ(info.channels, 2);
  EXPECT_NEAR(info.duration, read[0].duration, 0.05);
}

TEST(Synthesize, BalancesSaxStylesAndSoundfonts) {
  SynthOptions options;
  options.seed = 3;
  std::map<std::pair<std::string, bool>, int> count;
  int with_sax = 0;
  for (int i = 0; i < 24; ++i) {
    SongPlan plan = plan_song(options, i);
    count[{plan.soundfont + style_name(plan.style), plan.with_sax}]++;
    with_sax += plan.with_sax;
    EXPECT_EQ(plan.soundfont, i % 2 ? kMuseScore : kFluidR3);
    EXPECT_GE(plan.seconds, 30);
    EXPECT_LE(plan.seconds, 90);
  }
  EXPECT_EQ(with_sax, 12);
  EXPECT_EQ(count.size(), 24u) << "every soundfont x style x sax combination once";
  for (int i = 0; i < 30; i += 2)
    EXPECT_NE(plan_song(options, i).with_sax, plan_song(options, i + 1).with_sax)
        << "songs " << i << " and " << i + 1 << " hold one sax song";
}

TEST(Soundfont, MissingFileIsAClearError) {
  try {
    Renderer renderer("/nonexistent/Missing.sf2");
    FAIL() << "no error";
  } catch (const sax::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/Missing.sf2"), std::string::npos)
        << e.what();
  }
}

TEST(Soundfont, CorruptFileIsAClearError) {
  TempDir dir;
  {
    std::ofstream garbage(dir / "garbage.sf2");
    for (int i = 0; i < 5000; ++i) garbage << "not a soundfont " << i;
  }
  try {
    Renderer renderer(dir / "garbage.sf2");
    FAIL() << "no error";
  } catch (const sax::Error& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.sf2"), std::string::npos) << e.what();
  }
}

TEST(Soundfont, TruncatedFileIsAClearError) {
  REQUIRE_SOUNDFONTS();
  TempDir dir;
  {
    std::ifstream in(kFluidR3, std::ios::binary);
    std::vector<char> head(1 << 20);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(dir / "cut.sf2", std::ios::binary)
        .write(head.data(), static_cast<std::streamsize>(head.size()));
  }
  try {
    Renderer renderer(dir / "cut.sf2");
    renderer.render(arrange(Style::swing, 6, true, 1));
    FAIL() << "no error";
  } catch (const sax::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.sf2"), std::string::npos) << e.what();
  }
}

TEST(Truth, ReadRejectsBadFilesNamingTheField) {
  TempDir dir;
  std::ofstream(dir / "a.json") << R"({"songs": [{"file": "x.flac", "sax": [[3, 1]]}]})";
  std::ofstream(dir / "b.json") << R"({"songs": [{"sax": []}]})";
  std::ofstream(dir / "c.json") << "{ nope";
  for (const char* name : {"a.json", "b.json", "c.json"}) {
    try {
      read_truth(dir / name);
      FAIL() << name;
    } catch (const sax::Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  try {
    read_truth(dir / "b.json");
  } catch (const sax::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'file'"), std::string::npos) << e.what();
  }
}

TEST(Limiter, HoldsPeaksUnderTheCeilingAndLeavesQuietAudioAlone) {
  std::vector<float> audio(2 * 44100, 0.1f);
  audio[44100] = 3.0f;
  audio[44101] = -2.0f;
  std::vector<float> before = audio;
  limit(audio, 0.89);
  for (float v : audio) EXPECT_LE(std::abs(v), 0.89f + 1e-6f);
  EXPECT_FLOAT_EQ(audio[100], 0.1f) << "far from the peak nothing changes";
  EXPECT_LT(audio[44100 - 10], 0.1f) << "the gain comes down before the peak";
}

TEST(Ranges, MergeJoinsShortGaps) {
  auto merged = merge_ranges({{0, 1}, {1.1, 2}, {3, 4}}, 0.2);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0], TimeRange(0, 2));
  EXPECT_EQ(merged[1], TimeRange(3, 4));
}
