#include "common/files.h"

#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "common/error.h"

namespace sax {

void write_file_atomically(const std::filesystem::path& path, const void* data, size_t size) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) throw Error(fmt::format("{}: cannot write", tmp.string()));
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) throw Error(fmt::format("{}: cannot write ({})", path.string(), error.message()));
}

}  // namespace sax
