#pragma once
// Writing files so that readers never see half of one.
#include <cstddef>
#include <filesystem>

namespace sax {

// Writes `size` bytes to path.tmp, then renames it over `path` (atomic on one file system).
// Throws sax::Error naming the file when it cannot be written.
void write_file_atomically(const std::filesystem::path& path, const void* data, size_t size);

}  // namespace sax
