#pragma once
// Strict, friendly JSON reading for configuration structs (LibTorch-free, shared by the config
// readers). Missing fields keep their defaults; a field of the wrong type or an unknown field
// (usually a typo) throws sax::Error naming the config and the field, so a bad config file fails on
// one clear line instead of silently training with defaults.
//
// Each struct lists its fields once, and both directions follow the list:
//   const auto kFields = std::make_tuple(field("epochs", &TrainConfig::epochs), ...);
//   to_json:   write(j, c, kFields);
//   from_json: read_object(j, c, kFields, "train config"); then validate c.
#include <string>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace sax::json_fields {

inline void require_object(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object())
    throw Error(fmt::format("{}: expected a JSON object, got {}", where, j.dump()));
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

// One JSON field of struct S: its name and its member.
template <class S, class T>
struct Field {
  const char* name;
  T S::*member;
};

template <class S, class T>
constexpr Field<S, T> field(const char* name, T S::*member) {
  return {name, member};
}

template <class S, class... T>
void write(nlohmann::json& j, const S& s, const std::tuple<Field<S, T>...>& fields) {
  j = nlohmann::json::object();
  std::apply([&](const auto&... f) { ((j[f.name] = s.*(f.member)), ...); }, fields);
}

// Reads an object whose fields must all be listed; listed fields it lacks keep their value.
template <class S, class... T>
void read_object(const nlohmann::json& j, S& s, const std::tuple<Field<S, T>...>& fields,
                 const std::string& where) {
  require_object(j, where);
  for (const auto& item : j.items()) {
    const bool listed =
        std::apply([&](const auto&... f) { return ((item.key() == f.name) || ...); }, fields);
    if (!listed) throw Error(fmt::format("{}: unknown field '{}'", where, item.key()));
  }
  std::apply([&](const auto&... f) { (read(j, f.name, s.*(f.member), where), ...); }, fields);
}

}  // namespace sax::json_fields
