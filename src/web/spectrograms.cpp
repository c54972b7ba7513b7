#include "web/spectrograms.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "audio/audio.h"
#include "common/error.h"
#include "plot/image.h"

namespace sax::web {

namespace fs = std::filesystem;

namespace {

constexpr int kPixelsPerCell = 2;  // 128 x 108 cells -> 216 x 256 pixels

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Writes through a unique temporary name and renames, so a concurrent reader never sees half a
// file and two threads rendering the same sample cannot corrupt each other.
void write_atomically(const fs::path& path, const std::string& bytes) {
  std::ostringstream suffix;
  suffix << ".tmp" << std::this_thread::get_id();
  const fs::path temporary = path.string() + suffix.str();
  {
    std::ofstream out(temporary, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw Error("cannot write " + temporary.string());
  }
  fs::rename(temporary, path);
}

}  // namespace

SpectrogramCache::SpectrogramCache(Home home, FeatureConfig config)
    : home_(std::move(home)),
      config_(std::move(config)),
      folder_(home_.cache() / "spectrograms" / config_.key()) {}

fs::path SpectrogramCache::cached_file(const Sample& sample) const {
  // Named by content hash: a re-created store reusing ids cannot pick up a stale picture.
  return folder_ / (sample.hash.substr(0, 24) + "-" + std::to_string(sample.id) + ".png");
}

std::string SpectrogramCache::png(const Sample& sample) const {
  const fs::path file = cached_file(sample);
  std::error_code ec;
  if (fs::is_regular_file(file, ec)) return read_file(file);
  std::string bytes = render(sample);
  fs::create_directories(folder_, ec);
  if (ec) throw Error("cannot create " + folder_.string() + ": " + ec.message());
  write_atomically(file, bytes);
  return bytes;
}

std::string SpectrogramCache::render(const Sample& sample) const {
  // The lossless clip when there is one: the picture should show what the model sees.
  const std::string& relative = sample.path.empty() ? sample.web_path : sample.path;
  const std::vector<float> audio = decode_mono(home_.inside(relative), config_.sample_rate);
  const Spectrogram spectrogram = log_mel(audio.data(), audio.size(), config_);
  return encode_png(
      heatmap(spectrogram.values, spectrogram.rows, spectrogram.cols, kPixelsPerCell));
}

}  // namespace sax::web
