// Standard base64 (RFC 4648, with padding) for the stored curves.
#include <array>

#include "common/error.h"
#include "scan/scan.h"

namespace sax {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::array<int, 256> decoding_table() {
  std::array<int, 256> table;
  table.fill(-1);
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
  return table;
}

}  // namespace

std::string base64_encode(const std::vector<unsigned char>& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = bytes[i] << 16;
    if (n > 1) v |= bytes[i + 1] << 8;
    if (n > 2) v |= bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += n > 1 ? kAlphabet[(v >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::vector<unsigned char> base64_decode(const std::string& text) {
  static const std::array<int, 256> table = decoding_table();
  if (text.size() % 4 != 0) throw Error("curve: base64 length is not a multiple of 4");
  std::vector<unsigned char> out;
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    int padding = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      const bool pad = c == '=' && i + 4 == text.size() && j >= 2;
      const int digit = pad ? 0 : table[static_cast<unsigned char>(c)];
      if (digit < 0 || (padding && !pad)) throw Error("curve: not base64");
      padding += pad;
      v = (v << 6) | static_cast<uint32_t>(digit);
    }
    out.push_back(static_cast<unsigned char>(v >> 16));
    if (padding < 2) out.push_back(static_cast<unsigned char>(v >> 8));
    if (padding < 1) out.push_back(static_cast<unsigned char>(v));
  }
  return out;
}

}  // namespace sax
