#pragma once
// Checks on everything the web app receives. Each failure is an HttpError carrying the HTTP
// status the client gets, with a message naming the field at fault.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/error.h"
#include "store/store.h"

namespace sax::web {

class HttpError : public Error {
 public:
  HttpError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

constexpr size_t kMaxAnnotatorLength = 64;  // bytes of UTF-8
constexpr size_t kMaxJsonBody = 4096;       // a vote is well under 200 bytes

// Trims surrounding spaces; refuses empty names, names over kMaxAnnotatorLength bytes, control
// characters and invalid UTF-8 (400).
std::string checked_annotator(std::string_view name);
// Free text such as a search filter: at most `max_bytes`, valid UTF-8, no control characters
// (400 naming `field` otherwise). May be empty.
std::string checked_text(std::string_view text, std::string_view field, size_t max_bytes);
// A positive decimal id that fits int64 (400 otherwise).
int64_t checked_id(std::string_view text, std::string_view field);
// "sax", "not_sax" or "unsure" (400 otherwise).
Label checked_label(std::string_view name);
// Parses a JSON object body of at most kMaxJsonBody bytes (413 / 400 otherwise).
nlohmann::json checked_json_object(std::string_view body);

// Compares secrets in time independent of where they differ.
bool same_secret(std::string_view a, std::string_view b);

// "samples/a b/c.mp3" -> "samples/a%20b/c.mp3": percent-encodes each path segment for a URL.
std::string url_encode_path(std::string_view path);

}  // namespace sax::web
