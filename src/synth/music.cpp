#include "synth/music.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/error.h"
#include "synth/random.h"

namespace sax::synth {
namespace {

// ---- instruments ------------------------------------------------------------------------

struct Instrument {
  int program;
  std::string name;
  int low, high;  // MIDI keys the line stays within (inside the instrument's real range)
};

const Instrument kSoprano{64, "soprano sax", 58, 84};
const Instrument kAlto{65, "alto sax", 51, 79};
const Instrument kTenor{66, "tenor sax", 46, 74};
const Instrument kBaritone{67, "baritone sax", 38, 65};

const Instrument kClarinet{71, "clarinet", 52, 84};
const Instrument kOboe{68, "oboe", 60, 86};
const Instrument kEnglishHorn{69, "english horn", 52, 77};
const Instrument kBassoon{70, "bassoon", 38, 67};
const Instrument kTrumpet{56, "trumpet", 55, 80};
const Instrument kMutedTrumpet{59, "muted trumpet", 55, 79};
const Instrument kTrombone{57, "trombone", 41, 70};
const Instrument kFrenchHorn{60, "french horn", 45, 72};
const Instrument kFlute{73, "flute", 62, 91};
const Instrument kHarmonica{22, "harmonica", 60, 84};
const Instrument kSynthLead{81, "synth lead", 52, 80};
const Instrument kDistortedGuitar{30, "distorted guitar", 48, 79};
const Instrument kVoice{52, "voice aahs", 52, 76};

// Leads a listener confuses with saxophone: the hard negatives.
const std::vector<Instrument> kAllConfusers{
    kClarinet,   kOboe,  kEnglishHorn, kBassoon,   kTrumpet,         kMutedTrumpet, kTrombone,
    kFrenchHorn, kFlute, kHarmonica,   kSynthLead, kDistortedGuitar, kVoice};

enum class Comp { chords, stabs, chops, arpeggio, pad, power, montuno, four_to_bar };

struct Comper {
  Instrument instrument;
  Comp pattern;
};

// ---- harmony ----------------------------------------------------------------------------

struct ChordSpec {
  int root;             // semitones above the tonic
  std::string quality;  // key of kQualities
  double beats;
};
using Progression = std::vector<ChordSpec>;

const std::map<std::string, std::vector<int>> kQualities{
    {"maj", {0, 4, 7}},      {"min", {0, 3, 7}},      {"7", {0, 4, 7, 10}},
    {"maj7", {0, 4, 7, 11}}, {"m7", {0, 3, 7, 10}},   {"m7b5", {0, 3, 6, 10}},
    {"dim", {0, 3, 6}},      {"sus", {0, 5, 7}},      {"6", {0, 4, 7, 9}},
    {"m6", {0, 3, 7, 9}},    {"9", {0, 4, 7, 10, 14}}};

struct Chord {
  int root_pc = 0;
  std::vector<int> intervals;
  double start = 0, beats = 4;  // in beats from the song start
  bool has(int pitch_class) const {
    for (int i : intervals)
      if ((root_pc + i) % 12 == pitch_class) return true;
    return false;
  }
};

const std::vector<int> kMajorScale{0, 2, 4, 5, 7, 9, 11};
const std::vector<int> kMinorScale{0, 2, 3, 5, 7, 8, 10};
const char* const kPitchNames[] = {"C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"};

// ---- style presets ----------------------------------------------------------------------

struct Preset {
  double tempo_low, tempo_high;
  double minor_share;
  double swing;  // where an off-beat eighth falls (0.5 straight, ~0.62 swung)
  std::vector<Progression> major, minor;
  std::vector<int> drum_kits;  // bank-128 programs; empty: no drums
  std::vector<Instrument> basses;
  std::vector<Comper> compers;
  std::vector<Instrument> saxes;
  std::vector<Instrument> confusers;
  std::vector<double> rhythm;  // lead note lengths in beats
};

Progression P(std::initializer_list<ChordSpec> chords) { return chords; }

Preset swing_preset() {
  return {110,
          210,
          0.3,
          0.63,
          {P({{2, "m7", 4}, {7, "7", 4}, {0, "maj7", 4}, {9, "7", 4}}),
           P({{0, "maj7", 4}, {9, "m7", 4}, {2, "m7", 4}, {7, "7", 4}}),
           P({{4, "m7", 2}, {9, "7", 2}, {2, "m7", 2}, {7, "7", 2}, {0, "6", 4}, {0, "6", 4}})},
          {P({{2, "m7b5", 4}, {7, "7", 4}, {0, "m6", 4}, {0, "m6", 4}}),
           P({{0, "m7", 4}, {5, "m7", 4}, {10, "7", 4}, {3, "maj7", 4}})},
          {32, 40},
          {{32, "acoustic bass", 28, 52}},
          {{{0, "piano", 50, 72}, Comp::chords},
           {{26, "jazz guitar", 48, 70}, Comp::four_to_bar},
           {{16, "organ", 50, 74}, Comp::pad},
           {{11, "vibraphone", 55, 79}, Comp::chords}},
          {kAlto, kTenor, kTenor, kBaritone, kSoprano},
          {kTrumpet, kMutedTrumpet, kTrombone, kClarinet, kFlute},
          {0.5, 0.5, 0.5, 1, 1, 1.5, 2}};
}

Preset funk_preset() {
  return {88,
          118,
          0.6,
          0.5,
          {P({{0, "9", 4}, {0, "9", 4}, {5, "9", 4}, {0, "9", 4}}),
           P({{0, "7", 8}, {5, "7", 4}, {7, "7", 4}})},
          {P({{0, "m7", 4}, {0, "m7", 4}, {5, "7", 4}, {0, "m7", 4}}),
           P({{0, "m7", 4}, {10, "7", 4}, {8, "maj7", 4}, {7, "7", 4}})},
          {0, 8},
          {{33, "electric bass", 28, 55}, {36, "slap bass", 28, 55}},
          {{{28, "muted guitar", 55, 74}, Comp::chops},
           {{27, "clean guitar", 55, 76}, Comp::chops},
           {{4, "electric piano", 52, 74}, Comp::stabs},
           {{7, "clavinet", 55, 76}, Comp::stabs},
           {{17, "percussive organ", 52, 74}, Comp::pad}},
          {kTenor, kAlto, kBaritone, kTenor},
          {kTrumpet, kTrombone, kSynthLead, kHarmonica, kFlute},
          {0.25, 0.5, 0.5, 0.75, 1, 1.5}};
}

Preset ballad_preset() {
  return {62,
          84,
          0.35,
          0.5,
          {P({{0, "maj", 4}, {9, "min", 4}, {5, "maj", 4}, {7, "maj", 4}}),
           P({{0, "maj7", 4}, {7, "maj", 4}, {9, "m7", 4}, {5, "maj7", 4}}),
           P({{5, "maj7", 4}, {7, "sus", 2}, {7, "maj", 2}, {4, "m7", 4}, {9, "m7", 4}})},
          {P({{0, "min", 4}, {8, "maj", 4}, {3, "maj", 4}, {10, "maj", 4}}),
           P({{0, "m7", 4}, {5, "m7", 4}, {7, "7", 4}, {0, "m7", 4}})},
          {0, 40},
          {{33, "electric bass", 28, 52}, {35, "fretless bass", 28, 52}},
          {{{0, "piano", 45, 76}, Comp::arpeggio},
           {{48, "strings", 48, 74}, Comp::pad},
           {{49, "slow strings", 48, 74}, Comp::pad},
           {{4, "electric piano", 48, 72}, Comp::arpeggio},
           {{24, "nylon guitar", 45, 71}, Comp::arpeggio}},
          {kAlto, kSoprano, kTenor},
          {kFlute, kOboe, kVoice, kClarinet, kFrenchHorn, kHarmonica},
          {0.5, 1, 1, 1.5, 2, 3}};
}

Preset rock_preset() {
  return {96,
          150,
          0.35,
          0.5,
          {P({{0, "maj", 4}, {10, "maj", 4}, {5, "maj", 4}, {0, "maj", 4}}),
           P({{0, "maj", 4}, {5, "maj", 4}, {7, "maj", 4}, {5, "maj", 4}}),
           P({{9, "min", 4}, {5, "maj", 4}, {0, "maj", 4}, {7, "maj", 4}})},
          {P({{0, "min", 4}, {10, "maj", 4}, {8, "maj", 4}, {10, "maj", 4}})},
          {0, 16, 8},
          {{34, "picked bass", 28, 52}, {33, "electric bass", 28, 52}},
          {{{29, "overdriven guitar", 40, 64}, Comp::power},
           {{30, "distortion guitar", 40, 64}, Comp::power},
           {{16, "organ", 52, 74}, Comp::pad},
           {{1, "bright piano", 52, 76}, Comp::chords}},
          {kTenor, kBaritone, kAlto},
          {kDistortedGuitar, kHarmonica, kSynthLead, kTrumpet, kVoice},
          {0.5, 0.5, 1, 1, 1.5, 2}};
}

Preset latin_preset() {
  return {90,
          180,
          0.55,
          0.5,
          {P({{0, "maj7", 4}, {2, "m7", 4}, {7, "7", 4}, {0, "maj7", 4}}),
           P({{0, "maj", 4}, {5, "maj", 4}, {7, "7", 4}, {5, "maj", 4}})},
          {P({{0, "min", 4}, {5, "min", 4}, {7, "7", 4}, {0, "min", 4}}),
           P({{0, "min", 4}, {10, "maj", 4}, {8, "maj", 4}, {7, "7", 4}})},
          {0},
          {{32, "acoustic bass", 28, 52}, {33, "electric bass", 28, 52}},
          {{{0, "piano", 55, 79}, Comp::montuno},
           {{24, "nylon guitar", 48, 71}, Comp::chords},
           {{48, "strings", 52, 76}, Comp::pad}},
          {kAlto, kTenor, kSoprano},
          {kTrumpet, kTrombone, kFlute, kClarinet},
          {0.5, 0.5, 1, 1, 1.5, 2}};
}

Preset chamber_preset() {
  return {66,
          112,
          0.45,
          0.5,
          {P({{0, "maj", 4}, {5, "maj", 4}, {7, "7", 4}, {0, "maj", 4}}),
           P({{0, "maj", 4}, {9, "min", 4}, {2, "min", 4}, {7, "7", 4}})},
          {P({{0, "min", 4}, {5, "min", 4}, {7, "7", 4}, {0, "min", 4}}),
           P({{0, "min", 4}, {8, "maj", 4}, {2, "dim", 4}, {7, "7", 4}})},
          {},
          {{42, "cello", 36, 60}, {43, "contrabass", 28, 52}},
          {{{48, "strings", 50, 76}, Comp::pad},
           {{46, "harp", 48, 79}, Comp::arpeggio},
           {{0, "piano", 48, 76}, Comp::arpeggio},
           {{41, "viola", 50, 72}, Comp::pad}},
          {kSoprano, kAlto, kTenor, kBaritone},
          {kClarinet, kOboe, kBassoon, kFrenchHorn, kFlute, kEnglishHorn},
          {0.5, 1, 1, 1.5, 2, 3}};
}

Preset preset_for(Style style) {
  switch (style) {
    case Style::swing:
      return swing_preset();
    case Style::funk:
      return funk_preset();
    case Style::ballad:
      return ballad_preset();
    case Style::rock:
      return rock_preset();
    case Style::latin:
      return latin_preset();
    case Style::chamber:
      return chamber_preset();
  }
  return swing_preset();
}

std::string kit_name(int program) {
  switch (program) {
    case 8:
      return "drums (room kit)";
    case 16:
      return "drums (power kit)";
    case 32:
      return "drums (jazz kit)";
    case 40:
      return "drums (brush kit)";
    default:
      return "drums (standard kit)";
  }
}

// GM percussion keys.
enum Drum : int {
  kick = 36,
  side_stick = 37,
  snare = 38,
  closed_hat = 42,
  pedal_hat = 44,
  open_hat = 46,
  low_tom = 45,
  mid_tom = 47,
  high_tom = 50,
  crash = 49,
  ride = 51,
  cowbell = 56,
  high_conga = 62,
  open_conga = 63,
  low_conga = 64,
  shaker = 70,
  claves = 75
};

// ---- the song being written -------------------------------------------------------------

class Writer {
 public:
  Writer(Style style, double seconds, bool with_sax, uint64_t seed)
      : rng_(seed), preset_(preset_for(style)), with_sax_(with_sax), target_seconds_(seconds) {
    song_.style = style;
  }

  Arrangement write() {
    choose_feel();
    plan_form();
    plan_harmony();
    choose_band();
    write_drums();
    write_bass();
    write_comping();
    write_leads();
    write_ending();
    finish();
    return std::move(song_);
  }

 private:
  // ---- time ----
  double beat_seconds() const { return 60.0 / song_.tempo; }
  // Swing moves off-beat eighths late; everything else sits on the grid.
  double seconds_at(double beat) const {
    double whole = std::floor(beat);
    double fraction = beat - whole;
    if (std::abs(fraction - 0.5) < 1e-9) fraction = preset_.swing;
    return (whole + fraction) * beat_seconds();
  }

  void add_note(int channel, double beat, double beats, int key, int velocity,
                double jitter_scale = 1.0) {
    double start = seconds_at(beat) + rng_.gaussian() * timing_jitter_ * jitter_scale;
    double end = seconds_at(beat + beats);
    Note note;
    note.start = std::max(0.0, start);
    note.duration = std::max(0.03, end - note.start);
    note.channel = channel;
    note.key = std::clamp(key, 0, 127);
    note.velocity =
        std::clamp(velocity + static_cast<int>(std::lround(rng_.gaussian() * 5)), 20, 127);
    song_.notes.push_back(note);
  }

  // ---- feel: tempo, key, humanisation, effects ----
  void choose_feel() {
    song_.tempo = std::round(rng_.uniform(preset_.tempo_low, preset_.tempo_high));
    minor_ = rng_.chance(preset_.minor_share);
    tonic_ = rng_.range(0, 11);
    song_.key = std::string(kPitchNames[tonic_]) + (minor_ ? " minor" : " major");
    timing_jitter_ = rng_.uniform(0.004, 0.012);
    Effects& fx = song_.effects;
    fx.room = rng_.uniform(0.2, 0.85);
    fx.damp = rng_.uniform(0.1, 0.6);
    fx.width = rng_.uniform(0.5, 1.0);
    fx.level = rng_.uniform(0.3, 0.8);
    fx.chorus_voices = rng_.range(2, 5);
    fx.chorus_level = rng_.uniform(0.5, 2.0);
    fx.chorus_speed = rng_.uniform(0.2, 0.6);
    fx.chorus_depth = rng_.uniform(3.0, 10.0);
    song_.loudness_db = rng_.uniform(-20.0, -13.0);
  }

  // ---- form: intro bar(s), lead sections, a final held chord ----
  void plan_form() {
    double bar = 4 * beat_seconds();
    bars_ = std::max(3, static_cast<int>(std::lround(target_seconds_ / bar)) - 1);
    section_bars_ = 1;
    while (section_bars_ < 8 && section_bars_ * 2 * bar <= 10.0) section_bars_ *= 2;
    while (section_bars_ > 1 && bars_ - 1 < 2 * section_bars_) section_bars_ /= 2;
    intro_bars_ = section_bars_ >= 4 ? 2 : 1;
    for (int start = intro_bars_; start < bars_; start += section_bars_)
      section_starts_.push_back(start);
    song_.seconds = (bars_ + 1) * bar + 2.0;  // the final chord, then room for the tails
  }

  void plan_harmony() {
    const auto& choices = minor_ ? preset_.minor : preset_.major;
    const Progression& progression = rng_.pick(choices);
    double beat = 0;
    size_t index = 0;
    while (beat < bars_ * 4.0) {
      const ChordSpec& spec = progression[index++ % progression.size()];
      chords_.push_back({(tonic_ + spec.root) % 12, kQualities.at(spec.quality), beat, spec.beats});
      beat += spec.beats;
    }
    chords_.push_back({tonic_, kQualities.at(minor_ ? "min" : "maj"), bars_ * 4.0, 4});
  }

  const Chord& chord_at(double beat) const {
    for (const Chord& chord : chords_)
      if (beat < chord.start + chord.beats - 1e-9) return chord;
    return chords_.back();
  }

  std::vector<int> scale_pitch_classes() const {
    std::vector<int> classes;
    for (int step : minor_ ? kMinorScale : kMajorScale) classes.push_back((tonic_ + step) % 12);
    return classes;
  }

  // ---- band ----
  // A new channel for the instrument, or the one it already has (a trombone that leads one
  // section and doubles the sax in another is one player).
  int add_part(const std::string& instrument, int program, const std::string& role, int volume,
               int bank = 0) {
    for (const Part& existing : song_.parts)
      if (existing.instrument == instrument) return existing.channel;
    Part part;
    part.channel = next_channel_++;
    if (next_channel_ == kDrumChannel) ++next_channel_;
    part.bank = bank;
    part.program = program;
    part.instrument = instrument;
    part.role = role;
    part.sax = bank == 0 && is_sax_program(program);
    part.volume = volume;
    part.pan = role == "lead" ? rng_.range(54, 74) : rng_.range(30, 98);
    part.reverb = rng_.range(20, 90);
    part.chorus = rng_.range(0, 40);
    song_.parts.push_back(part);
    return part.channel;
  }

  void choose_band() {
    if (!preset_.drum_kits.empty()) {
      int kit = rng_.pick(preset_.drum_kits);
      Part drums;
      drums.channel = kDrumChannel;
      drums.bank = kDrumBank;
      drums.program = kit;
      drums.instrument = kit_name(kit);
      drums.role = "drums";
      drums.volume = rng_.range(75, 105);
      drums.reverb = rng_.range(10, 60);
      song_.parts.push_back(drums);
    }
    bass_ = rng_.pick(preset_.basses);
    bass_channel_ = add_part(bass_.name, bass_.program, "bass", rng_.range(85, 110));
    std::vector<Comper> compers = preset_.compers;
    rng_.shuffle(compers);
    size_t count = rng_.chance(0.5) ? 2 : 1;
    for (size_t i = 0; i < count; ++i) {
      compers_.push_back(compers[i]);
      comp_channels_.push_back(add_part(compers[i].instrument.name, compers[i].instrument.program,
                                        "comping", rng_.range(55, 90)));
    }
  }

  // ---- drums ----
  struct Hit {
    double beat;
    int key;
    int velocity;
  };

  std::vector<Hit> drum_bar(Style style, int pattern) {
    switch (style) {
      case Style::swing: {
        std::vector<Hit> hits{
            {0, ride, 80},   {1, ride, 85},      {1.5, ride, 60},    {2, ride, 80}, {3, ride, 85},
            {3.5, ride, 60}, {1, pedal_hat, 60}, {3, pedal_hat, 60}, {0, kick, 35}, {2, kick, 30}};
        if (rng_.chance(0.4)) hits.push_back({rng_.range(0, 7) * 0.5, snare, 40});
        return hits;
      }
      case Style::funk: {
        std::vector<Hit> hits;
        for (int step = 0; step < 16; ++step)
          hits.push_back({step * 0.25, closed_hat, step % 2 == 0 ? 85 : 55});
        hits.push_back({1, snare, 105});
        hits.push_back({3, snare, 105});
        const std::vector<std::vector<double>> kicks{
            {0, 0.75, 2.5}, {0, 1.5, 2.75}, {0, 0.5, 2.25, 2.5}};
        for (double beat : kicks[pattern % kicks.size()]) hits.push_back({beat, kick, 100});
        for (int step = 0; step < 16; ++step)
          if (step % 4 != 0 && rng_.chance(0.12)) hits.push_back({step * 0.25, snare, 35});
        return hits;
      }
      case Style::ballad: {
        std::vector<Hit> hits{
            {0, kick, 80}, {2.5, kick, 60}, {1, side_stick, 70}, {3, side_stick, 70}};
        for (int step = 0; step < 8; ++step)
          hits.push_back({step * 0.5, closed_hat, step % 2 ? 40 : 60});
        return hits;
      }
      case Style::rock: {
        std::vector<Hit> hits{
            {0, kick, 105}, {2, kick, 95}, {2.5, kick, 90}, {1, snare, 110}, {3, snare, 110}};
        int cymbal = pattern % 2 ? ride : closed_hat;
        for (int step = 0; step < 8; ++step)
          hits.push_back({step * 0.5, cymbal, step % 2 ? 65 : 90});
        return hits;
      }
      case Style::latin: {
        std::vector<Hit> hits{{0, kick, 80},      {1.5, kick, 60},       {2, kick, 80},
                              {3.5, kick, 60},    {1.5, open_conga, 80}, {3.5, open_conga, 85},
                              {3, low_conga, 75}, {0, high_conga, 55}};
        for (int step = 0; step < 8; ++step)
          hits.push_back({step * 0.5, shaker, step % 2 ? 45 : 60});
        return hits;
      }
      case Style::chamber:
        return {};
    }
    return {};
  }

  void write_drums() {
    if (preset_.drum_kits.empty()) return;
    int pattern = rng_.range(0, 5);
    for (int bar = 0; bar < bars_; ++bar) {
      bool section_start =
          std::find(section_starts_.begin(), section_starts_.end(), bar) != section_starts_.end();
      bool fill = std::find(section_starts_.begin(), section_starts_.end(), bar + 1) !=
                  section_starts_.end();
      for (const Hit& hit : drum_bar(song_.style, pattern)) {
        if (fill && hit.beat >= 3) continue;
        add_note(kDrumChannel, bar * 4 + hit.beat, 0.25, hit.key, hit.velocity, 0.5);
      }
      if (song_.style == Style::latin)
        for (double beat : bar % 2 ? std::vector<double>{1, 2} : std::vector<double>{0, 1.5, 3})
          add_note(kDrumChannel, bar * 4 + beat, 0.25, claves, 70, 0.5);
      if (section_start) add_note(kDrumChannel, bar * 4, 2, crash, 95, 0.5);
      if (fill) {
        const int toms[] = {high_tom, high_tom, mid_tom, low_tom};
        for (int i = 0; i < 4; ++i)
          add_note(kDrumChannel, bar * 4 + 3 + i * 0.25, 0.25, toms[i], 90 + i * 5, 0.5);
      }
    }
  }

  // ---- bass ----
  int bass_pitch(int pitch_class, int near) const {
    int best = bass_.low;
    for (int key = bass_.low; key <= bass_.high; ++key)
      if (key % 12 == pitch_class && std::abs(key - near) < std::abs(best - near)) best = key;
    return best;
  }

  void write_bass() {
    int center = (bass_.low + bass_.high) / 2 - 4;
    for (size_t i = 0; i + 1 < chords_.size(); ++i) {
      const Chord& chord = chords_[i];
      const Chord& next = chords_[i + 1];
      int root = bass_pitch(chord.root_pc, center);
      int fifth = bass_pitch((chord.root_pc + 7) % 12, root + 7);
      int next_root = bass_pitch(next.root_pc, root);
      for (double b = 0; b < chord.beats; b += 1) write_bass_beat(chord, b, root, fifth, next_root);
    }
  }

  void write_bass_beat(const Chord& chord, double b, int root, int fifth, int next_root) {
    double at = chord.start + b;
    bool last_beat = b + 1 >= chord.beats;
    switch (song_.style) {
      case Style::swing: {  // walking quarters with a chromatic approach into the next root
        int key =
            b == 0 ? root
            : last_beat
                ? next_root + (rng_.chance(0.5) ? 1 : -1)
                : root +
                      chord.intervals[rng_.range(1, static_cast<int>(chord.intervals.size()) - 1)];
        add_note(bass_channel_, at, 0.9, key, 85);
        break;
      }
      case Style::funk: {
        add_note(bass_channel_, at, 0.2, b == 0 ? root : root + (rng_.chance(0.3) ? 12 : 0), 100);
        if (rng_.chance(0.5))
          add_note(bass_channel_, at + 0.75, 0.2, rng_.chance(0.5) ? root : root + 10, 80);
        if (rng_.chance(0.3)) add_note(bass_channel_, at + 0.5, 0.15, root + 12, 90);
        break;
      }
      case Style::ballad:
      case Style::chamber:
        if (b == 0) add_note(bass_channel_, at, std::min(2.0, chord.beats) - 0.1, root, 80);
        if (b == 2) add_note(bass_channel_, at, 1.9, rng_.chance(0.6) ? fifth : root, 70);
        break;
      case Style::rock:
        add_note(bass_channel_, at, 0.45, root, 95);
        add_note(bass_channel_, at + 0.5, 0.45, root, 80);
        break;
      case Style::latin:  // tumbao: the and-of-two and four, anticipating the next chord
        if (b == 1) add_note(bass_channel_, at + 0.5, 1.4, fifth, 85);
        if (b == 3) add_note(bass_channel_, at, 1.0, last_beat ? next_root : root, 90);
        break;
    }
  }

  // ---- comping ----
  std::vector<int> voicing(const Chord& chord, const Instrument& range, bool rootless) const {
    int center = (range.low + range.high) / 2;
    std::vector<int> keys;
    for (size_t i = rootless && chord.intervals.size() > 3 ? 1 : 0; i < chord.intervals.size();
         ++i) {
      int pitch_class = (chord.root_pc + chord.intervals[i]) % 12;
      int key = center - 6 + ((pitch_class - (center - 6)) % 12 + 12) % 12;
      keys.push_back(key);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void play_chord(int channel, double beat, double beats, const std::vector<int>& keys,
                  int velocity) {
    for (int key : keys) add_note(channel, beat, beats, key, velocity);
  }

  void write_comping() {
    for (size_t c = 0; c < compers_.size(); ++c) {
      for (size_t i = 0; i + 1 < chords_.size(); ++i)
        write_comp_chord(compers_[c], comp_channels_[c], chords_[i]);
      write_expression(comp_channels_[c]);
    }
  }

  void write_comp_chord(const Comper& comper, int channel, const Chord& chord) {
    const Instrument& range = comper.instrument;
    std::vector<int> keys = voicing(chord, range, song_.style == Style::swing);
    double at = chord.start;
    switch (comper.pattern) {
      case Comp::chords: {
        const std::vector<std::vector<double>> rhythms{
            {0, 1.5}, {1.5, 3.5}, {0.5, 2}, {1, 2.5, 3.5}, {0, 2.5}};
        for (double offset = 0; offset < chord.beats; offset += 4)
          for (double hit : rng_.pick(rhythms))
            if (offset + hit < chord.beats) play_chord(channel, at + offset + hit, 0.7, keys, 70);
        break;
      }
      case Comp::four_to_bar:
        for (double b = 0; b < chord.beats; b += 1) play_chord(channel, at + b, 0.4, keys, 60);
        break;
      case Comp::chops:
        for (double step = 0; step < chord.beats; step += 0.25)
          if (std::fmod(step, 1.0) == 0.25 || std::fmod(step, 1.0) == 0.75 ? rng_.chance(0.55)
                                                                           : rng_.chance(0.2))
            play_chord(channel, at + step, 0.12, keys, 80);
        break;
      case Comp::stabs:
        for (double step = 0.5; step < chord.beats; step += 1)
          if (rng_.chance(0.6)) play_chord(channel, at + step, 0.25, keys, 75);
        break;
      case Comp::arpeggio: {
        std::vector<int> pattern = keys;
        pattern.insert(pattern.begin(), keys.front() - 12);
        for (int step = 0; step < chord.beats * 2; ++step)
          add_note(channel, at + step * 0.5, 1.5, pattern[step % pattern.size()],
                   step % 4 == 0 ? 72 : 58);
        break;
      }
      case Comp::pad:
        play_chord(channel, at, chord.beats - 0.05, keys, 58);
        break;
      case Comp::power: {
        int root = keys.front();
        for (int key = range.low; key <= range.low + 11; ++key)
          if (key % 12 == chord.root_pc) root = key;
        for (double step = 0; step < chord.beats; step += 0.5)
          play_chord(channel, at + step, 0.45, {root, root + 7, root + 12}, step == 0 ? 100 : 85);
        break;
      }
      case Comp::montuno: {
        const double hits[] = {0.5, 1.5, 2, 3, 3.5};
        for (double offset = 0; offset < chord.beats; offset += 4)
          for (size_t i = 0; i < 5; ++i) {
            int key = keys[i % keys.size()];
            play_chord(channel, at + offset + hits[i], 0.4, {key, key + 12}, 78);
          }
        break;
      }
    }
  }

  // Dynamics: each section swells, holds or fades on the comping channels (CC11).
  void write_expression(int channel) {
    for (int start : section_starts_) {
      int from = rng_.range(80, 120), to = rng_.range(80, 127);
      for (int b = 0; b < section_bars_ * 4; ++b) {
        int value = from + (to - from) * b / (section_bars_ * 4);
        song_.controls.push_back({seconds_at(start * 4 + b), channel, 11, value});
      }
    }
  }

  // ---- leads ----
  struct Motif {
    std::vector<double> lengths;  // beats; negative = rest
    std::vector<int> steps;       // scale steps between consecutive notes
  };

  Motif new_motif(double beats) {
    Motif motif;
    double used = 0;
    int direction = rng_.chance(0.5) ? 1 : -1;
    while (used < beats - 0.01) {
      double length = std::min(rng_.pick(preset_.rhythm), beats - used);
      bool rest = used > 0 && rng_.chance(0.08);
      motif.lengths.push_back(rest ? -length : length);
      if (rng_.chance(0.3)) direction = -direction;
      int size = rng_.chance(0.7) ? 1 : rng_.range(2, 4);
      motif.steps.push_back(rng_.chance(0.1) ? 0 : direction * size);
      used += length;
    }
    motif.lengths.back() = std::abs(motif.lengths.back());  // a phrase ends on a held note
    return motif;
  }

  // Keys an instrument may play over a chord: the scale plus the chord's own tones.
  std::vector<int> allowed_keys(const Chord& chord, const Instrument& lead) const {
    std::vector<int> classes = scale_pitch_classes();
    std::vector<int> keys;
    for (int key = lead.low; key <= lead.high; ++key)
      if (chord.has(key % 12) ||
          std::find(classes.begin(), classes.end(), key % 12) != classes.end())
        keys.push_back(key);
    return keys;
  }

  int nearest_chord_tone(const Chord& chord, int key, const Instrument& lead) const {
    for (int d = 0; d < 12; ++d)
      for (int candidate : {key - d, key + d})
        if (candidate >= lead.low && candidate <= lead.high && chord.has(candidate % 12))
          return candidate;
    return key;
  }

  struct Line {
    std::vector<int> channels;  // the lead, plus a doubling instrument when present
    std::vector<int> transpositions;
    Instrument instrument;
    int dynamic = 90;
  };

  void play_phrase(const Line& line, const Motif& motif, double beat, int& pitch) {
    double at = beat;
    double total = total_beats(motif);
    for (size_t i = 0; i < motif.lengths.size(); ++i) {
      double length = std::abs(motif.lengths[i]);
      const Chord& chord = chord_at(at);
      std::vector<int> keys = allowed_keys(chord, line.instrument);
      auto here = std::lower_bound(keys.begin(), keys.end(), pitch);
      int index = static_cast<int>(here - keys.begin()) + motif.steps[i];
      if (index < 0 || index >= static_cast<int>(keys.size())) index -= 2 * motif.steps[i];
      pitch = keys[std::clamp(index, 0, static_cast<int>(keys.size()) - 1)];
      bool strong = std::fmod(at, 2.0) < 1e-9 || i + 1 == motif.lengths.size();
      if (strong) pitch = nearest_chord_tone(chord, pitch, line.instrument);
      if (motif.lengths[i] > 0) {
        double arc = std::sin(M_PI * (at - beat + 0.5 * length) / total);  // phrase swell
        int velocity = line.dynamic + static_cast<int>(12 * arc) + (strong ? 5 : 0);
        double legato = song_.style == Style::funk && length < 1 ? 0.6 : rng_.uniform(0.82, 0.97);
        for (size_t c = 0; c < line.channels.size(); ++c)
          add_note(line.channels[c], at, length * legato, pitch + line.transpositions[c], velocity);
      }
      at += length;
    }
  }

  // Phrases of one or two bars with rests between them, the motif coming back with variation.
  void write_lead_section(const Line& line, int first_bar, int last_bar) {
    int phrase_bars = 4 * beat_seconds() < 2.5 ? 2 : 1;
    int pitch = (line.instrument.low + line.instrument.high) / 2 + rng_.range(-4, 4);
    Motif motif;
    for (int bar = first_bar; bar < last_bar; bar += phrase_bars) {
      int bars = std::min(phrase_bars, last_bar - bar);
      double rest = bars == 1 ? rng_.pick(std::vector<double>{1, 1.5, 2})
                              : rng_.pick(std::vector<double>{1.5, 2, 3});
      double pickup = rng_.chance(0.3) ? 0.5 : 0;
      double beats = bars * 4 - rest - pickup;
      if (bar > first_bar && rng_.chance(0.2)) continue;  // a whole phrase of rest
      if (motif.lengths.empty() || rng_.chance(0.4) || std::abs(total_beats(motif) - beats) > 1e-9)
        motif = new_motif(beats);
      play_phrase(line, motif, bar * 4 + pickup, pitch);
    }
  }

  static double total_beats(const Motif& motif) {
    double total = 0;
    for (double length : motif.lengths) total += std::abs(length);
    return total;
  }

  Instrument pick_confuser() {
    return rng_.chance(0.7) ? rng_.pick(preset_.confusers) : rng_.pick(kAllConfusers);
  }

  // Which sections carry the sax, which a look-alike lead, which only the band.
  std::vector<int> plan_leads() {  // 1 = sax, 2 = other lead, 0 = none
    size_t n = section_starts_.size();
    std::vector<int> plan(n, 0);
    for (size_t i = 0; i < n; ++i) {
      bool sax = with_sax_ && rng_.chance(0.5);
      plan[i] = sax ? 1 : (rng_.chance(with_sax_ ? 0.65 : 0.8) ? 2 : 0);
    }
    if (with_sax_ && std::count(plan.begin(), plan.end(), 1) == 0)
      plan[rng_.range(0, static_cast<int>(n) - 1)] = 1;
    if (with_sax_ && n >= 2 && std::count(plan.begin(), plan.end(), 1) == static_cast<int>(n))
      plan[rng_.range(0, static_cast<int>(n) - 1)] = 2;
    if (!with_sax_ && std::count(plan.begin(), plan.end(), 2) == 0)
      plan[rng_.range(0, static_cast<int>(n) - 1)] = 2;
    return plan;
  }

  void write_leads() {
    std::vector<int> plan = plan_leads();
    Instrument sax = rng_.pick(preset_.saxes);
    bool quiet_sax = rng_.chance(0.25);  // sax low in the mix
    int sax_channel = -1, doubling_channel = -1;
    std::vector<std::pair<Instrument, int>> confusers;
    for (size_t i = 0; i < plan.size(); ++i) {
      int first = section_starts_[i], last = std::min(bars_, first + section_bars_);
      Section section{seconds_at(first * 4), seconds_at(last * 4), "", plan[i] == 1};
      Line line;
      line.dynamic = rng_.range(72, 100);
      if (plan[i] == 1) {
        if (sax_channel < 0)
          sax_channel = add_part(sax.name, sax.program, "lead",
                                 quiet_sax ? rng_.range(50, 68) : rng_.range(92, 115));
        line.instrument = sax;
        line.channels = {sax_channel};
        line.transpositions = {0};
        if (rng_.chance(0.3)) add_doubling(line, sax, doubling_channel);
      } else if (plan[i] == 2) {
        if (confusers.empty() || (confusers.size() < 2 && rng_.chance(0.4))) {
          Instrument lead = pick_confuser();
          while (!confusers.empty() && lead.name == confusers.front().first.name)
            lead = pick_confuser();
          confusers.push_back(
              {lead, add_part(lead.name, lead.program, "lead", rng_.range(88, 115))});
        }
        const auto& [lead, channel] =
            confusers[rng_.range(0, static_cast<int>(confusers.size()) - 1)];
        line.instrument = lead;
        line.channels = {channel};
        line.transpositions = {0};
      }
      if (!line.channels.empty()) {
        section.lead = line.instrument.name;
        write_lead_section(line, first, last);
      }
      song_.sections.push_back(section);
    }
  }

  // A brass instrument plays the sax line with it (a horn section), in its own octave.
  void add_doubling(Line& line, const Instrument& sax, int& channel) {
    const Instrument& brass = sax.program >= 66 ? kTrombone : kTrumpet;
    if (channel < 0) channel = add_part(brass.name, brass.program, "doubling", rng_.range(70, 100));
    int center_gap = (brass.low + brass.high) / 2 - (sax.low + sax.high) / 2;
    line.channels.push_back(channel);
    line.transpositions.push_back(static_cast<int>(std::lround(center_gap / 12.0)) * 12);
  }

  // ---- ending and clean-up ----
  void write_ending() {
    const Chord& last = chords_.back();
    double at = bars_ * 4.0;
    add_note(bass_channel_, at, 3.5, bass_pitch(last.root_pc, bass_.low + 7), 85);
    for (size_t c = 0; c < compers_.size(); ++c)
      play_chord(comp_channels_[c], at, 3.5, voicing(last, compers_[c].instrument, false), 70);
    if (!preset_.drum_kits.empty()) {
      add_note(kDrumChannel, at, 2, crash, 100, 0.5);
      add_note(kDrumChannel, at, 0.5, kick, 100, 0.5);
    }
  }

  // Sorts events and keeps a repeated key on one channel from overlapping itself (its
  // note-off would otherwise cut the next note short).
  void finish() {
    auto& notes = song_.notes;
    std::stable_sort(notes.begin(), notes.end(),
                     [](const Note& a, const Note& b) { return a.start < b.start; });
    std::map<std::pair<int, int>, size_t> last;
    for (size_t i = 0; i < notes.size(); ++i) {
      auto slot = std::make_pair(notes[i].channel, notes[i].key);
      auto found = last.find(slot);
      if (found != last.end()) {
        Note& previous = notes[found->second];
        double gap = notes[i].start - previous.start;
        if (previous.duration > gap - 0.01) previous.duration = std::max(0.01, gap - 0.01);
      }
      last[slot] = i;
    }
    std::stable_sort(song_.controls.begin(), song_.controls.end(),
                     [](const Control& a, const Control& b) { return a.time < b.time; });
  }

  Rng rng_;
  Preset preset_;
  bool with_sax_;
  double target_seconds_;
  Arrangement song_;
  bool minor_ = false;
  int tonic_ = 0;
  double timing_jitter_ = 0.008;
  int bars_ = 0, section_bars_ = 4, intro_bars_ = 1;
  std::vector<int> section_starts_;
  std::vector<Chord> chords_;
  Instrument bass_{};
  int bass_channel_ = 0;
  std::vector<Comper> compers_;
  std::vector<int> comp_channels_;
  int next_channel_ = 0;
};

}  // namespace

std::string style_name(Style style) {
  switch (style) {
    case Style::swing:
      return "swing";
    case Style::funk:
      return "funk";
    case Style::ballad:
      return "ballad";
    case Style::rock:
      return "rock";
    case Style::latin:
      return "latin";
    case Style::chamber:
      return "chamber";
  }
  return "swing";
}

Style parse_style(const std::string& name) {
  for (Style style : kStyles)
    if (style_name(style) == name) return style;
  throw Error("unknown style '" + name + "' (swing, funk, ballad, rock, latin, chamber)");
}

bool is_sax_program(int program) { return program >= 64 && program <= 67; }

Arrangement arrange(Style style, double seconds, bool with_sax, uint64_t seed) {
  return Writer(style, seconds, with_sax, seed).write();
}

}  // namespace sax::synth
