// Files that change: while they are ingested (read again or refused, never half-recorded), and
// between two ingests (the new content replaces the old source; votes move or are retired).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>

#include "audio/audio.h"
#include "forwarding_store.h"
#include "ingest/ingest.h"
#include "ingest_support.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::tone;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void append_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

// Appends to a file right after the store records a sample, as a download or a recording in
// progress would while the file is ingested: the first `times` samples recorded each append
// the next piece of `pieces` (the last one again once they run out).
class AppendingStore final : public testing::ForwardingStore {
 public:
  AppendingStore(std::unique_ptr<Store> inner, fs::path file, std::vector<std::string> pieces,
                 int times)
      : ForwardingStore(std::move(inner)),
        file_(std::move(file)),
        pieces_(std::move(pieces)),
        times_(times) {}

  int64_t add_sample(const Sample& sample, const std::function<void()>& make_visible) override {
    const int64_t id = ForwardingStore::add_sample(sample, make_visible);
    if (appended_ < times_) {
      append_bytes(file_, pieces_[std::min<size_t>(appended_, pieces_.size() - 1)]);
      ++appended_;
    }
    return id;
  }

 private:
  fs::path file_;
  std::vector<std::string> pieces_;
  int times_;
  int appended_ = 0;
};

class ChangedFileTest : public ::testing::Test {
 protected:
  ChangedFileTest() : home{dir / "home"}, library(dir / "library") {
    fs::create_directories(library);
    options.progress = Progress::Mode::never;
  }

  IngestSummary run(Store& store, const fs::path& file) {
    return ingest({file}, store, home, options,
                  [this](const std::string& line) { errors.push_back(line); });
  }

  // The bytes of a 20 s WAV file split in two: about 9 s (its header claims all 20 s, as a
  // file still being written), then the rest.
  std::vector<std::string> wav_in_two_pieces() {
    const fs::path whole = dir / "whole.wav";
    write_tone_file(whole, 20.0, 22050, 1);
    const std::string bytes = read_bytes(whole);
    const size_t cut = bytes.size() * 45 / 100;
    return {bytes.substr(0, cut), bytes.substr(cut)};
  }

  TempDir dir;
  Home home;
  fs::path library;
  IngestOptions options;
  std::vector<std::string> errors;
};

TEST_F(ChangedFileTest, AFileAppendedWhileIngestedIsReadAgainAndRecordedAsItEnds) {
  const fs::path song = library / "downloading.wav";
  const auto pieces = wav_in_two_pieces();
  testing::write_bytes(song, pieces[0]);
  AppendingStore store(open_store(home), song, {pieces[1]}, /*times=*/1);

  const IngestSummary summary = run(store, song);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(summary.ingested, 1u);
  EXPECT_EQ(summary.rescanned, 1u);
  EXPECT_EQ(summary.samples, 4u);  // all 20 s, from the second read
  const auto sources = store.sources();
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_EQ(sources[0].hash, sha256_file(song)) << "the hash names the audio the samples hold";
  const std::string whole = pieces[0] + pieces[1];
  EXPECT_EQ(sha256_file(song), sha256_bytes(whole.data(), whole.size()));
  EXPECT_EQ(store.samples_of(sources[0].id).size(), 4u);
  EXPECT_EQ(stray_files(home, store), std::vector<std::string>{});
}

TEST_F(ChangedFileTest, AFileThatKeepsChangingIsRefusedByNameAndLeavesNothing) {
  const fs::path song = library / "recording.wav";
  write_tone_file(song, 20.0, 22050, 1);
  AppendingStore store(open_store(home), song, {std::string(4096, '\0')}, /*times=*/1000);

  const IngestSummary summary = run(store, song);
  EXPECT_EQ(summary.ingested, 0u);
  EXPECT_EQ(summary.failed, 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(song.string()), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("changed while it was being ingested"), std::string::npos) << errors[0];
  EXPECT_TRUE(store.sources().empty());
  EXPECT_TRUE(store.samples().empty());
  EXPECT_EQ(stray_files(home, store), std::vector<std::string>{});
}

// Two 5 s tones and then, re-saved, the first of them and two others.
TEST_F(ChangedFileTest, AReingestedChangedFileReplacesItsSourceMovingOrKeepingItsVotes) {
  const fs::path song = library / "song.wav";
  auto audio = tone(5.0, 22050, 1, 300.0);
  const auto second = tone(5.0, 22050, 1, 500.0);
  audio.insert(audio.end(), second.begin(), second.end());
  write_audio(song, audio, 22050);
  auto store = open_store(home);
  ASSERT_EQ(run(*store, song).samples, 2u);
  const auto old_samples = store->samples();
  ASSERT_EQ(old_samples.size(), 2u);
  store->add_vote(old_samples[0].id, "ana", Label::sax);
  store->add_vote(old_samples[1].id, "ana", Label::not_sax);
  store->add_vote(old_samples[1].id, "bob", Label::sax);

  auto changed = tone(5.0, 22050, 1, 300.0);
  for (double hz : {700.0, 900.0}) {
    const auto more = tone(5.0, 22050, 1, hz);
    changed.insert(changed.end(), more.begin(), more.end());
  }
  write_audio(song, changed, 22050);
  const IngestSummary summary = run(*store, song);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(summary.ingested, 1u);
  EXPECT_EQ(summary.replaced, 1u);
  EXPECT_EQ(summary.votes_moved, 1u);    // ana's on the first 5 s, which did not change
  EXPECT_EQ(summary.votes_retired, 2u);  // both on the 5 s that did

  const auto sources = store->sources();
  ASSERT_EQ(sources.size(), 1u) << "one source per path";
  EXPECT_EQ(sources[0].hash, sha256_file(song));
  const auto samples = store->samples();
  ASSERT_EQ(samples.size(), 3u);
  const auto votes = store->votes();
  ASSERT_EQ(votes.size(), 1u);
  EXPECT_EQ(votes[0].sample_id, samples[0].id);
  EXPECT_EQ(votes[0].annotator, "ana");
  EXPECT_EQ(votes[0].label, Label::sax);

  const auto retired = store->retired_votes();
  ASSERT_EQ(retired.size(), 2u);
  std::set<std::string> who;
  for (const RetiredVote& vote : retired) {
    who.insert(vote.annotator + ":" + std::string(label_name(vote.label)));
    EXPECT_EQ(vote.source_path, fs::absolute(song).lexically_normal().string());
    EXPECT_DOUBLE_EQ(vote.start, 5.0);
    EXPECT_EQ(vote.sample_hash, old_samples[1].hash);
    EXPECT_TRUE(fs::exists(home.root / vote.sample_path)) << "the clip it labelled stays";
  }
  EXPECT_EQ(who, (std::set<std::string>{"ana:not_sax", "bob:sax"}));
  EXPECT_FALSE(fs::exists(home.root / old_samples[0].path)) << "no vote needs it any more";
  EXPECT_EQ(stray_files(home, *store), std::vector<std::string>{});
}

// The file changes and then changes back: its first content's folder comes back into use, and
// the clip a retired vote points at is not taken for a stray file there.
TEST_F(ChangedFileTest, ContentThatComesBackKeepsTheClipsOfItsRetiredVotes) {
  const fs::path song = library / "song.wav";
  write_tone_file(song, 10.0, 22050, 1, 300.0);
  const std::string first = read_bytes(song);
  auto store = open_store(home);
  ASSERT_EQ(run(*store, song).samples, 2u);
  store->add_vote(store->samples()[1].id, "ana", Label::sax);
  write_tone_file(song, 10.0, 22050, 1, 700.0);
  ASSERT_EQ(run(*store, song).votes_retired, 1u);
  const RetiredVote retired = store->retired_votes().at(0);

  testing::write_bytes(song, first);
  const IngestSummary again = run(*store, song);
  EXPECT_EQ(again.ingested, 1u);
  EXPECT_EQ(again.stray_files_removed, 0u);
  EXPECT_TRUE(fs::exists(home.root / retired.sample_path));
  EXPECT_EQ(store->sources().size(), 1u);
  EXPECT_EQ(stray_files(home, *store), std::vector<std::string>{});
}

}  // namespace
}  // namespace sax
