#include "web/analyzer.h"

#include <fstream>
#include <random>

#include "audio/audio.h"
#include "detect/detect.h"
#include "web/validation.h"

namespace sax::web {

namespace fs = std::filesystem;

namespace {

// Removes the uploaded file however the analysis ends.
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

// A name the client cannot influence (only the checked extension is kept).
fs::path upload_path(const Home& home, const std::string& extension) {
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}()};
  const std::lock_guard<std::mutex> lock(mutex);
  return home.uploads() / ("upload-" + std::to_string(random()) + extension);
}

std::string lower_extension(const std::string& file_name) {
  std::string extension = fs::path(file_name).extension().string();
  for (auto& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return extension;
}

}  // namespace

Analyzer::Analyzer(Home home, WebOptions::OpenScorer open_scorer)
    : home_(std::move(home)), open_scorer_(std::move(open_scorer)) {}

Scorer& Analyzer::scorer() {
  if (open_scorer_) {
    if (!scorer_) scorer_ = open_scorer_(home_);
    return *scorer_;
  }
  try {
    // The current model's folder, or the built-in detector at its threshold: reload when either
    // changes under the running server (a training run, a calibration).
    const auto models = home_.models();
    const std::string key = fs::exists(models / "current")
                                ? current_model_dir(models).string()
                                : "built-in " + std::to_string(builtin_threshold(models));
    if (!scorer_ || key != scorer_key_) {
      scorer_ = open_home_detector(models);
      scorer_key_ = key;
    }
  } catch (const Error& e) {
    throw HttpError(409, e.what());
  }
  return *scorer_;
}

nlohmann::json Analyzer::analyse_upload(const std::string& file_name, const std::string& bytes) {
  const std::string extension = lower_extension(file_name);
  if (!has_audio_extension("x" + extension))
    throw HttpError(415, "file: expected an audio file (mp3, flac, wav, ogg, opus, m4a, aiff)");
  const std::lock_guard<std::mutex> lock(mutex_);
  Scorer& model = scorer();
  fs::create_directories(home_.uploads());
  const RemoveOnExit upload{upload_path(home_, extension)};
  {
    std::ofstream out(upload.path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw Error("cannot write " + upload.path.string());
  }
  try {
    probe_audio(upload.path);
  } catch (const Error&) {
    throw HttpError(415, "file: " + file_name + " is not audio that can be decoded");
  }
  return run(model, upload.path, file_name);
}

nlohmann::json Analyzer::analyse_file(const fs::path& file, const std::string& display_name) {
  const std::lock_guard<std::mutex> lock(mutex_);
  return run(scorer(), file, display_name);
}

nlohmann::json Analyzer::run(Scorer& model, const fs::path& file, const std::string& display_name) {
  detect::Options options;
  options.keep_spectrogram = true;
  detect::Analysis analysis;
  try {
    analysis = detect::analyse_file(file, model, options);
  } catch (const HttpError&) {
    throw;
  } catch (const Error&) {
    throw HttpError(422, "file: " + display_name + " could not be decoded to the end");
  }
  analysis.file = display_name;
  nlohmann::json result = detect::to_json(analysis);
  result["plot"] = detect::plot_svg(analysis);
  return result;
}

}  // namespace sax::web
