#include "support/testing.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>

#include "common/error.h"

namespace sax::testing {

namespace fs = std::filesystem;

void write_bytes(const fs::path& path, const std::string& bytes) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

namespace {
void append_le(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
}  // namespace

void write_float_wav(const fs::path& path, const std::vector<float>& samples, int rate) {
  const auto data_bytes = static_cast<uint32_t>(samples.size() * sizeof(float));
  std::string out = "RIFF";
  append_le(out, 36 + data_bytes, 4);
  out += "WAVEfmt ";
  append_le(out, 16, 4);                               // fmt chunk size
  append_le(out, 3, 2);                                // IEEE float
  append_le(out, 1, 2);                                // mono
  append_le(out, static_cast<uint32_t>(rate), 4);      // sample rate
  append_le(out, static_cast<uint32_t>(rate) * 4, 4);  // byte rate
  append_le(out, 4, 2);                                // block align
  append_le(out, 32, 2);                               // bits per sample
  out += "data";
  append_le(out, data_bytes, 4);
  out.append(reinterpret_cast<const char*>(samples.data()), data_bytes);  // little-endian hosts
  write_bytes(path, out);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ =
      fs::temp_directory_path() / ("saxtest-" + std::to_string(getpid()) + "-" +
                                   std::to_string(counter++) + "-" + std::to_string(rd() % 100000));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<float> tone(double seconds, int rate, int channels, double hz, double amplitude) {
  const size_t frames = static_cast<size_t>(seconds * rate);
  std::vector<float> out(frames * channels);
  for (size_t i = 0; i < frames; ++i)
    for (int c = 0; c < channels; ++c)
      out[i * channels + c] = static_cast<float>(
          amplitude * std::sin(2 * M_PI * hz * (1 + 0.25 * c) * static_cast<double>(i) / rate));
  return out;
}

int run_shell(const std::string& command, std::string* out) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buffer{};
  std::string text;
  size_t got;
  while ((got = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) text.append(buffer.data(), got);
  const int status = pclose(pipe);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_saxdetect(const std::string& args, std::string* out) {
  return run_shell(std::string(SAXDETECT_BIN) + " " + args, out);
}

}  // namespace sax::testing
