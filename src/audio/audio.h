#pragma once
// Audio in and out through the FFmpeg libraries.
//
//   sax::Decoder in("song.m4a", 22050);          // any format, rate, channel count
//   std::vector<float> block(22050 * 5);
//   while (size_t n = in.read(block.data(), block.size())) { ... }   // mono, 22.05 kHz
//
//   sax::write_audio("clip.flac", samples, 22050);                    // format from extension
//
// Decoding streams: memory stays bounded whatever the file length.
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sax {

struct AudioInfo {
  double duration = 0;  // seconds, from the container (0 when unknown)
  int sample_rate = 0;  // of the source stream
  int channels = 0;     // of the source stream
  std::string codec;    // e.g. "mp3", "flac", "aac"
  std::string format;   // container, e.g. "mp3", "flac", "mov,mp4,m4a,3gp,3g2,mj2"
  std::map<std::string, std::string> tags;  // lower-case keys: title, artist, album, ...
};

// Streaming decoder: mixes every channel down to mono (plain average) and resamples to
// the requested rate. Throws sax::Error("<file>: <reason>") for unreadable, non-audio, empty
// or corrupt input.
class Decoder {
 public:
  Decoder(const std::filesystem::path& path, int target_rate);
  ~Decoder();
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;

  const AudioInfo& info() const;
  int sample_rate() const;  // the target rate

  // Reads up to `count` mono samples; returns how many were written, 0 at the end.
  size_t read(float* out, size_t count);
  // Skips forward by `count` output samples (decoding through them). Returns samples skipped.
  size_t skip(size_t count);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whole file as mono at `rate`. For short files (samples, tests); stream long ones with Decoder.
std::vector<float> decode_mono(const std::filesystem::path& path, int rate);

// Reads only the container header (no decoding). Throws like Decoder.
AudioInfo probe_audio(const std::filesystem::path& path);

// Writes interleaved float samples (-1..1) to `path`; the format follows the extension:
// .wav (16-bit PCM), .flac, .mp3, .ogg (vorbis or opus), .opus, .m4a (aac), .aiff.
// bitrate_kbps applies to lossy formats. Throws sax::Error naming the file.
void write_audio(const std::filesystem::path& path, const float* interleaved, size_t frames,
                 int channels, int sample_rate, int bitrate_kbps = 128);
inline void write_audio(const std::filesystem::path& path, const std::vector<float>& mono,
                        int sample_rate, int bitrate_kbps = 128) {
  write_audio(path, mono.data(), mono.size(), 1, sample_rate, bitrate_kbps);
}

// Root-mean-square level and "digital silence" (every sample below ~-90 dBFS).
double rms(const float* samples, size_t count);
bool is_digital_silence(const float* samples, size_t count);

// File extensions that ingest and predict pick up when walking folders.
bool has_audio_extension(const std::filesystem::path& path);

}  // namespace sax
