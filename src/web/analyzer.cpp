#include "web/analyzer.h"

#include <fstream>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include "audio/audio.h"
#include "detect/detect.h"
#include "web/validation.h"

namespace sax::web {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUploadPrefix = "upload-";

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
  return home.uploads() / (kUploadPrefix + std::to_string(random()) + extension);
}

std::string lower_extension(const std::string& file_name) {
  std::string extension = fs::path(file_name).extension().string();
  for (auto& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return extension;
}

// Thrown from the progress callback to end an analysis. Not a sax::Error, which detect wraps
// into a decoding error naming the file.
struct Stopped : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

// One request's admission: counted against max_analyses from arrival, then holding the
// analyzer's lock once it is its turn. Waiting and running share the request's time limit.
class Analyzer::Turn {
 public:
  explicit Turn(Analyzer& analyzer)
      : analyzer_(analyzer),
        deadline_(
            std::chrono::steady_clock::now() +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(analyzer.time_limit_)) {
    if (analyzer_.admitted_.fetch_add(1) >= analyzer_.max_analyses_) {
      analyzer_.admitted_.fetch_sub(1);
      throw HttpError(503, fmt::format("analysis: {} already running or waiting; try again soon",
                                       analyzer_.max_analyses_));
    }
    try {
      wait_for_lock();
    } catch (...) {
      analyzer_.admitted_.fetch_sub(1);
      throw;
    }
  }
  ~Turn() {
    analyzer_.mutex_.unlock();
    analyzer_.admitted_.fetch_sub(1);
  }
  Turn(const Turn&) = delete;
  Turn& operator=(const Turn&) = delete;

  // Throws Stopped when the server stops or the time is up; called between chunks.
  void check() const {
    if (analyzer_.stopping_) throw Stopped("analysis: the server is stopping");
    if (std::chrono::steady_clock::now() > deadline_)
      throw Stopped(fmt::format("analysis: stopped at its time limit of {:g} s",
                                analyzer_.time_limit_.count()));
  }

 private:
  // In short slices, so that stop() and the deadline end the wait too.
  void wait_for_lock() {
    for (;;) {
      try {
        check();
      } catch (const Stopped& e) {
        throw HttpError(503, e.what());
      }
      if (analyzer_.mutex_.try_lock_for(std::chrono::milliseconds(100))) return;
    }
  }

  Analyzer& analyzer_;
  std::chrono::steady_clock::time_point deadline_;
};

Analyzer::Analyzer(Home home, const WebOptions& options)
    : home_(std::move(home)),
      open_scorer_(options.open_scorer),
      max_analyses_(options.max_analyses),
      time_limit_(options.analysis_seconds) {}

void Analyzer::sweep_uploads() const {
  std::error_code ec;
  for (fs::directory_iterator it(home_.uploads(), ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(kUploadPrefix, 0) == 0) fs::remove(it->path(), ec);
}

void Analyzer::stop() { stopping_ = true; }

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
  const Turn turn(*this);
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
  return run(model, upload.path, file_name, turn);
}

nlohmann::json Analyzer::analyse_file(const fs::path& file, const std::string& display_name) {
  const Turn turn(*this);
  return run(scorer(), file, display_name, turn);
}

nlohmann::json Analyzer::run(Scorer& model, const fs::path& file, const std::string& display_name,
                             const Turn& turn) {
  detect::Options options;
  options.keep_spectrogram = true;
  options.on_progress = [&turn](double) { turn.check(); };
  detect::Analysis analysis;
  try {
    analysis = detect::analyse_file(file, model, options);
  } catch (const Stopped& e) {
    throw HttpError(503, e.what());
  } catch (const HttpError&) {
    throw;
  } catch (const Error& e) {
    // The reason without the server's path of the file (an upload's name is ours, not theirs).
    std::string reason = e.what();
    if (reason.rfind(file.string() + ": ", 0) == 0) reason.erase(0, file.string().size() + 2);
    throw HttpError(422, "file: " + display_name + " could not be analysed: " + reason);
  }
  analysis.file = display_name;
  nlohmann::json result = detect::to_json(analysis);
  result["plot"] = detect::plot_svg(analysis);
  return result;
}

}  // namespace sax::web
