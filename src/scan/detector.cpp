// The one place `saxdetect scan`, `saxdetect library` and the Library page get their detector
// and its id, so changing the default detector changes all three together.
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include "common/error.h"
#include "common/hash.h"

#include "infer/builtin_model.h"
#include "infer/detector.h"
#include "scan/scan.h"

namespace sax {

namespace fs = std::filesystem;

namespace {

fs::path model_folder(const Home& home, const std::string& model_dir) {
  return model_dir.empty() ? current_model_dir(home.models()) : fs::path(model_dir);
}

std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot read it");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::unique_ptr<Scorer> open_scan_detector(const Home& home, const std::string& model_dir) {
  if (model_dir.empty()) return open_home_detector(home.models());
  return load_detector(model_dir);
}

// SHA-256 over model.json and the weights: the description alone would not change when only
// the weights do (a resumed run), and the folder name may be reused by another training.
// The built-in detector is its weights at its threshold (calibration changes the verdicts).
std::string scan_model_id(const Home& home, const std::string& model_dir) {
  if (model_dir.empty() && !fs::exists(home.models() / "current"))
    return fmt::format("{}@{:.6f}", builtin_model_id(), builtin_threshold(home.models()));
  const fs::path folder = model_folder(home, model_dir);
  std::string bytes = file_bytes(folder / "model.json");
  for (const char* weights : {"model.safetensors", "model.pt"}) {
    std::error_code ec;
    if (fs::is_regular_file(folder / weights, ec)) {
      bytes += file_bytes(folder / weights);
      break;
    }
  }
  return sha256_bytes(bytes.data(), bytes.size()).substr(0, 32);
}

}  // namespace sax
