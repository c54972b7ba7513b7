#pragma once
// A synthetic music library with exact saxophone ground truth (`saxdetect synth`).
//
//   sax::synth::SynthOptions options;
//   options.out = "library";
//   options.songs = 40;
//   auto truth = sax::synth::synthesize(options);   // also writes library/truth.json
//
// Songs alternate between the two Debian soundfonts unless one is chosen, so a model can be
// trained on one timbre and tested on the other. About half the songs have saxophone, and
// style, sax and soundfont are balanced: each soundfont gets every (style, sax) pair in turn.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "labels/truth.h"
#include "synth/music.h"
#include "synth/render.h"

namespace sax::synth {

extern const char* const kFluidR3;    // /usr/share/sounds/sf2/FluidR3_GM.sf2
extern const char* const kMuseScore;  // /usr/share/sounds/sf3/MuseScore_General_Full.sf3

struct SynthOptions {
  std::filesystem::path out;
  int songs = 40;
  double min_seconds = 30, max_seconds = 90;  // song length is drawn from this range
  uint64_t seed = 1;
  std::string soundfont;        // "" alternates kFluidR3 and kMuseScore
  std::string format = "flac";  // file extension: flac, wav, mp3, ogg, ...
  std::vector<Style> styles;    // empty: all six
  bool sax_only = false;        // render only the saxophone parts (a stem to check the truth)
  bool progress = true;         // a progress line when stderr is a terminal
};

// Renders options.songs songs into options.out and writes options.out/truth.json. Song i is
// the same whatever the number of songs. Throws sax::Error (bad option, soundfont, output).
std::vector<SongTruth> synthesize(const SynthOptions& options);

// One song: what synthesize() does for index `index` (for callers that render their own).
struct SongPlan {
  Style style = Style::swing;
  bool with_sax = false;
  double seconds = 30;
  std::string soundfont;
  uint64_t seed = 0;
};
SongPlan plan_song(const SynthOptions& options, int index);

}  // namespace sax::synth
