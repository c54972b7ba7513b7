// TrainConfig and friends: defaults, validation and JSON (LibTorch-free).
#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_fields.h"
#include "model/train.h"

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
  check(c.train_limit >= 0, w,
        fmt::format("train_limit must be 0 (all) or more, got {}", c.train_limit));
  check(c.init.empty() || !c.backbone.enabled(), w,
        "init (a CNN to start from) and backbone cannot be used together");
}

}  // namespace

void to_json(nlohmann::json& j, const AugmentConfig& c) {
  j = {{"enabled", c.enabled},
       {"time_masks", c.time_masks},
       {"time_mask_max", c.time_mask_max},
       {"freq_masks", c.freq_masks},
       {"freq_mask_max", c.freq_mask_max},
       {"gain_db", c.gain_db},
       {"tilt_db", c.tilt_db},
       {"eq_db", c.eq_db},
       {"mel_shift", c.mel_shift},
       {"max_shift", c.max_shift},
       {"mixup_alpha", c.mixup_alpha}};
}

void from_json(const nlohmann::json& j, AugmentConfig& c) {
  const std::string w = "augment config";
  jf::require_object(j, w);
  jf::reject_unknown(j,
                     {"enabled", "time_masks", "time_mask_max", "freq_masks", "freq_mask_max",
                      "gain_db", "tilt_db", "eq_db", "mel_shift", "max_shift", "mixup_alpha"},
                     w);
  jf::read(j, "enabled", c.enabled, w);
  jf::read(j, "time_masks", c.time_masks, w);
  jf::read(j, "time_mask_max", c.time_mask_max, w);
  jf::read(j, "freq_masks", c.freq_masks, w);
  jf::read(j, "freq_mask_max", c.freq_mask_max, w);
  jf::read(j, "gain_db", c.gain_db, w);
  jf::read(j, "tilt_db", c.tilt_db, w);
  jf::read(j, "eq_db", c.eq_db, w);
  jf::read(j, "mel_shift", c.mel_shift, w);
  jf::read(j, "max_shift", c.max_shift, w);
  jf::read(j, "mixup_alpha", c.mixup_alpha, w);
  check(c.time_masks >= 0 && c.freq_masks >= 0 && c.time_mask_max >= 0 && c.freq_mask_max >= 0 &&
            c.max_shift >= 0 && c.gain_db >= 0 && c.tilt_db >= 0 && c.eq_db >= 0 &&
            c.mel_shift >= 0 && c.mixup_alpha >= 0,
        w, "mask counts, widths, shifts, gain, tilt, eq and mixup_alpha must be 0 or more");
}

void to_json(nlohmann::json& j, const DesertConfig& c) {
  j = {{"tolerance", c.tolerance}, {"epochs", c.epochs}, {"max_restarts", c.max_restarts}};
}

void from_json(const nlohmann::json& j, DesertConfig& c) {
  const std::string w = "desert config";
  jf::require_object(j, w);
  jf::reject_unknown(j, {"tolerance", "epochs", "max_restarts"}, w);
  jf::read(j, "tolerance", c.tolerance, w);
  jf::read(j, "epochs", c.epochs, w);
  jf::read(j, "max_restarts", c.max_restarts, w);
  check(c.tolerance > 0 && c.epochs >= 1 && c.max_restarts >= 0, w,
        "tolerance must be positive, epochs at least 1, max_restarts 0 or more");
}

void to_json(nlohmann::json& j, const BackboneConfig& c) {
  j = {{"file", c.file}, {"freeze", c.freeze}, {"lr_scale", c.lr_scale}};
}

void from_json(const nlohmann::json& j, BackboneConfig& c) {
  const std::string w = "backbone config";
  jf::require_object(j, w);
  jf::reject_unknown(j, {"file", "freeze", "lr_scale"}, w);
  jf::read(j, "file", c.file, w);
  jf::read(j, "freeze", c.freeze, w);
  jf::read(j, "lr_scale", c.lr_scale, w);
  check(c.freeze >= 0 && c.freeze <= 14, w,
        fmt::format("freeze must be 0..14 (YAMNet's layers), got {}", c.freeze));
  check(c.lr_scale > 0, w, fmt::format("lr_scale must be positive, got {}", c.lr_scale));
}

void to_json(nlohmann::json& j, const TrainConfig& c) {
  j = {{"features", c.features},
       {"net", c.net},
       {"backbone", c.backbone},
       {"augment", c.augment},
       {"desert", c.desert},
       {"epochs", c.epochs},
       {"batch_size", c.batch_size},
       {"lr", c.lr},
       {"weight_decay", c.weight_decay},
       {"schedule", c.schedule},
       {"patience", c.patience},
       {"clip_norm", c.clip_norm},
       {"step_weight", c.step_weight},
       {"seed", c.seed},
       {"train_limit", c.train_limit},
       {"init", c.init},
       {"validation_fraction", c.validation_fraction},
       {"test_fraction", c.test_fraction},
       {"split_seed", c.split_seed},
       {"threads", c.threads}};
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
  const std::string w = "train config";
  jf::require_object(j, w);
  jf::reject_unknown(j,
                     {"features",
                      "net",
                      "backbone",
                      "augment",
                      "desert",
                      "epochs",
                      "batch_size",
                      "lr",
                      "weight_decay",
                      "schedule",
                      "patience",
                      "clip_norm",
                      "step_weight",
                      "seed",
                      "train_limit",
                      "init",
                      "validation_fraction",
                      "test_fraction",
                      "split_seed",
                      "threads"},
                     w);
  jf::read(j, "features", c.features, w);
  jf::read(j, "net", c.net, w);
  jf::read(j, "backbone", c.backbone, w);
  jf::read(j, "augment", c.augment, w);
  jf::read(j, "desert", c.desert, w);
  jf::read(j, "epochs", c.epochs, w);
  jf::read(j, "batch_size", c.batch_size, w);
  jf::read(j, "lr", c.lr, w);
  jf::read(j, "weight_decay", c.weight_decay, w);
  jf::read(j, "schedule", c.schedule, w);
  jf::read(j, "patience", c.patience, w);
  jf::read(j, "clip_norm", c.clip_norm, w);
  jf::read(j, "step_weight", c.step_weight, w);
  jf::read(j, "seed", c.seed, w);
  jf::read(j, "train_limit", c.train_limit, w);
  jf::read(j, "init", c.init, w);
  jf::read(j, "validation_fraction", c.validation_fraction, w);
  jf::read(j, "test_fraction", c.test_fraction, w);
  jf::read(j, "split_seed", c.split_seed, w);
  jf::read(j, "threads", c.threads, w);
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

void to_json(nlohmann::json& j, const Metrics& m) {
  j = {{"threshold", m.threshold},
       {"accuracy", m.accuracy},
       {"balanced_accuracy", m.balanced_accuracy},
       {"precision", m.precision},
       {"recall", m.recall},
       {"f1", m.f1},
       {"roc_auc", m.roc_auc},
       {"pr_auc", m.pr_auc},
       {"loss", m.loss},
       {"confusion", {{"tp", m.tp}, {"fp", m.fp}, {"tn", m.tn}, {"fn", m.fn}}}};
}

void to_json(nlohmann::json& j, const EpochRecord& e) {
  j = {{"epoch", e.epoch},
       {"train_loss", e.train_loss},
       {"train_accuracy", e.train_accuracy},
       {"validation_loss", e.validation_loss},
       {"validation_accuracy", e.validation_accuracy},
       {"validation_balanced_accuracy", e.validation_balanced_accuracy},
       {"lr", e.lr},
       {"seconds", e.seconds}};
}

void from_json(const nlohmann::json& j, EpochRecord& e) {
  const std::string w = "epoch record";
  jf::read(j, "epoch", e.epoch, w);
  jf::read(j, "train_loss", e.train_loss, w);
  jf::read(j, "train_accuracy", e.train_accuracy, w);
  jf::read(j, "validation_loss", e.validation_loss, w);
  jf::read(j, "validation_accuracy", e.validation_accuracy, w);
  jf::read(j, "validation_balanced_accuracy", e.validation_balanced_accuracy, w);
  jf::read(j, "lr", e.lr, w);
  jf::read(j, "seconds", e.seconds, w);
}

void to_json(nlohmann::json& j, const TrainResult& r) {
  const nlohmann::json history = r.history;
  j = {{"threshold", r.validation.threshold},
       {"metrics", {{"validation", r.validation}, {"test", r.test}}},
       {"history", history},
       {"best_epoch", r.best_epoch},
       {"desert_restarts", r.desert_restarts},
       {"stopped", r.stopped},
       {"samples",
        {{"train", r.train_samples},
         {"validation", r.validation_samples},
         {"test", r.test_samples},
         {"timed", r.timed_samples}}},
       {"seconds", r.seconds},
       {"samples_per_second", r.samples_per_second}};
  if (r.steps_measured()) {
    j["step_threshold"] = r.validation_steps.threshold;
    j["metrics"]["validation_steps"] = r.validation_steps;
    j["metrics"]["test_steps"] = r.test_steps;
  }
}

void to_json(nlohmann::json& j, const CvResult& r) {
  j = {{"folds", r.folds},
       {"mean", r.mean},
       {"spread", r.spread},
       {"desert_restarts", r.desert_restarts}};
}

}  // namespace sax
