#pragma once
// Content hashes (SHA-256, lower-case hex) that identify sources and samples across runs.
#include <cstddef>
#include <filesystem>
#include <string>

namespace sax {

std::string sha256_file(const std::filesystem::path& path);  // throws sax::Error naming the file
std::string sha256_bytes(const void* data, size_t size);

}  // namespace sax
