#include "common/home.h"

#include <cstdlib>

#include "common/error.h"

namespace sax {

namespace fs = std::filesystem;

Home Home::resolve(const std::string& flag_value) {
  if (!flag_value.empty()) return Home{fs::path(flag_value)};
  if (const char* env = std::getenv("SAXDETECT_HOME"); env && *env) return Home{fs::path(env)};
  return Home{fs::path("saxdetect-data")};
}

void Home::create() const {
  for (const auto& dir : {root, samples(), cache(), models(), uploads(), reports()}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error("cannot create folder " + dir.string() + ": " + ec.message());
  }
}

fs::path Home::inside(const std::string& relative) const {
  const fs::path rel(relative);
  if (relative.empty() || rel.is_absolute()) throw Error("path outside the data home: " + relative);
  for (const auto& part : rel)
    if (part == "..") throw Error("path outside the data home: " + relative);
  const fs::path base = fs::weakly_canonical(root);
  const fs::path full = fs::weakly_canonical(root / rel);
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end()) throw Error("path outside the data home: " + relative);
  return full;
}

}  // namespace sax
