// saxdetect synth: render a synthetic music library with exact saxophone ground truth.
#include <chrono>

#include <fmt/format.h>

#include "cli/command.h"
#include "common/error.h"
#include "common/progress.h"
#include "synth/synth.h"

namespace sax::cli {

namespace {

struct SynthArgs {
  synth::SynthOptions options;
  std::string seconds = "30-90";
  std::vector<std::string> styles;
};

double parse_number(const std::string& text, const std::string& whole) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::logic_error&) {
  }
  if (text.empty() || used != text.size())
    throw Error("--seconds: expected a number or a range like 30-90, got '" + whole + "'");
  return value;
}

// "45" (every song that long) or "30-90" (each song's length drawn from the range).
void parse_seconds(const std::string& text, synth::SynthOptions& options) {
  size_t dash = text.find('-', 1);
  options.min_seconds = parse_number(text.substr(0, dash), text);
  options.max_seconds =
      dash == std::string::npos ? options.min_seconds : parse_number(text.substr(dash + 1), text);
}

void run_synth(const GlobalOptions& global, SynthArgs args) {
  synth::SynthOptions& options = args.options;
  parse_seconds(args.seconds, options);
  for (const std::string& name : args.styles) options.styles.push_back(synth::parse_style(name));
  options.progress = !global.quiet;
  auto start = std::chrono::steady_clock::now();
  std::vector<SongTruth> songs = synth::synthesize(options);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double audio = 0;
  int with_sax = 0;
  for (const auto& song : songs) {
    audio += song.duration;
    with_sax += song.has_sax();
  }
  fmt::print(
      "rendered {} songs ({} with saxophone), {} of audio in {} ({:.0f}x real time) into {}\n",
      songs.size(), with_sax, format_duration(audio), format_duration(elapsed),
      elapsed > 0 ? audio / elapsed : 0.0, options.out.string());
  fmt::print("ground truth: {}\n", (options.out / "truth.json").string());
}

const Command kSynth(5, [](CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "synth", "Render a synthetic music library with exact saxophone ground truth (FluidSynth)");
  static SynthArgs args;
  auto& options = args.options;
  command->add_option("--out,-o", options.out, "Folder for the songs and truth.json")->required();
  command->add_option("--songs,-n", options.songs, "Number of songs")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--seconds", args.seconds, "Song length: seconds, or a range like 30-90")
      ->capture_default_str();
  command->add_option("--seed", options.seed, "Random seed (same seed, same library)")
      ->capture_default_str();
  command->add_option(
      "--soundfont", options.soundfont,
      "SoundFont file (default: alternate FluidR3_GM.sf2 and MuseScore_General_Full.sf3)");
  command->add_option("--format", options.format, "Audio format: flac, wav, mp3, ogg, ...")
      ->capture_default_str();
  command->add_option("--style", args.styles,
                      "Only these styles (swing, funk, ballad, rock, latin, chamber)");
  command->add_flag("--sax-only", options.sax_only,
                    "Render only the saxophone parts, dry (a stem to check the truth by ear)");
  command->callback([&global] { run_synth(global, args); });
});

}  // namespace

}  // namespace sax::cli
