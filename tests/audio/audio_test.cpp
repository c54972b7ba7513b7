// Round trips through every format, odd rates and channel counts, and every kind of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>

#include "audio/audio.h"
#include "common/error.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::TempDir;
using testing::tone;
using testing::write_bytes;

// Frequency of the strongest zero-crossing rate: a 440 Hz tone crosses zero 880 times a second.
double estimated_frequency(const std::vector<float>& samples, int rate) {
  size_t crossings = 0;
  for (size_t i = 1; i < samples.size(); ++i)
    if ((samples[i - 1] < 0) != (samples[i] < 0)) ++crossings;
  return crossings / 2.0 / (static_cast<double>(samples.size()) / rate);
}

// Middle of a clip, away from encoder priming and padding at the edges.
std::vector<float> middle(const std::vector<float>& samples, double fraction = 0.5) {
  const size_t skip = static_cast<size_t>(samples.size() * (1 - fraction) / 2);
  return {samples.begin() + skip, samples.end() - skip};
}

class FormatRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(FormatRoundTrip, StereoToneComesBackAsMonoAtItsFrequencyAndLength) {
  TempDir dir;
  const fs::path file = dir / ("tone" + GetParam());
  const int rate = 44100;
  write_audio(file, tone(2.0, rate, 2, 440.0).data(), 2 * rate, 2, rate);

  const AudioInfo info = probe_audio(file);
  EXPECT_EQ(info.channels, 2);
  EXPECT_NEAR(info.duration, 2.0, 0.1);

  const std::vector<float> mono = decode_mono(file, 22050);
  // Lossy encoders add priming/padding of a few thousand samples at most.
  EXPECT_NEAR(static_cast<double>(mono.size()), 2.0 * 22050, 0.06 * 22050);
  // Channel 1 is 550 Hz, channel 0 440 Hz: the mono average holds both at half level each.
  const std::vector<float> centre = middle(mono);
  EXPECT_GT(rms(centre.data(), centre.size()), 0.2);
  EXPECT_FALSE(is_digital_silence(mono.data(), mono.size()));
}

TEST_P(FormatRoundTrip, MonoToneKeepsItsFrequency) {
  TempDir dir;
  const fs::path file = dir / ("tone" + GetParam());
  write_audio(file, tone(2.0, 48000, 1, 1000.0), 48000);
  const std::vector<float> mono = decode_mono(file, 16000);
  EXPECT_NEAR(estimated_frequency(middle(mono), 16000), 1000.0, 10.0);
  const std::vector<float> centre = middle(mono);
  EXPECT_NEAR(rms(centre.data(), centre.size()), 0.5 / std::sqrt(2.0), 0.05);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, FormatRoundTrip,
                         ::testing::Values(".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a",
                                           ".aiff"),
                         [](const auto& info) { return info.param.substr(1); });

class OddShapes : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(OddShapes, LosslessFileResamplesToTheExactLengthAndFrequency) {
  const auto [rate, channels] = GetParam();
  TempDir dir;
  const fs::path file = dir / "odd.flac";
  const double seconds = 1.5;
  write_audio(file, tone(seconds, rate, channels, 300.0).data(),
              static_cast<size_t>(seconds * rate), channels, rate);
  const AudioInfo info = probe_audio(file);
  EXPECT_EQ(info.sample_rate, rate);
  EXPECT_EQ(info.channels, channels);
  EXPECT_EQ(info.codec, "flac");

  const std::vector<float> mono = decode_mono(file, 22050);
  EXPECT_NEAR(static_cast<double>(mono.size()), seconds * 22050, 2.0);
  if (channels == 1) {
    EXPECT_NEAR(estimated_frequency(middle(mono), 22050), 300.0, 5.0);
  }
}

INSTANTIATE_TEST_SUITE_P(RatesAndChannels, OddShapes,
                         ::testing::Combine(::testing::Values(8000, 11025, 44100, 48000, 96000),
                                            ::testing::Values(1, 2, 6)));

TEST(Decoder, StreamsInBlocksAndSkips) {
  TempDir dir;
  const fs::path file = dir / "long.wav";
  write_audio(file, tone(3.0, 22050, 1), 22050);
  Decoder decoder(file, 22050);
  EXPECT_EQ(decoder.sample_rate(), 22050);
  EXPECT_EQ(decoder.skip(22050), 22050u);
  std::vector<float> block(1000);
  size_t total = 0;
  while (size_t n = decoder.read(block.data(), block.size())) total += n;
  EXPECT_EQ(total, 2u * 22050);
  EXPECT_EQ(decoder.read(block.data(), block.size()), 0u);
}

TEST(Decoder, MonoIsTheAverageOfTheChannels) {
  TempDir dir;
  const fs::path file = dir / "opposite.wav";
  // Left and right in antiphase cancel to silence; the same signal in both keeps its level.
  std::vector<float> stereo(2 * 22050);
  for (size_t i = 0; i < 22050; ++i) {
    stereo[2 * i] = 0.5f * static_cast<float>(std::sin(i * 0.1));
    stereo[2 * i + 1] = -stereo[2 * i];
  }
  write_audio(file, stereo.data(), 22050, 2, 22050);
  const auto mono = decode_mono(file, 22050);
  EXPECT_LT(rms(mono.data(), mono.size()), 1e-3);
}

TEST(Decoder, ReadsTags) {
  TempDir dir;
  const fs::path plain = dir / "plain.flac";
  write_audio(plain, tone(0.5, 22050, 1), 22050);
  const fs::path tagged = dir / "tagged.mp3";
  ASSERT_EQ(testing::run_shell("ffmpeg -v quiet -i " + plain.string() +
                               " -metadata title=Song -metadata artist=Band -metadata album=LP " +
                               tagged.string()),
            0);
  const AudioInfo info = probe_audio(tagged);
  EXPECT_EQ(info.tags.at("title"), "Song");
  EXPECT_EQ(info.tags.at("artist"), "Band");
  EXPECT_EQ(info.tags.at("album"), "LP");
  EXPECT_EQ(info.codec, "mp3");
}

TEST(Decoder, TruncatedFileYieldsWhatDecodes) {
  TempDir dir;
  for (const std::string ext : {".mp3", ".flac", ".wav", ".ogg"}) {
    const fs::path whole = dir / ("whole" + ext);
    write_audio(whole, tone(4.0, 44100, 2).data(), 4 * 44100, 2, 44100);
    const fs::path cut = dir / ("cut" + ext);
    fs::copy_file(whole, cut);
    fs::resize_file(cut, fs::file_size(whole) / 2);
    const auto samples = decode_mono(cut, 22050);
    // Headers take a larger share of the small Ogg file, so only bounds hold for every format.
    EXPECT_GT(samples.size(), 0.5 * 22050) << ext;
    EXPECT_LT(samples.size(), 3.0 * 22050) << ext;
  }
}

TEST(Decoder, BadInputsNameTheFileAndTheReason) {
  TempDir dir;
  const fs::path missing = dir / "missing.mp3";
  EXPECT_EQ(error_of([&] { Decoder(missing, 22050); }), missing.string() + ": no such file");

  const fs::path empty = dir / "empty.mp3";
  write_bytes(empty, "");
  EXPECT_EQ(error_of([&] { Decoder(empty, 22050); }), empty.string() + ": empty file (0 bytes)");

  EXPECT_EQ(error_of([&] { probe_audio(dir.path()); }),
            dir.path().string() + ": is a folder, not an audio file");

  const fs::path text = dir / "notes.flac";
  write_bytes(text, std::string(5000, '\0') + "this is not audio at all");
  const std::string text_error = error_of([&] { Decoder(text, 22050); });
  EXPECT_EQ(text_error.rfind(text.string() + ": ", 0), 0u) << text_error;
  EXPECT_NE(text_error, "(no error)");

  // A video-only file: a container FFmpeg reads, with no audio stream.
  const fs::path video = dir / "video.mkv";
  ASSERT_EQ(
      testing::run_shell("ffmpeg -v quiet -f lavfi -i color=c=red:s=32x32:d=0.5 " + video.string()),
      0);
  EXPECT_EQ(error_of([&] { Decoder(video, 22050); }), video.string() + ": no audio stream");

  // A valid header with every packet gone.
  const fs::path gutted = dir / "gutted.wav";
  write_audio(gutted, tone(1.0, 22050, 1), 22050);
  fs::resize_file(gutted, 44);
  const std::string gutted_error = error_of([&] { decode_mono(gutted, 22050); });
  EXPECT_EQ(gutted_error.rfind(gutted.string() + ": ", 0), 0u) << gutted_error;
  EXPECT_NE(gutted_error, "(no error)");
}

TEST(Decoder, SamplesThatAreNotAudioAreRefusedNamingTheFileAndTime) {
  // A float WAV can hold NaN, infinity or 1e30; the log-mel features of such samples are NaN,
  // which once hung detection. A NaN every 1000th sample from 2 s on, then each kind alone.
  TempDir dir;
  for (const float bad : {std::nanf(""), std::numeric_limits<float>::infinity(), 1e30f}) {
    auto samples = tone(12.0, 22050);
    for (size_t i = 2 * 22050; i < samples.size(); i += 1000) samples[i] = bad;
    const fs::path file = dir / "broken float.wav";
    testing::write_float_wav(file, samples, 22050);
    const std::string message = error_of([&] { decode_mono(file, 22050); });
    EXPECT_EQ(message.rfind(file.string() + ": holds samples that are not audio", 0), 0u)
        << message;
    EXPECT_NE(message.find("from 2.00 s on"), std::string::npos) << message;
  }
  // A float master peaking a little above full scale is still audio.
  auto loud = tone(1.0, 22050, 1, 440, 1.5);
  testing::write_float_wav(dir / "loud.wav", loud, 22050);
  EXPECT_EQ(decode_mono(dir / "loud.wav", 22050).size(), loud.size());
}

TEST(WriteAudio, RefusesUnknownExtensionsAndShapes) {
  TempDir dir;
  const auto samples = tone(0.1, 22050, 1);
  const fs::path odd = dir / "clip.xyz";
  EXPECT_NE(error_of([&] { write_audio(odd, samples, 22050); }).find("extension '.xyz'"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(odd));
  EXPECT_NE(error_of([&] {
              write_audio(dir / "a.wav", samples.data(), 10, 0, 22050);
            }).find("invalid audio shape"),
            std::string::npos);
}

TEST(Levels, RmsAndDigitalSilence) {
  const std::vector<float> square = {0.5f, -0.5f, 0.5f, -0.5f};
  EXPECT_DOUBLE_EQ(rms(square.data(), square.size()), 0.5);
  EXPECT_DOUBLE_EQ(rms(nullptr, 0), 0.0);
  const std::vector<float> quiet(100, 1.0f / 32768);  // one 16-bit step
  EXPECT_TRUE(is_digital_silence(quiet.data(), quiet.size()));
  std::vector<float> click = quiet;
  click[50] = 0.001f;  // -60 dBFS: audible
  EXPECT_FALSE(is_digital_silence(click.data(), click.size()));
}

TEST(Extensions, AudioFilesAreRecognisedCaseInsensitively) {
  for (const char* name : {"a.mp3", "b.FLAC", "c.wav", "d.ogg", "e.opus", "f.m4a", "g.aiff"})
    EXPECT_TRUE(has_audio_extension(name)) << name;
  for (const char* name : {"a.txt", "b.jpg", "mp3", "c.mp3.part"})
    EXPECT_FALSE(has_audio_extension(name)) << name;
}

}  // namespace
}  // namespace sax
