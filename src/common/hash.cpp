#include "common/hash.h"

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "common/error.h"

extern "C" {
#include <libavutil/mem.h>
#include <libavutil/sha.h>
}

namespace sax {

namespace {

struct ShaDeleter {
  void operator()(AVSHA* sha) const { av_free(sha); }
};
using ShaPtr = std::unique_ptr<AVSHA, ShaDeleter>;

ShaPtr new_sha256() {
  ShaPtr sha(av_sha_alloc());
  if (!sha || av_sha_init(sha.get(), 256) < 0) throw Error("cannot initialise SHA-256");
  return sha;
}

std::string hex_digest(AVSHA* sha) {
  std::array<uint8_t, 32> digest{};
  av_sha_final(sha, digest.data());
  std::string out;
  out.reserve(64);
  char buf[3];
  for (uint8_t byte : digest) {
    std::snprintf(buf, sizeof buf, "%02x", byte);
    out += buf;
  }
  return out;
}

}  // namespace

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open for reading");
  auto sha = new_sha256();
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got > 0)
      av_sha_update(sha.get(), reinterpret_cast<const uint8_t*>(buffer.data()),
                    static_cast<unsigned>(got));
  }
  if (in.bad()) throw Error(path.string() + ": read error");
  return hex_digest(sha.get());
}

std::string sha256_bytes(const void* data, size_t size) {
  auto sha = new_sha256();
  av_sha_update(sha.get(), static_cast<const uint8_t*>(data), static_cast<unsigned>(size));
  return hex_digest(sha.get());
}

}  // namespace sax
