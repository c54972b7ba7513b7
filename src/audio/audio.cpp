// Small audio helpers: levels, silence, extensions, and FFmpeg's shared set-up.
#include "audio/audio.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>
#include <set>

#include "audio/ffmpeg.h"

namespace sax {

namespace ffmpeg {

void silence_library_logging() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_QUIET); });
}

std::string error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

}  // namespace ffmpeg

double rms(const float* samples, size_t count) {
  if (count == 0) return 0;
  double sum = 0;
  for (size_t i = 0; i < count; ++i) sum += static_cast<double>(samples[i]) * samples[i];
  return std::sqrt(sum / static_cast<double>(count));
}

// -90 dBFS: a 16-bit source quantised to +-1 LSB (about -90.3 dBFS) still counts as silence.
bool is_digital_silence(const float* samples, size_t count) {
  constexpr float kThreshold = 3.1623e-5f;  // 10^(-90/20)
  return std::all_of(samples, samples + count, [](float s) { return std::fabs(s) < kThreshold; });
}

bool has_audio_extension(const std::filesystem::path& path) {
  static const std::set<std::string> extensions = {".mp3",  ".flac", ".wav",  ".ogg",
                                                   ".oga",  ".opus", ".m4a",  ".aac",
                                                   ".aiff", ".aif",  ".wave", ".mp4"};
  std::string ext = path.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return extensions.count(ext) > 0;
}

}  // namespace sax
