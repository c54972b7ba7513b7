#pragma once
// Helpers shared by the test executables.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace sax::testing {

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A sine tone (interleaved when channels > 1, each channel a different frequency).
std::vector<float> tone(double seconds, int rate, int channels = 1, double hz = 440.0,
                        double amplitude = 0.5);

// Writes `bytes` to `path` as they are, creating its folder; replaces an existing file.
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

// Writes mono 32-bit float samples as a WAV file (format 3, IEEE float) exactly as given:
// write_audio writes 16-bit PCM, which cannot hold NaN, infinity or 1e30.
void write_float_wav(const std::filesystem::path& path, const std::vector<float>& samples,
                     int rate);

// The message of the sax::Error `action` throws, or "(no error)" when it throws none.
std::string error_of(const std::function<void()>& action);

// Runs the saxdetect binary with arguments; returns exit status, output in *out (stdout+stderr).
int run_saxdetect(const std::string& args, std::string* out = nullptr);

// Runs a shell command, returns exit status, output (stdout+stderr) in *out.
int run_shell(const std::string& command, std::string* out = nullptr);

}  // namespace sax::testing
