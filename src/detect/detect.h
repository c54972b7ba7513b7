#pragma once
// Where does a saxophone play? Sliding-window detection over whole files, smoothing of the
// per-window probabilities into segments, a per-file verdict, and evaluation against the
// ground truth `saxdetect synth` writes. Torch-free: works with any sax::Scorer.
//
//   auto scorer = sax::load_detector(sax::current_model_dir(home.models()));
//   sax::detect::Options options;                       // hop 1 s, default smoothing
//   sax::detect::Analysis a = sax::detect::analyse_file("song.mp3", *scorer, options);
//   for (auto& s : a.segments) fmt::print("{} - {}\n", s.start, s.end);
//   std::string json = sax::detect::to_json(a).dump();  // the `predict --json` object
//
// Streaming: the file is decoded in chunks of `chunk_seconds` (plus one window of overlap, so
// every window lies fully inside some chunk) and each chunk is scored with one
// Scorer::score_sliding call. Memory stays bounded by the chunk size whatever the file length,
// and the windows are exactly those a one-shot analysis of the whole file would give.
// analyse_file decodes on a second thread, up to one chunk ahead, while the scorer works.
//
// Timing: window i starts at i*hop and covers [i*hop, i*hop + window]. For segments each
// window stands for the hop-long slot around its centre, [i*hop + (window-hop)/2,
// i*hop + (window+hop)/2]; the first and last slots stretch to the file's start and end.
// Files shorter than one window are scored as one zero-padded window covering the file.
// Frame models (Scorer::step_seconds() > 0, NetConfig head "frames") say more: each window's
// probability per step (0.09 s at the default frame_step); steps of overlapping windows are
// averaged into one timeline and segments come from that timeline, so their ends are placed to
// a fraction of a second instead of to the hop (the window probabilities are still reported).
// The timeline's slots are a quarter step long, so each window's steps land where that window
// really starts: with whole-step slots a 1 s hop (5.4 steps) was rounded, moving the steps of
// every other window by up to half a step before they were averaged.
//
// Smoothing (in this order, every step configurable):
//   1. median filter over `median_windows` consecutive window (or timeline slot) probabilities
//      (1 = off);
//   2. hysteresis (a double threshold): a segment is a stretch where the smoothed probability
//      stays at or above `exit` and reaches `enter` somewhere in it, so both of its ends lie
//      on the `exit` contour (enter = exit gives a plain threshold); the default
//      exit is default_exit(enter): 0.15 below enter, but never below enter / 2, so a tiny
//      threshold (0.02) still lets segments end;
//   3. segments separated by a gap shorter than `merge_gap` seconds are merged;
//   4. segments shorter than `min_segment` seconds are dropped.
// Verdict: the file has sax when at least one segment survives and the sax share (segment
// time / duration) is at least `min_share` (0: any segment is enough).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "infer/features.h"
#include "labels/truth.h"

namespace sax {
class Scorer;
}

namespace sax::detect {

struct Smoothing {
  int median_windows = 3;    // odd window count of the median filter; 1 switches it off
  double enter = -1;         // hysteresis upper threshold; < 0: the scorer's threshold()
                             // (its step_threshold() when segments come from steps)
  double exit = -1;          // hysteresis lower threshold; < 0: default_exit(enter)
  double merge_gap = 1.0;    // seconds; gaps shorter than this between segments are closed
  double min_segment = 1.0;  // seconds; shorter segments are dropped
  // Verdict: the sax share needed besides at least one segment. 3 % (5 s of a 3-minute song)
  // keeps a stray second or two from calling a whole song sax (docs/design.md).
  double min_share = 0.03;
};

struct Options {
  double hop = 1.0;             // seconds between window starts
  double chunk_seconds = 60.0;  // audio scored per Scorer::score_sliding call
  Smoothing smoothing;
  bool keep_spectrogram = false;  // fill Analysis::spectrogram (for --plot and the web page)
  // Called after each chunk with the seconds of audio analysed so far (for sax::Progress).
  std::function<void(double seconds)> on_progress;
};

struct Window {
  double start = 0, end = 0;  // seconds
  float probability = 0;      // raw scorer output
};

struct Segment {
  double start = 0, end = 0;  // seconds
  double probability = 0;     // mean raw probability of the windows whose slots it covers
};

// A coarse log-mel picture of the whole file for plots: `cols_per_second` columns a second.
struct Overview {
  Spectrogram spectrogram;
  double cols_per_second = 0;
};

struct Analysis {
  std::string file;
  double duration = 0;          // seconds of decoded audio
  bool sax = false;             // the verdict (see the rule above)
  double probability = 0;       // file-level score: the highest median-smoothed probability
  double mean_probability = 0;  // mean raw window probability
  double sax_share = 0;         // fraction of the duration inside segments
  double threshold = 0;         // the `enter` threshold actually used
  std::string scorer;           // Scorer::name()
  std::vector<Segment> segments;
  std::vector<Window> windows;
  // Frame models: the step timeline the segments were cut from, one probability per
  // `timeline_slot` seconds (a quarter step, see step_timeline); empty for window models.
  // Plots draw it, so the curve they show is the one the threshold was applied to.
  std::vector<float> timeline;
  double timeline_slot = 0;
  Overview overview;  // empty unless Options::keep_spectrogram
};

// Decodes `file` at the scorer's rate in chunks and analyses it. Throws sax::Error naming the
// file when it cannot be decoded or options are invalid.
Analysis analyse_file(const std::filesystem::path& file, Scorer& scorer, const Options& options);

// The same on samples already in memory (mono at scorer.sample_rate()); `name` fills .file.
Analysis analyse_samples(const float* audio, size_t count, Scorer& scorer, const Options& options,
                         const std::string& name = "");

// Window start times (seconds) for `count` samples: what analyse_* produce, exposed for tests.
std::vector<double> window_starts(size_t count, int sample_rate, size_t window_samples,
                                  size_t hop_samples);

// A frame model's step probabilities (window-major, `windows` windows `hop` seconds apart, steps
// `step` seconds long) on one timeline of slots kSlotsPerStep times finer than a step: window
// i's step j covers its kSlotsPerStep slots from slot round(i * hop / slot), and a slot
// covered by several windows takes their mean. Exposed for tests.
constexpr int kSlotsPerStep = 4;
std::vector<float> step_timeline(const std::vector<float>& steps, size_t windows, double hop,
                                 double step);

// Smoothing on its own: probabilities of windows `hop` apart, each `window` seconds long, in a
// file `duration` seconds long. `enter` must be resolved (>= 0). Returns the segments.
std::vector<float> median_filter(const std::vector<float>& values, int length);
// The exit threshold used when Smoothing::exit < 0: max(enter - kExitMargin, enter / 2).
constexpr double kExitMargin = 0.15;
double default_exit(double enter);
std::vector<Segment> segments_from_probabilities(const std::vector<float>& probabilities,
                                                 double hop, double window, double duration,
                                                 const Smoothing& smoothing, double enter);
// Throws sax::Error when a smoothing setting is out of range (names the setting).
void validate(const Options& options);

// Output: the `predict --json` object, CSV rows, and the human report with a timeline bar.
nlohmann::json to_json(const Analysis& analysis);
nlohmann::json error_json(const std::string& file, const std::string& message);
std::string csv_header();  // file,kind,start,end,probability (kind: file|segment|window)
std::string to_csv(const Analysis& analysis);
std::string timeline_bar(const Analysis& analysis, int width);  // '#' sax, '-' none
std::string format_human(const Analysis& analysis, int bar_width = 60);
std::string mmss(double seconds);  // "3:07", "1:02:03"

// --plot: probability curve and segments over the spectrogram (needs keep_spectrogram).
// The format follows the extension: .png or .svg. Throws sax::Error naming the file.
void write_plot(const std::filesystem::path& path, const Analysis& analysis);
std::string plot_svg(const Analysis& analysis);  // the SVG text (also used by the web page)

// ---- Evaluation against ground truth ----

struct Evaluation {
  double frame_precision = 0, frame_recall = 0, frame_f1 = 0;
  double clip_accuracy = 0, clip_balanced_accuracy = 0;
  double segments_within_1s = 0;  // share of truth segments with onset and offset within 1 s
  // Its 95 % interval, bootstrapped over the files with sax: passages come in songs, and a few
  // hard songs move the share more than their passage count suggests.
  double segments_within_1s_low = 0, segments_within_1s_high = 0;
  // The other side (an event-based precision, as DCASE scores detectors): the share of detected
  // segments whose onset and offset lie within 1 s of a true passage's. Stray segments in clean
  // songs count against it.
  double detected_segments_within_1s = 0;
  size_t files = 0, truth_segments = 0, matched_segments = 0;
  size_t detected_segments = 0, matched_detected_segments = 0;
  size_t true_positive_frames = 0, false_positive_frames = 0, false_negative_frames = 0;
  size_t sax_files = 0, clean_files = 0, sax_files_found = 0, clean_files_found = 0;
  // Frames by the lead instrument playing at that moment ("none": the band alone), and how
  // many of them were judged right: which look-alikes the model takes for a saxophone.
  struct LeadFrames {
    size_t frames = 0, correct = 0;
  };
  std::map<std::string, LeadFrames> by_lead;
};

// Accumulates file after file; frames are `frame_seconds` long (10 ms by default).
// The truth is scored at the resolution detection promises: true sax phrases separated by less
// than `truth_gap` seconds (a breath between phrases; default 1 s, as the default merge gap)
// count as one passage, as the predicted segments do. 0 scores every phrase on its own.
class Evaluator {
 public:
  explicit Evaluator(double frame_seconds = 0.01, double boundary_tolerance = 1.0,
                     double truth_gap = 1.0);
  void add(const Analysis& predicted, const SongTruth& truth);
  Evaluation result() const;

 private:
  double frame_seconds_, tolerance_, truth_gap_;
  Evaluation counts_;
  std::vector<std::pair<size_t, size_t>> passages_by_file_;  // (matched, truth) per sax file
};

nlohmann::json to_json(const Evaluation& evaluation);
std::string format_human(const Evaluation& evaluation);

}  // namespace sax::detect
