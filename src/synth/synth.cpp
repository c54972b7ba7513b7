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

double round_ms(double seconds) { return std::round(seconds * 1000.0) / 1000.0; }

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

void write_truth(const std::filesystem::path& path, const std::vector<SongTruth>& songs) {
  nlohmann::json list = nlohmann::json::array();
  for (const SongTruth& song : songs) {
    nlohmann::json sax = nlohmann::json::array(), sections = nlohmann::json::array();
    for (const auto& [start, end] : song.sax) sax.push_back({round_ms(start), round_ms(end)});
    for (const LeadSection& s : song.sections)
      sections.push_back(
          {{"start", round_ms(s.start)}, {"end", round_ms(s.end)}, {"lead", s.instrument}});
    list.push_back({{"file", song.file},
                    {"style", song.style},
                    {"tempo", song.tempo},
                    {"key", song.key},
                    {"soundfont", song.soundfont},
                    {"duration", round_ms(song.duration)},
                    {"instruments", song.instruments},
                    {"sections", sections},
                    {"sax", sax}});
  }
  std::ofstream out(path);
  out << nlohmann::json{{"songs", list}}.dump(2) << "\n";
  if (!out) throw Error(path.string() + ": cannot write");
}

namespace {

template <class T>
T field(const nlohmann::json& object, const char* name, const std::string& where) {
  if (!object.is_object() || !object.contains(name))
    throw Error(where + ": missing field '" + name + "'");
  try {
    return object.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(where + ": field '" + name + "' has the wrong type");
  }
}

SongTruth parse_song(const nlohmann::json& entry, const std::string& where) {
  SongTruth song;
  song.file = field<std::string>(entry, "file", where);
  song.style = entry.value("style", "");
  song.tempo = entry.value("tempo", 0.0);
  song.key = entry.value("key", "");
  song.soundfont = entry.value("soundfont", "");
  song.duration = entry.value("duration", 0.0);
  if (entry.contains("instruments"))
    song.instruments = field<std::vector<std::string>>(entry, "instruments", where);
  for (const auto& range : field<std::vector<std::vector<double>>>(entry, "sax", where)) {
    if (range.size() != 2 || !(range[0] <= range[1]))
      throw Error(where + ": field 'sax' must hold [start, end] pairs with start <= end");
    song.sax.push_back({range[0], range[1]});
  }
  if (entry.contains("sections") && entry["sections"].is_array())
    for (const auto& s : entry["sections"])
      song.sections.push_back({s.value("start", 0.0), s.value("end", 0.0), s.value("lead", "")});
  return song;
}

}  // namespace

std::vector<SongTruth> read_truth(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  nlohmann::json document;
  try {
    in >> document;
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!document.is_object() || !document.contains("songs") || !document["songs"].is_array())
    throw Error(path.string() + ": missing field 'songs' (a list)");
  std::vector<SongTruth> songs;
  for (size_t i = 0; i < document["songs"].size(); ++i)
    songs.push_back(
        parse_song(document["songs"][i], path.string() + ": songs[" + std::to_string(i) + "]"));
  return songs;
}

}  // namespace sax::synth
