#pragma once
// The arrangement generator: a style preset and a seed become a song as timed MIDI-like events
// (tempo, key, chords, bass, drums on GM channel 10, comping, lead phrases with rests), with
// the saxophone playing only some sections so each sax song has clear sax and no-sax stretches.
//
//   sax::synth::Arrangement song = sax::synth::arrange(sax::synth::Style::swing, 45.0, true, seed);
//
// Everything here is plain data and deterministic: no FluidSynth, no clocks, no global state.
#include <cstdint>
#include <string>
#include <vector>

namespace sax::synth {

enum class Style { swing, funk, ballad, rock, latin, chamber };
constexpr Style kStyles[] = {Style::swing, Style::funk,  Style::ballad,
                             Style::rock,  Style::latin, Style::chamber};
std::string style_name(Style style);
Style parse_style(const std::string& name);  // throws sax::Error for an unknown name

constexpr int kDrumChannel = 9;  // GM channel 10
constexpr int kDrumBank = 128;   // the percussion bank in SoundFont presets

// GM programs (zero-based) of the four saxophones: soprano, alto, tenor, baritone.
bool is_sax_program(int program);

struct Part {
  int channel = 0;
  int bank = 0;
  int program = 0;
  std::string instrument;  // "tenor sax", "clarinet", "drums (jazz kit)", ...
  std::string role;        // "lead", "doubling", "comping", "bass", "drums"
  bool sax = false;
  int volume = 100;  // CC7: sets the part's level in the mix
  int pan = 64;      // CC10
  int reverb = 40;   // CC91 send
  int chorus = 0;    // CC93 send
};

struct Note {
  double start = 0;     // seconds
  double duration = 0;  // seconds until note-off
  int channel = 0;
  int key = 60;
  int velocity = 90;
};

struct Control {
  double time = 0;  // seconds
  int channel = 0;
  int number = 11;  // CC number (11 = expression, for dynamics)
  int value = 127;
};

// Per-song reverb and chorus (FluidSynth's built-in effects).
struct Effects {
  double room = 0.5, damp = 0.3, width = 0.8, level = 0.5;
  int chorus_voices = 3;
  double chorus_level = 1.0, chorus_speed = 0.3, chorus_depth = 6.0;
};

// One stretch of the song where a lead instrument (sax or not) plays phrases.
struct Section {
  double start = 0, end = 0;  // seconds
  std::string lead;           // instrument name, "" when only the rhythm section plays
  bool sax = false;
};

struct Arrangement {
  Style style = Style::swing;
  double tempo = 120;  // beats per minute
  std::string key;     // "Bb minor"
  double seconds = 0;  // length of the rendered audio, tail included
  std::vector<Part> parts;
  std::vector<Note> notes;  // sorted by start
  std::vector<Control> controls;
  std::vector<Section> sections;
  Effects effects;
  double loudness_db = -16;  // target RMS of the mix before the limiter (varies per song)
};

// A song of about `seconds` (whole bars, plus a short tail), with saxophone in some of its
// lead sections when `with_sax`. Same arguments, same song.
Arrangement arrange(Style style, double seconds, bool with_sax, uint64_t seed);

}  // namespace sax::synth
