#include "web/assets.h"

#include <cctype>
#include <filesystem>

namespace sax::web {

std::string content_type_for(const std::string& file_name) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".mp3", "audio/mpeg"},
      {".ogg", "audio/ogg"},
      {".opus", "audio/ogg"},
      {".m4a", "audio/mp4"},
      {".wav", "audio/wav"},
      {".flac", "audio/flac"},
      {".oga", "audio/ogg"},
      {".aac", "audio/aac"},
      {".mp4", "audio/mp4"},
      {".wave", "audio/wav"},
      {".aiff", "audio/aiff"},
      {".aif", "audio/aiff"},
  };
  std::string extension = std::filesystem::path(file_name).extension().string();
  for (auto& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto found = kTypes.find(extension);
  return found == kTypes.end() ? "application/octet-stream" : found->second;
}

}  // namespace sax::web
