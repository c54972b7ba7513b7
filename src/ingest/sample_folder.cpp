#include "ingest/sample_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"

namespace sax::ingest_detail {

namespace fs = std::filesystem;

namespace {
constexpr const char* kLockName = ".lock";
constexpr const char* kTempPrefix = ".tmp-";
}  // namespace

SampleFolder::SampleFolder(const Home& home, const std::string& source_hash)
    : home_(home), relative_("samples/" + source_hash) {}

SampleFolder::~SampleFolder() {
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

bool SampleFolder::try_lock() {
  const fs::path folder = home_.root / relative_;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw Error("cannot create folder " + folder.string() + ": " + ec.message());
  const fs::path lock_file = folder / kLockName;
  lock_fd_ = open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0)
    throw Error(lock_file.string() + ": cannot open lock (" + std::strerror(errno) + ")");
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) == 0) return true;
  close(lock_fd_);
  lock_fd_ = -1;
  return false;
}

std::string SampleFolder::clip_path(int64_t start_ms, const std::string& extension) const {
  return fmt::format("{}/{:010}{}", relative_, start_ms, extension);
}

fs::path SampleFolder::temp_path(const std::string& clip_relative) const {
  const fs::path clip = home_.root / clip_relative;
  return clip.parent_path() / (kTempPrefix + clip.filename().string());
}

size_t SampleFolder::remove_unrecorded(const std::set<std::string>& recorded_relative_paths) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(home_.root / relative_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == kLockName || recorded_relative_paths.count(relative_ + "/" + name)) continue;
    std::error_code remove_error;
    if (fs::remove_all(entry.path(), remove_error) > 0) ++removed;
  }
  return removed;
}

}  // namespace sax::ingest_detail
