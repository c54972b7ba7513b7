#pragma once
// Command-line options shared by `saxdetect predict`, `evaluate` and `assess`: which scorer to
// use and how to analyse. Header-only on top of CLI11.

#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "common/home.h"
#include "detect/detect.h"
#include "infer/detector.h"

namespace sax::cli {

inline const char* const kAnalysisHelp = R"(How detection works:
  Windows as long as the model's input (5 s for the CNN) slide over the file every --hop
  seconds; each gets a saxophone probability. Each window stands for the hop-long slot at its
  centre. A frame model (the default CNN) also scores every ~0.09 s step of each window; the
  steps of overlapping windows are averaged on a timeline of quarter-step slots, and segments
  come from that timeline instead. Smoothing then runs, in this order:
    1. a median filter over --median consecutive windows or slots (odd; 1 = off) removes blips;
    2. hysteresis: a segment is a stretch where the smoothed probability stays at or above
       --exit and reaches --enter somewhere in it (defaults: the model's threshold, and 0.15
       below it but at least half of it, so a tiny threshold still lets segments end);
    3. segments closer than --merge-gap seconds are joined;
    4. segments shorter than --min-segment seconds are dropped.
  Verdict: a file has sax when at least one segment remains and the share of its time inside
  segments is at least --min-share (so a stray second or two does not make a song sax). The
  file's "probability" is the highest median-smoothed window probability.
  Long files are decoded and scored in chunks, so memory stays bounded.)";

// One line per failed file on stderr. Not through spdlog: its default logger writes to
// stdout, which must hold nothing but the --json / --csv output.
inline void print_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
}

struct ScorerChoice {
  std::string model;  // a model folder; empty: home/models/current
};

inline void add_scorer_options(CLI::App* command, ScorerChoice& choice) {
  command->add_option("--model", choice.model,
                      "Model folder (default: the current model in the data home, else the "
                      "built-in detector)");
}

// The scorer the options name: by default the home's current model, else the built-in detector.
inline std::unique_ptr<Scorer> open_scorer(const ScorerChoice& choice, const Home& home) {
  if (choice.model.empty()) return open_home_detector(home.models());
  return load_detector(choice.model);
}

inline void add_analysis_options(CLI::App* command, detect::Options& options) {
  auto& s = options.smoothing;
  command->add_option("--hop", options.hop, "Seconds between window starts")->capture_default_str();
  command
      ->add_option("--median", s.median_windows,
                   "Median filter length in windows or timeline slots (odd; 1 = off)")
      ->capture_default_str();
  command->add_option("--enter", s.enter,
                      "Probability that starts a segment (default: the model's threshold)");
  command->add_option(
      "--exit", s.exit,
      "Probability below which a segment ends (default: enter - 0.15, at least enter / 2)");
  command->add_option("--merge-gap", s.merge_gap, "Join segments closer than this (seconds)")
      ->capture_default_str();
  command->add_option("--min-segment", s.min_segment, "Drop segments shorter than this (seconds)")
      ->capture_default_str();
  command->add_option("--min-share", s.min_share, "Share of time in segments needed to say sax")
      ->capture_default_str();
  command->add_option("--chunk", options.chunk_seconds, "Seconds of audio scored at once (memory)")
      ->capture_default_str();
  command->footer(kAnalysisHelp);
}

}  // namespace sax::cli
