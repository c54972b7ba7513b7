#include "synth/render.h"

#include <fluidsynth.h>
#include <glib.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <set>

#include "common/error.h"

namespace sax::synth {
namespace {

constexpr int kBlock = 64;  // FluidSynth's internal block; events land on block starts

// FluidSynth logs to stderr by default; our errors carry their own messages.
void silence_fluidsynth_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int level = 0; level < LAST_LOG_LEVEL; ++level)
      fluid_set_log_function(level, nullptr, nullptr);
  });
}

void ignore_glib_message(const gchar*, GLogLevelFlags, const gchar*, gpointer) {}

// Loads a SoundFont into `synth`, keeping libinstpatch's GLib criticals about unreadable files
// off the terminal (our own error names the file). Returns the font id or FLUID_FAILED.
int load_quietly(fluid_synth_t* synth, const std::filesystem::path& soundfont) {
  if (!fluid_is_soundfont(soundfont.c_str())) return FLUID_FAILED;
  auto levels = static_cast<GLogLevelFlags>(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  guint handler = g_log_set_handler(nullptr, levels, ignore_glib_message, nullptr);
  int id = fluid_synth_sfload(synth, soundfont.c_str(), 0);
  g_log_remove_handler(nullptr, handler);
  return id;
}

struct Event {
  size_t frame;
  int order;  // note-offs before controls before note-ons at the same frame
  int channel;
  int a, b;  // key and velocity, or controller and value
};

std::vector<Event> schedule(const Arrangement& song, const std::set<int>& channels) {
  std::vector<Event> events;
  auto frame_of = [](double seconds) {
    return static_cast<size_t>(std::llround(seconds * kSampleRate));
  };
  for (const Note& note : song.notes) {
    if (!channels.count(note.channel)) continue;
    events.push_back({frame_of(note.start), 2, note.channel, note.key, note.velocity});
    events.push_back({frame_of(note.start + note.duration), 0, note.channel, note.key, 0});
  }
  for (const Control& control : song.controls)
    if (channels.count(control.channel))
      events.push_back({frame_of(control.time), 1, control.channel, control.number, control.value});
  std::stable_sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
    return x.frame != y.frame ? x.frame < y.frame : x.order < y.order;
  });
  return events;
}

// A synthesizer for one song. Every song gets a fresh one (reverb and chorus keep state that
// no reset clears), sharing the SoundFont the Renderer loaded once.
class SongSynth {
 public:
  SongSynth(fluid_settings_t* settings, fluid_sfont_t* font)
      : synth_(new_fluid_synth(settings)), font_(font) {
    if (!synth_) throw Error("fluidsynth: could not create a synthesizer");
    font_id_ = fluid_synth_add_sfont(synth_, font_);
    fluid_synth_set_interp_method(synth_, -1,
                                  FLUID_INTERP_LINEAR);  // 4th order costs 2x, sounds alike
  }
  ~SongSynth() {
    fluid_synth_remove_sfont(synth_, font_);  // the Renderer owns the font
    delete_fluid_synth(synth_);
  }
  SongSynth(const SongSynth&) = delete;
  SongSynth& operator=(const SongSynth&) = delete;

  void set_up(const Arrangement& song, bool sax_only) {
    bool effects = !sax_only;
    fluid_synth_reverb_on(synth_, -1, effects);
    fluid_synth_chorus_on(synth_, -1, effects);
    const Effects& fx = song.effects;
    fluid_synth_set_reverb_group_roomsize(synth_, -1, fx.room);
    fluid_synth_set_reverb_group_damp(synth_, -1, fx.damp);
    fluid_synth_set_reverb_group_width(synth_, -1, fx.width * 100);
    fluid_synth_set_reverb_group_level(synth_, -1, fx.level);
    fluid_synth_set_chorus_group_nr(synth_, -1, fx.chorus_voices);
    fluid_synth_set_chorus_group_level(synth_, -1, fx.chorus_level);
    fluid_synth_set_chorus_group_speed(synth_, -1, fx.chorus_speed);
    fluid_synth_set_chorus_group_depth(synth_, -1, fx.chorus_depth);
    for (const Part& part : song.parts) {
      fluid_synth_program_select(synth_, part.channel, font_id_, part.bank, part.program);
      fluid_synth_cc(synth_, part.channel, 7, part.volume);
      fluid_synth_cc(synth_, part.channel, 10, part.pan);
      fluid_synth_cc(synth_, part.channel, 91, effects ? part.reverb : 0);
      fluid_synth_cc(synth_, part.channel, 93, effects ? part.chorus : 0);
    }
  }

  void dispatch(const Event& event) {
    if (event.order == 0)
      fluid_synth_noteoff(synth_, event.channel, event.a);
    else if (event.order == 1)
      fluid_synth_cc(synth_, event.channel, event.a, event.b);
    else
      fluid_synth_noteon(synth_, event.channel, event.a, event.b);
  }

  void write(float* left, float* right, int count) {
    fluid_synth_write_float(synth_, count, left, 0, 1, right, 0, 1);
  }

  bool sax_sounds(const std::set<int>& sax_channels) {
    fluid_voice_t* voices[257];
    int polyphony = std::min(256, fluid_synth_get_polyphony(synth_));
    fluid_synth_get_voicelist(synth_, voices, polyphony, -1);
    for (int i = 0; i < polyphony && voices[i]; ++i)
      if (sax_channels.count(fluid_voice_get_channel(voices[i])) &&
          fluid_voice_is_playing(voices[i]))
        return true;
    return false;
  }

 private:
  fluid_synth_t* synth_;
  fluid_sfont_t* font_;
  int font_id_ = FLUID_FAILED;
};

}  // namespace

struct Renderer::Impl {
  std::filesystem::path soundfont;
  fluid_settings_t* settings = nullptr;
  fluid_synth_t* loader = nullptr;  // owns the SoundFont and keeps used presets' samples loaded
  int font_id = FLUID_FAILED;

  ~Impl() {
    if (loader) delete_fluid_synth(loader);
    if (settings) delete_fluid_settings(settings);
  }

  // Pinned presets keep their samples in memory, so an sf3 font decompresses each only once.
  void pin(const Part& part) {
    if (fluid_synth_pin_preset(loader, font_id, part.bank, part.program) != FLUID_OK)
      throw Error(soundfont.string() + ": has no usable preset for " + part.instrument + " (bank " +
                  std::to_string(part.bank) + ", program " + std::to_string(part.program) + ")");
  }
};

Renderer::Renderer(const std::filesystem::path& soundfont) : impl_(std::make_unique<Impl>()) {
  silence_fluidsynth_logging();
  impl_->soundfont = soundfont;
  std::error_code error;
  if (!std::filesystem::is_regular_file(soundfont, error))
    throw Error(soundfont.string() + ": soundfont not found");
  impl_->settings = new_fluid_settings();
  fluid_settings_setnum(impl_->settings, "synth.sample-rate", kSampleRate);
  fluid_settings_setint(impl_->settings, "synth.cpu-cores", 1);  // no threads: same bytes every run
  // Samples load when a preset is pinned: an sf3 font decompresses only what songs use.
  fluid_settings_setint(impl_->settings, "synth.dynamic-sample-loading", 1);
  fluid_settings_setint(impl_->settings, "synth.polyphony", 256);
  impl_->loader = new_fluid_synth(impl_->settings);
  if (!impl_->loader) throw Error("fluidsynth: could not create a synthesizer");
  impl_->font_id = load_quietly(impl_->loader, soundfont);
  if (impl_->font_id == FLUID_FAILED)
    throw Error(soundfont.string() +
                ": not a SoundFont FluidSynth can read (corrupt or wrong format)");
}

Renderer::~Renderer() = default;

const std::filesystem::path& Renderer::soundfont() const { return impl_->soundfont; }

Rendering Renderer::render(const Arrangement& song, bool sax_only) {
  std::set<int> sax_channels, audible;
  for (const Part& part : song.parts) {
    impl_->pin(part);
    if (part.sax) sax_channels.insert(part.channel);
    if (part.sax || !sax_only) audible.insert(part.channel);
  }
  SongSynth synth(impl_->settings, fluid_synth_get_sfont_by_id(impl_->loader, impl_->font_id));
  synth.set_up(song, sax_only);
  std::vector<Event> events = schedule(song, audible);

  size_t frames = static_cast<size_t>(std::ceil(song.seconds * kSampleRate));
  size_t padded = (frames + kBlock - 1) / kBlock * kBlock;
  std::vector<float> left(padded), right(padded);
  std::vector<TimeRange> sounding;
  size_t next = 0;
  for (size_t block = 0; block < padded; block += kBlock) {
    for (; next < events.size() && events[next].frame < block + kBlock; ++next)
      synth.dispatch(events[next]);
    synth.write(left.data() + block, right.data() + block, kBlock);
    if (!sax_channels.empty() && synth.sax_sounds(sax_channels))
      sounding.push_back({static_cast<double>(block) / kSampleRate,
                          static_cast<double>(block + kBlock) / kSampleRate});
  }

  Rendering out;
  out.stereo.resize(frames * 2);
  for (size_t i = 0; i < frames; ++i) {
    out.stereo[2 * i] = left[i];
    out.stereo[2 * i + 1] = right[i];
  }
  if (sax_only)
    limit(out.stereo, 0.89);
  else
    master(out.stereo, song.loudness_db);
  out.sax = merge_ranges(sounding, kBreathSeconds);
  for (auto& range : out.sax)
    range.second = std::min(range.second, static_cast<double>(frames) / kSampleRate);
  return out;
}

std::vector<TimeRange> merge_ranges(const std::vector<TimeRange>& ranges, double gap) {
  std::vector<TimeRange> merged;
  for (const TimeRange& range : ranges) {
    if (!merged.empty() && range.first - merged.back().second <= gap + 1e-9)
      merged.back().second = std::max(merged.back().second, range.second);
    else
      merged.push_back(range);
  }
  return merged;
}

void master(std::vector<float>& stereo, double loudness_db) {
  double sum = 0;
  for (float v : stereo) sum += static_cast<double>(v) * v;
  double rms = std::sqrt(sum / std::max<size_t>(1, stereo.size()));
  if (rms > 0) {
    float gain = static_cast<float>(std::pow(10.0, loudness_db / 20.0) / rms);
    for (float& v : stereo) v *= gain;
  }
  limit(stereo, 0.89);  // -1 dBFS
}

// Gain needed per frame, taken as the minimum over the next `lookahead` frames (so the gain is
// already down when the peak arrives), released slowly, then smoothed by a moving average of
// the same length (which keeps every frame at or under the gain its own peak needs).
void limit(std::vector<float>& stereo, double ceiling) {
  size_t frames = stereo.size() / 2;
  if (frames == 0) return;
  const size_t lookahead = kSampleRate / 200;  // 5 ms
  const double release = 1.0 - std::exp(-1.0 / (0.08 * kSampleRate));
  std::vector<double> need(frames);
  for (size_t i = 0; i < frames; ++i) {
    double peak = std::max(std::abs(stereo[2 * i]), std::abs(stereo[2 * i + 1]));
    need[i] = peak > ceiling ? ceiling / peak : 1.0;
  }
  std::vector<double> gain(frames);
  std::deque<size_t> window;  // indices of increasing need: sliding minimum over [i, i + lookahead]
  size_t ahead = 0;
  double envelope = 1.0;
  for (size_t i = 0; i < frames; ++i) {
    for (; ahead < frames && ahead <= i + lookahead; ++ahead) {
      while (!window.empty() && need[window.back()] >= need[ahead]) window.pop_back();
      window.push_back(ahead);
    }
    while (window.front() < i) window.pop_front();
    double target = need[window.front()];
    envelope = target < envelope ? target : envelope + (target - envelope) * release;
    gain[i] = envelope;
  }
  double running = 0;
  for (size_t i = 0; i < frames; ++i) {
    running += gain[i];
    if (i > lookahead) running -= gain[i - lookahead - 1];
    double smoothed = running / static_cast<double>(std::min(i + 1, lookahead + 1));
    for (int c = 0; c < 2; ++c) {
      float& v = stereo[2 * i + c];
      v = static_cast<float>(std::clamp(v * smoothed, -1.0, 1.0));
    }
  }
}

}  // namespace sax::synth
