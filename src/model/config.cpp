#include "model/config.h"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_fields.h"

namespace sax {

namespace jf = json_fields;

namespace {

void check(bool ok, const std::string& where, const std::string& message) {
  if (!ok) throw Error(fmt::format("{}: {}", where, message));
}

void validate(const TrainConfig& c) {
  const std::string w = "train config";
  check(c.epochs >= 1, w, fmt::format("epochs must be at least 1, got {}", c.epochs));
  check(c.batch_size >= 2, w, fmt::format("batch_size must be at least 2, got {}", c.batch_size));
  check(c.lr > 0, w, fmt::format("lr must be positive, got {}", c.lr));
  check(c.weight_decay >= 0, w,
        fmt::format("weight_decay must be 0 or more, got {}", c.weight_decay));
  check(c.patience >= 1, w, fmt::format("patience must be at least 1, got {}", c.patience));
  check(c.validation_fraction > 0 && c.test_fraction > 0 &&
            c.validation_fraction + c.test_fraction < 0.9,
        w, "validation_fraction and test_fraction must be positive and leave data to train on");
  check(c.threads >= 0, w, fmt::format("threads must be 0 or more, got {}", c.threads));
  check(c.step_weight >= 0, w, fmt::format("step_weight must be 0 or more, got {}", c.step_weight));
  check(c.seeds >= 1, w, fmt::format("seeds must be at least 1, got {}", c.seeds));
  check(c.device == "auto" || c.device == "cpu" || c.device == "cuda", w,
        fmt::format("device must be auto, cpu or cuda, got \"{}\"", c.device));
  check(c.train_limit >= 0, w,
        fmt::format("train_limit must be 0 (all) or more, got {}", c.train_limit));
  check(c.kind == "efficientat" || c.kind == "cnn", w,
        fmt::format("kind must be efficientat or cnn, got \"{}\"", c.kind));
  check(c.unfreeze >= 0 && c.unfreeze <= 17, w,
        fmt::format("unfreeze must be 0..17 (EfficientAT's feature blocks), got {}", c.unfreeze));
}

const auto kTrainFields = std::make_tuple(
    jf::field("kind", &TrainConfig::kind), jf::field("unfreeze", &TrainConfig::unfreeze),
    jf::field("epochs", &TrainConfig::epochs), jf::field("batch_size", &TrainConfig::batch_size),
    jf::field("lr", &TrainConfig::lr), jf::field("weight_decay", &TrainConfig::weight_decay),
    jf::field("patience", &TrainConfig::patience),
    jf::field("step_weight", &TrainConfig::step_weight), jf::field("seed", &TrainConfig::seed),
    jf::field("seeds", &TrainConfig::seeds), jf::field("train_limit", &TrainConfig::train_limit),
    jf::field("validation_fraction", &TrainConfig::validation_fraction),
    jf::field("test_fraction", &TrainConfig::test_fraction),
    jf::field("split_seed", &TrainConfig::split_seed), jf::field("threads", &TrainConfig::threads),
    jf::field("device", &TrainConfig::device));

// The parts of the features and the net a user sets; model.json records them whole.
const std::set<std::string> kUserFeatures = {"n_mels", "frames"};
const std::set<std::string> kUserNet = {"depth", "channels", "hidden", "dropout", "head", "gru"};

template <class Part>
nlohmann::json user_part(const Part& part, const std::set<std::string>& settings) {
  nlohmann::json whole = part, out = nlohmann::json::object();
  for (const auto& name : settings) out[name] = whole.at(name);
  return out;
}

// Reads the user's settings of a part over its current value; the part's own JSON reader
// validates the result.
template <class Part>
void read_user_part(const nlohmann::json& j, const char* name, Part& part,
                    const std::set<std::string>& settings) {
  const auto it = j.find(name);
  if (it == j.end()) return;
  const std::string where = fmt::format("train config: {}", name);
  jf::require_object(*it, where);
  nlohmann::json whole = part;
  for (const auto& item : it->items()) {
    if (!settings.count(item.key()))
      throw Error(fmt::format("{}: '{}' is not a setting (settings: {})", where, item.key(),
                              fmt::join(settings, ", ")));
    whole[item.key()] = item.value();
  }
  part = whole.get<Part>();
}

void read_augment(const nlohmann::json& j, AugmentConfig& augment) {
  const auto it = j.find("augment");
  if (it == j.end()) return;
  if (!it->is_boolean())
    throw Error(fmt::format("train config: augment must be true or false, got {}", it->dump()));
  augment.enabled = it->get<bool>();
}

}  // namespace

void to_json(nlohmann::json& j, const TrainConfig& c) {
  jf::write(j, c, kTrainFields);
  j["features"] = user_part(c.features, kUserFeatures);
  j["net"] = user_part(c.net, kUserNet);
  j["augment"] = c.augment.enabled;
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
  jf::require_object(j, "train config");
  nlohmann::json scalars = j;
  for (const char* part : {"features", "net", "augment"}) scalars.erase(part);
  jf::read_object(scalars, c, kTrainFields, "train config");
  read_user_part(j, "features", c.features, kUserFeatures);
  read_user_part(j, "net", c.net, kUserNet);
  read_augment(j, c.augment);
  validate(c);
}

TrainConfig load_train_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot open the train config", path.string()));
  try {
    return nlohmann::json::parse(in).get<TrainConfig>();
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", path.string(), e.what()));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path.string(), e.what()));
  }
}

}  // namespace sax
