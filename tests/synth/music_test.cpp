// The arrangement generator: styles, sax placement, ranges, determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"
#include "synth/music.h"

using namespace sax::synth;

namespace {

// Sounding ranges of the GM saxophones (zero-based programs 64-67).
const std::map<int, std::pair<int, int>> kSaxRange{
    {64, {56, 87}}, {65, {49, 80}}, {66, {44, 76}}, {67, {36, 69}}};

std::set<int> sax_channels(const Arrangement& song) {
  std::set<int> channels;
  for (const Part& part : song.parts)
    if (part.sax) channels.insert(part.channel);
  return channels;
}

}  // namespace

TEST(Arrange, EveryStyleHasBandAndLeads) {
  for (Style style : kStyles) {
    SCOPED_TRACE(style_name(style));
    Arrangement song = arrange(style, 40, true, 7);
    std::set<std::string> roles;
    for (const Part& part : song.parts) roles.insert(part.role);
    EXPECT_TRUE(roles.count("bass"));
    EXPECT_TRUE(roles.count("comping"));
    EXPECT_TRUE(roles.count("lead"));
    EXPECT_EQ(roles.count("drums"), style == Style::chamber ? 0u : 1u);
    EXPECT_GE(song.tempo, 60);
    EXPECT_LE(song.tempo, 220);
    EXPECT_NEAR(song.seconds, 40, 12);
    EXPECT_GT(song.notes.size(), 100u);
    for (const Note& note : song.notes) {
      EXPECT_GE(note.start, 0);
      EXPECT_LT(note.start + note.duration, song.seconds);
    }
  }
}

TEST(Arrange, DrumsUseGmChannelTen) {
  Arrangement song = arrange(Style::rock, 20, false, 3);
  bool drums = false;
  for (const Part& part : song.parts)
    if (part.role == "drums") {
      drums = true;
      EXPECT_EQ(part.channel, 9);
      EXPECT_EQ(part.bank, kDrumBank);
    } else {
      EXPECT_NE(part.channel, 9) << part.instrument;
    }
  EXPECT_TRUE(drums);
}

TEST(Arrange, SaxSongsHaveSaxAndNoSaxSections) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    Arrangement song = arrange(kStyles[seed % 6], 12, true, seed);
    SCOPED_TRACE(style_name(song.style) + " seed " + std::to_string(seed));
    ASSERT_EQ(sax_channels(song).size(), 1u);
    int sax = 0, other = 0;
    for (const Section& section : song.sections) (section.sax ? sax : other)++;
    EXPECT_GE(sax, 1);
    EXPECT_GE(other, 1);
    EXPECT_GT(song.sections.front().start, 0) << "the intro has no lead";
  }
}

TEST(Arrange, NoSaxSongsHaveNoSaxButAConfusableLead) {
  std::set<std::string> leads;
  for (uint64_t seed = 1; seed <= 18; ++seed) {
    Arrangement song = arrange(kStyles[seed % 6], 30, false, seed);
    EXPECT_TRUE(sax_channels(song).empty());
    for (const Part& part : song.parts)
      EXPECT_FALSE(is_sax_program(part.program) && part.bank == 0);
    for (const Section& section : song.sections)
      if (!section.lead.empty()) leads.insert(section.lead);
  }
  EXPECT_GE(leads.size(), 5u) << "hard negatives come from many instruments";
}

TEST(Arrange, SaxNotesStayInTheirRealRange) {
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    Arrangement song = arrange(kStyles[seed % 6], 30, true, seed);
    for (const Part& part : song.parts) {
      if (!part.sax) continue;
      auto [low, high] = kSaxRange.at(part.program);
      for (const Note& note : song.notes)
        if (note.channel == part.channel) {
          EXPECT_GE(note.key, low) << part.instrument;
          EXPECT_LE(note.key, high) << part.instrument;
        }
    }
  }
}

TEST(Arrange, LeadPlaysPhrasesWithRests) {
  int notes = 0, rests = 0, steps = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Arrangement song = arrange(kStyles[seed % 6], 40, true, seed);
    int channel = *sax_channels(song).begin();
    std::vector<Note> line;
    for (const Note& note : song.notes)
      if (note.channel == channel) line.push_back(note);
    notes += static_cast<int>(line.size());
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i].start - (line[i - 1].start + line[i - 1].duration) > 0.4) ++rests;
      if (std::abs(line[i].key - line[i - 1].key) <= 4) ++steps;
    }
  }
  ASSERT_GT(notes, 60);
  EXPECT_GE(rests, 6) << "phrases are separated by rests";
  EXPECT_GT(steps, notes / 2) << "mostly stepwise melody, not random notes";
}

TEST(Arrange, SameSeedSameSongOtherSeedOtherSong) {
  Arrangement a = arrange(Style::funk, 20, true, 5), b = arrange(Style::funk, 20, true, 5);
  Arrangement c = arrange(Style::funk, 20, true, 6);
  ASSERT_EQ(a.notes.size(), b.notes.size());
  for (size_t i = 0; i < a.notes.size(); ++i) {
    EXPECT_EQ(a.notes[i].start, b.notes[i].start);
    EXPECT_EQ(a.notes[i].key, b.notes[i].key);
    EXPECT_EQ(a.notes[i].velocity, b.notes[i].velocity);
  }
  EXPECT_TRUE(a.notes.size() != c.notes.size() || a.key != c.key || a.tempo != c.tempo);
}

TEST(Arrange, RepeatedKeyNeverOverlapsItself) {
  Arrangement song = arrange(Style::latin, 30, true, 9);
  std::map<std::pair<int, int>, double> ends;
  for (const Note& note : song.notes) {
    auto slot = std::make_pair(note.channel, note.key);
    if (ends.count(slot)) {
      EXPECT_LE(ends[slot], note.start + 1e-9);
    }
    ends[slot] = note.start + note.duration;
  }
}

TEST(Arrange, StyleNamesRoundTrip) {
  for (Style style : kStyles) EXPECT_EQ(parse_style(style_name(style)), style);
  EXPECT_THROW(parse_style("polka"), sax::Error);
}

TEST(Arrange, EachLeadInstrumentIsOnePart) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Arrangement song = arrange(kStyles[seed % 6], 60, seed % 2 == 0, seed);
    std::set<std::string> names;
    for (const Part& part : song.parts)
      EXPECT_TRUE(names.insert(part.instrument).second) << part.instrument << " seed " << seed;
  }
}
