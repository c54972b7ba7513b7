#pragma once
// Strict, friendly JSON reading for configuration structs (LibTorch-free, shared by the config
// readers). Missing fields keep their defaults; a field of the wrong type or an unknown field
// (usually a typo) throws sax::Error naming the config and the field, so a bad config file fails on
// one clear line instead of silently training with defaults.
#include <initializer_list>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace sax::json_fields {

inline void require_object(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object())
    throw Error(fmt::format("{}: expected a JSON object, got {}", where, j.dump()));
}

inline void reject_unknown(const nlohmann::json& j, std::initializer_list<const char*> known,
                           const std::string& where) {
  for (const auto& item : j.items()) {
    bool found = false;
    for (const char* name : known) found = found || item.key() == name;
    if (!found) throw Error(fmt::format("{}: unknown field '{}'", where, item.key()));
  }
}

template <class T>
void read(const nlohmann::json& j, const char* name, T& out, const std::string& where) {
  const auto it = j.find(name);
  if (it == j.end()) return;
  try {
    out = it->get<T>();
  } catch (const Error&) {
    throw;
  } catch (const nlohmann::json::exception&) {
    throw Error(fmt::format("{}: field '{}' has the wrong type: {}", where, name, it->dump()));
  }
}

}  // namespace sax::json_fields
