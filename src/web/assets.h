#pragma once
// The files of web/ (pages, styles, scripts), compiled into the binary at build time by
// embed_assets.cmake, so `saxdetect serve` needs nothing on disk besides the data home.
#include <map>
#include <string>
#include <string_view>

namespace sax::web {

// File name (as in web/) -> content. Generated: see src/web/CMakeLists.txt.
const std::map<std::string, std::string_view>& embedded_assets();

// MIME type from the file extension, in any case ("application/octet-stream" when unknown).
std::string content_type_for(const std::string& file_name);

}  // namespace sax::web
