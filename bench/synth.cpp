// How fast `saxdetect synth` renders, on one core. The counter "realtime" is seconds of music
// per second of CPU time (the issue asks for more than 20x).
//
//   ./build/bench/bench_synth --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "synth/render.h"
#include "synth/synth.h"

using namespace sax::synth;

namespace {

Renderer& renderer_for(const char* soundfont) {
  static Renderer fluid(kFluidR3), musescore(kMuseScore);
  return std::string(soundfont) == kFluidR3 ? fluid : musescore;
}

void report_realtime(benchmark::State& state, double audio_seconds) {
  state.counters["realtime"] = benchmark::Counter(audio_seconds, benchmark::Counter::kIsRate);
}

// The arrangement generator alone (no audio).
void BM_Arrange(benchmark::State& state) {
  uint64_t seed = 0;
  double audio = 0;
  for (auto _ : state) {
    Arrangement song = arrange(kStyles[seed % 6], 60, seed % 2 == 0, seed);
    audio += song.seconds;
    ++seed;
    benchmark::DoNotOptimize(song.notes.data());
  }
  report_realtime(state, audio);
}
BENCHMARK(BM_Arrange);

// FluidSynth rendering, limiter and truth of one 60 s song per style, per soundfont.
void BM_Render(benchmark::State& state, const char* soundfont) {
  Style style = kStyles[state.range(0)];
  Arrangement song = arrange(style, 60, true, 1);
  Renderer& renderer = renderer_for(soundfont);
  renderer.render(song);  // presets load (and sf3 samples decompress) once, outside the timing
  double audio = 0;
  for (auto _ : state) {
    Rendering rendering = renderer.render(song);
    audio += song.seconds;
    benchmark::DoNotOptimize(rendering.stereo.data());
  }
  state.SetLabel(style_name(style));
  report_realtime(state, audio);
}
BENCHMARK_CAPTURE(BM_Render, fluidr3, kFluidR3)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Render, musescore, kMuseScore)
    ->DenseRange(0, 5)
    ->Unit(benchmark::kMillisecond);

// What `saxdetect synth` does end to end: load both soundfonts, render, encode FLAC, truth.json.
void BM_Synthesize(benchmark::State& state) {
  std::filesystem::path out = std::filesystem::temp_directory_path() / "bench_synth";
  SynthOptions options;
  options.out = out;
  options.songs = 6;
  options.progress = false;
  double audio = 0;
  for (auto _ : state) {
    for (const sax::SongTruth& song : synthesize(options)) audio += song.duration;
  }
  std::filesystem::remove_all(out);
  report_realtime(state, audio);
}
BENCHMARK(BM_Synthesize)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
