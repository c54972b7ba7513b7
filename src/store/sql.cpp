#include "store/sql.h"

#include <charconv>
#include <cstdlib>

#include "common/error.h"

namespace sax::sql {

bool Row::is_null(size_t column) const {
  return std::holds_alternative<std::nullptr_t>(values_.at(column));
}

int64_t Row::integer(size_t column) const {
  const Value& value = values_.at(column);
  if (auto* i64 = std::get_if<int64_t>(&value)) return *i64;
  if (auto* real = std::get_if<double>(&value)) return static_cast<int64_t>(*real);
  if (auto* text = std::get_if<std::string>(&value)) {
    // PostgreSQL sends numbers as text; aggregates over BIGINT may come back as "12.0000".
    int64_t parsed = 0;
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), parsed);
    if (error == std::errc() && end == text->data() + text->size()) return parsed;
    return static_cast<int64_t>(std::strtod(text->c_str(), nullptr));
  }
  return 0;
}

double Row::real(size_t column) const {
  const Value& value = values_.at(column);
  if (auto* i64 = std::get_if<int64_t>(&value)) return static_cast<double>(*i64);
  if (auto* real = std::get_if<double>(&value)) return *real;
  if (auto* text = std::get_if<std::string>(&value)) return std::strtod(text->c_str(), nullptr);
  return 0;
}

std::string Row::text(size_t column) const {
  const Value& value = values_.at(column);
  if (auto* text = std::get_if<std::string>(&value)) return *text;
  if (auto* i64 = std::get_if<int64_t>(&value)) return std::to_string(*i64);
  if (auto* real = std::get_if<double>(&value)) return exact_text(*real);
  return {};
}

std::string exact_text(double value) {
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error != std::errc()) throw Error("cannot format number");
  return std::string(buffer, end);
}

}  // namespace sax::sql
