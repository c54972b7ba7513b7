// The ingest library: every format and shape, bad inputs, idempotence, silence, overlap, jobs.
#include "ingest/ingest.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "audio/audio.h"
#include "common/error.h"
#include "ingest_support.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::tone;

class IngestTest : public ::testing::Test {
 protected:
  IngestTest() : home{dir / "home"}, library(dir / "library") {
    fs::create_directories(library);
    store = open_store(home);
    options.progress = Progress::Mode::never;
  }

  IngestSummary run(const std::vector<fs::path>& paths) {
    return ingest(paths, *store, home, options,
                  [this](const std::string& line) { errors.push_back(line); });
  }

  TempDir dir;
  Home home;
  fs::path library;
  std::unique_ptr<Store> store;
  IngestOptions options;
  std::vector<std::string> errors;
};

TEST_F(IngestTest, EveryFormatRateAndChannelCountBecomesFiveSecondSamples) {
  struct Input {
    std::string name;
    int rate;
    int channels;
  };
  const std::vector<Input> inputs = {{"a.wav", 8000, 1},   {"b.flac", 11025, 6},
                                     {"c.mp3", 44100, 2},  {"d.ogg", 48000, 2},
                                     {"e.opus", 48000, 1}, {"f.m4a", 96000, 2},
                                     {"g.aiff", 44100, 1}, {"sub/deeper/h.flac", 96000, 2}};
  for (const auto& in : inputs) write_tone_file(library / in.name, 11.0, in.rate, in.channels);
  write_bytes(library / "cover.jpg", "not audio, and skipped when walking folders");

  const IngestSummary summary = run({library});
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(summary.files, inputs.size());
  EXPECT_EQ(summary.ingested, inputs.size());
  EXPECT_EQ(summary.samples, 2 * inputs.size());  // 0-5 s and 5-10 s; the last second dropped
  EXPECT_EQ(summary.tails_dropped, inputs.size());
  EXPECT_NEAR(summary.tail_seconds, 1.0 * inputs.size(), 0.1 * inputs.size());
  EXPECT_NEAR(summary.audio_seconds, 11.0 * inputs.size(), 0.1 * inputs.size());

  for (const auto& in : inputs) {
    const auto source = store->source_by_hash(sha256_file(library / in.name));
    ASSERT_TRUE(source) << in.name;
    EXPECT_EQ(source->state, "done");
    EXPECT_EQ(source->sample_rate, in.rate) << in.name;
    EXPECT_EQ(source->channels, in.channels) << in.name;
    EXPECT_EQ(fs::path(source->path), fs::absolute(library / in.name).lexically_normal());
    const auto samples = store->samples_of(source->id);
    ASSERT_EQ(samples.size(), 2u) << in.name;
    EXPECT_DOUBLE_EQ(samples[1].start, 5.0);
    for (const auto& sample : samples) {
      EXPECT_EQ(decode_mono(home.root / sample.path, 22050).size(), 5u * 22050) << in.name;
      EXPECT_GT(decode_mono(home.root / sample.web_path, 22050).size(), 4u * 22050) << in.name;
      EXPECT_GT(sample.rms, 0.1);
      EXPECT_FALSE(sample.silent);
    }
  }
  EXPECT_EQ(stray_files(home, *store), std::vector<std::string>{});
}

TEST_F(IngestTest, AnIngestOfAnotherSampleFormatIsRefusedNamingBoth) {
  write_tone_file(library / "a.wav", 11.0, 44100, 1);
  run({library});
  EXPECT_EQ(store->sample_format(), (SampleFormat{22050, 5}));
  const size_t samples = store->samples().size();
  write_tone_file(library / "b.wav", 12.0, 44100, 1);  // other content than a.wav
  options.rate = 16000;
  try {
    run({library});
    FAIL() << "a second sample format was ingested";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("22050 Hz, 5 s"), std::string::npos) << message;
    EXPECT_NE(message.find("16000 Hz, 5 s"), std::string::npos) << message;
    EXPECT_NE(message.find(home.root.string()), std::string::npos) << message;
  }
  EXPECT_EQ(store->samples().size(), samples);  // nothing of b.wav
  options.rate = 22050;
  EXPECT_EQ(run({library}).ingested, 1u);  // in the home's format it goes in
}

TEST_F(IngestTest, TagsAreRecorded) {
  const fs::path plain = library / "plain.wav";
  write_tone_file(plain, 5.5, 22050, 1);
  const fs::path tagged = library / "tagged.mp3";
  ASSERT_EQ(testing::run_shell("ffmpeg -v quiet -i " + plain.string() +
                               " -metadata title=Blue -metadata artist=Trio -metadata album=Live " +
                               tagged.string()),
            0);
  run({tagged});
  const auto source = store->source_by_hash(sha256_file(tagged));
  ASSERT_TRUE(source);
  EXPECT_EQ(source->title, "Blue");
  EXPECT_EQ(source->artist, "Trio");
  EXPECT_EQ(source->album, "Live");
  EXPECT_EQ(source->codec, "mp3");
}

TEST_F(IngestTest, EveryBadInputIsOneLineNamingTheFileAndTheRestGoesOn) {
  const fs::path good = library / "good.flac";
  write_tone_file(good, 6.0, 44100, 2);
  const fs::path empty = library / "empty.mp3";
  write_bytes(empty, "");
  const fs::path text = library / "notes.mp3";
  write_bytes(text, std::string(4096, 'x'));
  const fs::path video = library / "video.mkv";
  ASSERT_EQ(
      testing::run_shell("ffmpeg -v quiet -f lavfi -i color=c=red:s=32x32:d=0.5 " + video.string()),
      0);
  const fs::path gutted = library / "gutted.wav";  // header only: every sample cut off
  write_tone_file(gutted, 6.0, 22050, 1);
  fs::resize_file(gutted, 44);
  const fs::path missing = library / "missing.ogg";

  const IngestSummary summary = run({good, empty, text, video, gutted, missing});
  EXPECT_EQ(summary.ingested, 1u);
  EXPECT_EQ(summary.failed, 5u);
  ASSERT_EQ(summary.errors.size(), 5u);
  EXPECT_EQ(errors, summary.errors);
  for (const fs::path& bad : {empty, text, video, gutted, missing}) {
    const auto line = std::find_if(errors.begin(), errors.end(), [&](const std::string& e) {
      return e.rfind(bad.string() + ": ", 0) == 0;
    });
    ASSERT_NE(line, errors.end()) << bad;
    EXPECT_EQ(line->find('\n'), std::string::npos) << *line;
  }
  EXPECT_NE(std::find(errors.begin(), errors.end(), missing.string() + ": no such file or folder"),
            errors.end());
  EXPECT_NE(std::find(errors.begin(), errors.end(), video.string() + ": no audio stream"),
            errors.end());
  EXPECT_NE(std::find(errors.begin(), errors.end(), empty.string() + ": empty file (0 bytes)"),
            errors.end());
  // Failed files leave nothing under the home: only the good file has a sample folder.
  const auto folders = std::distance(fs::directory_iterator(home.samples()), {});
  EXPECT_EQ(folders, 1);
}

TEST_F(IngestTest, AFileTooShortForOneSampleIsNamed) {
  // A truncated MP3 that decodes to a moment was "ingested" without a word.
  const fs::path moment = library / "moment.wav";
  write_tone_file(moment, 0.05, 22050, 1);
  const IngestSummary summary = run({moment});
  EXPECT_EQ(summary.ingested, 1u);
  EXPECT_EQ(summary.empty, 1u);
  ASSERT_EQ(summary.errors.size(), 1u);
  EXPECT_EQ(summary.errors[0].rfind(moment.string() + ": gave no sample (0.05 s of audio", 0), 0u)
      << summary.errors[0];
}

TEST_F(IngestTest, TruncatedFileKeepsTheSamplesThatDecode) {
  const fs::path whole = library / "whole.mp3";
  write_tone_file(whole, 21.0, 44100, 2);
  fs::resize_file(whole, fs::file_size(whole) / 2);
  const IngestSummary summary = run({whole});
  EXPECT_EQ(summary.ingested, 1u);
  EXPECT_EQ(summary.samples, 2u);  // about 10.5 s survive
}

TEST_F(IngestTest, RerunIsIdempotentAndSameContentUnderAnotherNameIsSkipped) {
  write_tone_file(library / "one.flac", 10.0, 22050, 1);
  write_tone_file(library / "two.mp3", 10.0, 22050, 2, 330.0);
  EXPECT_EQ(run({library}).samples, 4u);
  const auto before = store->status();

  fs::copy_file(library / "one.flac", library / "copy-of-one.flac");
  const IngestSummary again = run({library});
  EXPECT_EQ(again.ingested, 0u);
  EXPECT_EQ(again.skipped, 3u);
  EXPECT_EQ(again.samples, 0u);
  const auto after = store->status();
  EXPECT_EQ(after.sources, before.sources);
  EXPECT_EQ(after.samples, before.samples);
  EXPECT_EQ(stray_files(home, *store), std::vector<std::string>{});
}

TEST_F(IngestTest, DigitalSilenceIsMarkedNotDropped) {
  std::vector<float> audio(10 * 22050, 0.0f);
  const auto loud = tone(5.0, 22050);
  std::copy(loud.begin(), loud.end(), audio.begin() + 5 * 22050);
  write_audio(library / "half-silent.flac", audio, 22050);
  const IngestSummary summary = run({library / "half-silent.flac"});
  EXPECT_EQ(summary.samples, 2u);
  EXPECT_EQ(summary.silent, 1u);
  const auto samples = store->samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_TRUE(samples[0].silent);
  EXPECT_FALSE(samples[1].silent);
  EXPECT_EQ(samples[0].rms, 0.0);
}

TEST_F(IngestTest, OverlappingHopLengthAndRateAreHonoured) {
  options.length = 2;
  options.hop = 1;
  options.rate = 16000;
  write_tone_file(library / "five.wav", 5.5, 44100, 1);
  const IngestSummary summary = run({library});
  EXPECT_EQ(summary.samples, 4u);  // starts 0, 1, 2, 3 (3-5 s is the last whole one)
  EXPECT_NEAR(summary.tail_seconds, 0.5, 0.01);
  std::set<double> starts;
  for (const auto& sample : store->samples()) {
    starts.insert(sample.start);
    EXPECT_EQ(decode_mono(home.root / sample.path, 16000).size(), 2u * 16000);
    EXPECT_DOUBLE_EQ(sample.duration, 2.0);
  }
  EXPECT_EQ(starts, (std::set<double>{0, 1, 2, 3}));
}

TEST_F(IngestTest, ParallelJobsGiveTheSameResult) {
  for (int i = 0; i < 4; ++i)
    write_tone_file(library / ("song" + std::to_string(i) + ".flac"), 10.0, 22050, 1,
                    200.0 + 50 * i);
  options.jobs = 2;
  const IngestSummary summary = run({library});
  EXPECT_EQ(summary.ingested, 4u);
  EXPECT_EQ(summary.samples, 8u);
  EXPECT_EQ(store->samples().size(), 8u);
  EXPECT_EQ(stray_files(home, *store), std::vector<std::string>{});
}

TEST_F(IngestTest, StrayFilesOfAnInterruptedSourceAreRemovedAndItIsCompleted) {
  const fs::path song = library / "song.flac";
  write_tone_file(song, 15.0, 22050, 1);
  // What a run killed mid-file leaves: a claimed source, one committed sample, a clip renamed
  // into place without its record, and temp files.
  Source source;
  source.path = song.string();
  source.hash = sha256_file(song);
  const ClaimResult claim = store->claim_source(source, "elsewhere:1");
  const std::string folder = "samples/" + source.hash + "/";
  fs::create_directories(home.root / folder);
  write_audio(home.root / folder / "0000000000.flac", tone(5.0, 22050), 22050);
  write_audio(home.root / folder / "0000000000.mp3", tone(5.0, 22050), 22050);
  Sample first;
  first.source_id = claim.source_id;
  first.duration = 5;
  first.path = folder + "0000000000.flac";
  first.web_path = folder + "0000000000.mp3";
  store->add_sample(first);
  write_bytes(home.root / folder / "0000005000.flac", "renamed, never committed");
  write_bytes(home.root / folder / ".tmp-0000010000.flac", "half written");

  const IngestSummary summary = run({song});
  EXPECT_EQ(summary.ingested, 1u);
  EXPECT_EQ(summary.samples, 2u);  // 5 s and 10 s; the first was already there
  EXPECT_EQ(summary.stray_files_removed, 2u);
  EXPECT_EQ(store->samples_of(claim.source_id).size(), 3u);
  EXPECT_EQ(store->source(claim.source_id)->state, "done");
  EXPECT_EQ(stray_files(home, *store), std::vector<std::string>{});
}

TEST_F(IngestTest, InvalidOptionsAreRefused) {
  options.hop = 0;
  EXPECT_THROW(run({library}), Error);
  options.hop = 5;
  options.rate = 10;
  EXPECT_THROW(run({library}), Error);
}

TEST(FindAudioFiles, WalksFoldersSortedAndKeepsExplicitFiles) {
  TempDir dir;
  fs::create_directories(dir / "a/b");
  write_bytes(dir / "a/b/2.mp3", "x");
  write_bytes(dir / "a/1.FLAC", "x");
  write_bytes(dir / "a/readme.txt", "x");
  write_bytes(dir / "explicit.txt", "x");
  std::vector<std::string> errors;
  const auto files = find_audio_files({dir / "a", dir / "explicit.txt", dir / "nope"}, errors);
  EXPECT_EQ(files,
            (std::vector<fs::path>{dir / "a/1.FLAC", dir / "a/b/2.mp3", dir / "explicit.txt"}));
  EXPECT_EQ(errors, std::vector<std::string>{(dir / "nope").string() + ": no such file or folder"});
}

TEST(FindAudioFiles, BrokenLinksAreReportedNotSkipped) {
  TempDir dir;
  write_bytes(dir / "a/1.mp3", "x");
  fs::create_symlink(dir / "gone.mp3", dir / "a/2.mp3");
  fs::create_symlink(dir / "gone-folder", dir / "a/old albums");
  fs::create_directory_symlink(dir / "a", dir / "a/loop");  // a linked folder is not entered
  std::vector<std::string> errors;
  const auto files = find_audio_files({dir / "a"}, errors);
  EXPECT_EQ(files, std::vector<fs::path>{dir / "a/1.mp3"});
  std::sort(errors.begin(), errors.end());
  EXPECT_EQ(errors,
            (std::vector<std::string>{(dir / "a/2.mp3").string() + ": broken link (to " +
                                          (dir / "gone.mp3").string() + ")",
                                      (dir / "a/old albums").string() + ": broken link (to " +
                                          (dir / "gone-folder").string() + ")"}));
}

}  // namespace
}  // namespace sax
