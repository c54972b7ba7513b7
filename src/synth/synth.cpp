#include "synth/synth.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "common/error.h"
#include "common/progress.h"
#include "synth/random.h"

namespace sax::synth {

const char* const kFluidR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2";
const char* const kMuseScore = "/usr/share/sounds/sf3/MuseScore_General_Full.sf3";

namespace {

constexpr uint64_t kDeckStream = 1'000'000;  // seed streams for the (style, sax) decks
constexpr uint64_t kLengthStream = 2'000'000;

void check(const SynthOptions& options) {
  if (options.out.empty()) throw Error("synth: --out is required");
  if (options.songs < 1) throw Error("synth: --songs must be at least 1");
  if (!(options.min_seconds >= 4) || options.max_seconds < options.min_seconds)
    throw Error("synth: --seconds must be at least 4 (a single length or a range like 30-90)");
  if (options.format.empty() || options.format.find('/') != std::string::npos)
    throw Error("synth: --format must be a file extension such as flac, wav, mp3 or ogg");
}

// Songs alternate soundfonts by index. Each soundfont deals from its own deck holding every
// style once with sax and once without, shuffled, sax and no-sax alternating (starting on
// opposite sides for the two soundfonts): both timbres see every (style, sax) pair equally
// often, and each pair of songs (0-1, 2-3, ...) holds one sax song: even 2 songs have both.
std::pair<Style, bool> deal(const SynthOptions& options, int index) {
  std::vector<Style> styles = options.styles.empty()
                                  ? std::vector<Style>(std::begin(kStyles), std::end(kStyles))
                                  : options.styles;
  int parity = options.soundfont.empty() ? index % 2 : 0;
  uint64_t turn = static_cast<uint64_t>(options.soundfont.empty() ? index / 2 : index);
  uint64_t deck_size = 2 * styles.size();
  Rng rng(derive_seed(options.seed, kDeckStream + 1000 * parity + turn / deck_size));
  std::vector<Style> with_sax = styles, without_sax = styles;
  rng.shuffle(with_sax);
  rng.shuffle(without_sax);
  uint64_t position = turn % deck_size;
  bool sax = (position + parity) % 2 == 0;
  return {(sax ? with_sax : without_sax)[position / 2], sax};
}

std::string song_file(int index, const std::string& format) {
  return fmt::format("song-{:03}.{}", index, format);
}

std::vector<std::string> instrument_names(const Arrangement& song) {
  std::vector<std::string> names;
  for (const Part& part : song.parts)
    if (std::find(names.begin(), names.end(), part.instrument) == names.end())
      names.push_back(part.instrument);
  return names;
}

SongTruth describe(const Arrangement& song, const Rendering& rendering, const std::string& file,
                   const std::string& soundfont) {
  SongTruth truth;
  truth.file = file;
  truth.style = style_name(song.style);
  truth.tempo = song.tempo;
  truth.key = song.key;
  truth.soundfont = std::filesystem::path(soundfont).filename().string();
  truth.duration = static_cast<double>(rendering.frames()) / kSampleRate;
  truth.instruments = instrument_names(song);
  for (const Section& section : song.sections)
    truth.sections.push_back({section.start, section.end, section.lead});
  truth.sax = rendering.sax;
  return truth;
}

}  // namespace

SongPlan plan_song(const SynthOptions& options, int index) {
  SongPlan plan;
  std::tie(plan.style, plan.with_sax) = deal(options, index);
  Rng length(derive_seed(options.seed, kLengthStream + index));
  plan.seconds = length.uniform(options.min_seconds, options.max_seconds);
  plan.soundfont = !options.soundfont.empty() ? options.soundfont
                   : index % 2 == 0           ? kFluidR3
                                              : kMuseScore;
  plan.seed = derive_seed(options.seed, static_cast<uint64_t>(index));
  return plan;
}

std::vector<SongTruth> synthesize(const SynthOptions& options) {
  check(options);
  std::error_code error;
  std::filesystem::create_directories(options.out, error);
  if (error) throw Error(options.out.string() + ": cannot create folder: " + error.message());

  std::vector<SongPlan> plans;
  for (int i = 0; i < options.songs; ++i) plans.push_back(plan_song(options, i));
  std::map<std::string, std::unique_ptr<Renderer>> renderers;  // each soundfont loads once
  for (const SongPlan& plan : plans)
    if (!renderers.count(plan.soundfont))
      renderers[plan.soundfont] = std::make_unique<Renderer>(plan.soundfont);

  Progress progress("synth", plans.size(),
                    options.progress ? Progress::Mode::automatic : Progress::Mode::never);
  std::vector<SongTruth> truths;
  for (int i = 0; i < options.songs; ++i) {
    const SongPlan& plan = plans[i];
    Arrangement song = arrange(plan.style, plan.seconds, plan.with_sax, plan.seed);
    Rendering rendering = renderers.at(plan.soundfont)->render(song, options.sax_only);
    std::string file = song_file(i, options.format);
    write_audio(options.out / file, rendering.stereo.data(), rendering.frames(), 2, kSampleRate,
                192);
    truths.push_back(describe(song, rendering, file, plan.soundfont));
    progress.set_detail(file);
    progress.advance(1, truths.back().duration);
  }
  progress.finish();
  write_truth(options.out / "truth.json", truths);
  return truths;
}

}  // namespace sax::synth
