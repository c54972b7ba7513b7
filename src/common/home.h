#pragma once
// The data home: one folder holding the SQLite store, sample audio, caches and models.
#include <filesystem>
#include <string>

namespace sax {

struct Home {
  std::filesystem::path root;

  // --home wins, then $SAXDETECT_HOME, then ./saxdetect-data.
  static Home resolve(const std::string& flag_value);

  std::filesystem::path database() const { return root / "saxdetect.db"; }
  std::filesystem::path samples() const { return root / "samples"; }
  std::filesystem::path cache() const { return root / "cache"; }
  std::filesystem::path models() const { return root / "models"; }
  std::filesystem::path uploads() const { return root / "uploads"; }
  std::filesystem::path reports() const { return root / "reports"; }

  // Creates root and the standard sub-folders when missing.
  void create() const;

  // Resolves a path stored relative to the home; refuses anything that escapes it
  // (absolute paths, "..", symlinks pointing out). Throws sax::Error naming the path.
  std::filesystem::path inside(const std::string& relative) const;
};

}  // namespace sax
