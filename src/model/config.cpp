#include "model/config.h"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
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
  check(c.schedule == "cosine" || c.schedule == "step" || c.schedule == "constant", w,
        fmt::format("schedule must be cosine, step or constant, got \"{}\"", c.schedule));
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
  check(c.unfreeze_lr_scale > 0, w,
        fmt::format("unfreeze_lr_scale must be positive, got {}", c.unfreeze_lr_scale));
}

}  // namespace

const auto kAugmentFields = std::make_tuple(
    jf::field("enabled", &AugmentConfig::enabled),
    jf::field("time_masks", &AugmentConfig::time_masks),
    jf::field("time_mask_max", &AugmentConfig::time_mask_max),
    jf::field("freq_masks", &AugmentConfig::freq_masks),
    jf::field("freq_mask_max", &AugmentConfig::freq_mask_max),
    jf::field("gain_db", &AugmentConfig::gain_db), jf::field("tilt_db", &AugmentConfig::tilt_db),
    jf::field("max_shift", &AugmentConfig::max_shift),
    jf::field("mixup_alpha", &AugmentConfig::mixup_alpha));

void to_json(nlohmann::json& j, const AugmentConfig& c) { jf::write(j, c, kAugmentFields); }

void from_json(const nlohmann::json& j, AugmentConfig& c) {
  const std::string w = "augment config";
  jf::read_object(j, c, kAugmentFields, w);
  check(c.time_masks >= 0 && c.freq_masks >= 0 && c.time_mask_max >= 0 && c.freq_mask_max >= 0 &&
            c.max_shift >= 0 && c.gain_db >= 0 && c.tilt_db >= 0 && c.mixup_alpha >= 0,
        w, "mask counts, widths, shifts, gain, tilt and mixup_alpha must be 0 or more");
}

const auto kDesertFields = std::make_tuple(jf::field("tolerance", &DesertConfig::tolerance),
                                           jf::field("epochs", &DesertConfig::epochs),
                                           jf::field("max_restarts", &DesertConfig::max_restarts));

void to_json(nlohmann::json& j, const DesertConfig& c) { jf::write(j, c, kDesertFields); }

void from_json(const nlohmann::json& j, DesertConfig& c) {
  const std::string w = "desert config";
  jf::read_object(j, c, kDesertFields, w);
  check(c.tolerance > 0 && c.epochs >= 1 && c.max_restarts >= 0, w,
        "tolerance must be positive, epochs at least 1, max_restarts 0 or more");
}

const auto kTrainFields = std::make_tuple(
    jf::field("kind", &TrainConfig::kind), jf::field("unfreeze", &TrainConfig::unfreeze),
    jf::field("unfreeze_lr_scale", &TrainConfig::unfreeze_lr_scale),
    jf::field("features", &TrainConfig::features), jf::field("net", &TrainConfig::net),
    jf::field("augment", &TrainConfig::augment), jf::field("desert", &TrainConfig::desert),
    jf::field("epochs", &TrainConfig::epochs), jf::field("batch_size", &TrainConfig::batch_size),
    jf::field("lr", &TrainConfig::lr), jf::field("weight_decay", &TrainConfig::weight_decay),
    jf::field("schedule", &TrainConfig::schedule), jf::field("patience", &TrainConfig::patience),
    jf::field("clip_norm", &TrainConfig::clip_norm),
    jf::field("step_weight", &TrainConfig::step_weight), jf::field("seed", &TrainConfig::seed),
    jf::field("seeds", &TrainConfig::seeds), jf::field("train_limit", &TrainConfig::train_limit),
    jf::field("validation_fraction", &TrainConfig::validation_fraction),
    jf::field("test_fraction", &TrainConfig::test_fraction),
    jf::field("split_seed", &TrainConfig::split_seed), jf::field("threads", &TrainConfig::threads),
    jf::field("device", &TrainConfig::device));

void to_json(nlohmann::json& j, const TrainConfig& c) { jf::write(j, c, kTrainFields); }

void from_json(const nlohmann::json& j, TrainConfig& c) {
  jf::read_object(j, c, kTrainFields, "train config");
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
