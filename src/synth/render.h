#pragma once
// Offline rendering of an Arrangement with FluidSynth (no audio driver), and the exact times
// a saxophone sounds, read from the synthesizer's own voices while it renders.
//
//   sax::synth::Renderer renderer("/usr/share/sounds/sf2/FluidR3_GM.sf2");
//   sax::synth::Rendering r = renderer.render(song);   // 44.1 kHz stereo, limited
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "common/time_ranges.h"

#include "synth/music.h"

namespace sax::synth {

constexpr int kSampleRate = 44100;

struct Rendering {
  std::vector<float> stereo;  // interleaved left/right, kSampleRate
  size_t frames() const { return stereo.size() / 2; }
  // Where any saxophone voice sounds: from note-on to the end of its release, as FluidSynth
  // reports its voices (exact to one 64-frame block). Gaps shorter than kBreathSeconds are
  // merged: a breath inside a phrase is still a sax stretch.
  std::vector<TimeRange> sax;
};

constexpr double kBreathSeconds = 0.2;

class Renderer {
 public:
  // Loads the SoundFont (sf2 or sf3). Throws sax::Error naming the file when it is missing or
  // not a SoundFont FluidSynth can read.
  explicit Renderer(const std::filesystem::path& soundfont);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Renders the whole song. sax_only: only the saxophone parts, dry (no reverb or chorus),
  // and without loudness normalisation: a stem to check the truth against. Each call starts
  // from a reset synthesizer, so a song renders the same whatever was rendered before it.
  Rendering render(const Arrangement& song, bool sax_only = false);

  const std::filesystem::path& soundfont() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Scales the mix to `loudness_db` RMS, then a look-ahead peak limiter holds peaks under
// -1 dBFS without clicks.
void master(std::vector<float>& stereo, double loudness_db);
void limit(std::vector<float>& stereo, double ceiling);

// Merges ranges whose gap is at most `gap` seconds. Input sorted by start.
std::vector<TimeRange> merge_ranges(const std::vector<TimeRange>& ranges, double gap);

}  // namespace sax::synth
