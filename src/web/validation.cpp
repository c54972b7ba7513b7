#include "web/validation.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace sax::web {

namespace {

// Length of the UTF-8 sequence starting with `lead`, 0 when it cannot start one.
size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Decodes the code point at text[i] (already known to be `length` bytes long); -1 if malformed.
long decode_code_point(std::string_view text, size_t i, size_t length) {
  static constexpr unsigned char kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  long code = static_cast<unsigned char>(text[i]) & kLeadMask[length];
  for (size_t k = 1; k < length; ++k) {
    const auto byte = static_cast<unsigned char>(text[i + k]);
    if ((byte & 0xC0) != 0x80) return -1;
    code = (code << 6) | (byte & 0x3F);
  }
  static constexpr long kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kSmallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return -1;
  return code;
}

// C0 and C1 controls, DEL, and the invisible line/paragraph separators and bidi overrides
// that could disguise a name on the status page.
bool is_control(long code) {
  return code < 0x20 || (code >= 0x7F && code <= 0x9F) || code == 0x2028 || code == 0x2029 ||
         (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069);
}

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// Valid UTF-8 without control characters, or HttpError 400 naming `field`.
void check_characters(std::string_view text, const std::string& field) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_sequence_length(static_cast<unsigned char>(text[i]));
    if (length == 0 || i + length > text.size()) throw HttpError(400, field + ": not valid UTF-8");
    const long code = decode_code_point(text, i, length);
    if (code < 0) throw HttpError(400, field + ": not valid UTF-8");
    if (is_control(code)) throw HttpError(400, field + ": control characters are not allowed");
    i += length;
  }
}

}  // namespace

std::string checked_annotator(std::string_view raw) {
  const std::string_view name = trim_spaces(raw);
  if (name.empty()) throw HttpError(400, "annotator: a name is required");
  if (name.size() > kMaxAnnotatorLength)
    throw HttpError(400, "annotator: at most " + std::to_string(kMaxAnnotatorLength) +
                             " bytes, got " + std::to_string(name.size()));
  check_characters(name, "annotator");
  return std::string(name);
}

std::string checked_text(std::string_view text, std::string_view field, size_t max_bytes) {
  const std::string name(field);
  if (text.size() > max_bytes)
    throw HttpError(400, name + ": at most " + std::to_string(max_bytes) + " bytes");
  check_characters(text, name);
  return std::string(text);
}

int64_t checked_id(std::string_view text, std::string_view field) {
  int64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || id <= 0)
    throw HttpError(400, std::string(field) + ": expected a positive integer id");
  return id;
}

Label checked_label(std::string_view name) {
  if (auto label = parse_label(name)) return *label;
  throw HttpError(400, "label: expected \"sax\", \"not_sax\" or \"unsure\"");
}

nlohmann::json checked_json_object(std::string_view body) {
  if (body.size() > kMaxJsonBody)
    throw HttpError(413, "body: at most " + std::to_string(kMaxJsonBody) + " bytes");
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object())
    throw HttpError(400, "body: expected a JSON object");
  return json;
}

bool same_secret(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    difference |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return difference == 0;
}

std::string url_encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

}  // namespace sax::web
