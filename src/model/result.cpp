#include "model/result.h"

#include <nlohmann/json.hpp>

#include "common/json_fields.h"

namespace sax {

namespace jf = json_fields;

const auto kEpochFields = std::make_tuple(
    jf::field("epoch", &EpochRecord::epoch), jf::field("train_loss", &EpochRecord::train_loss),
    jf::field("train_accuracy", &EpochRecord::train_accuracy),
    jf::field("validation_loss", &EpochRecord::validation_loss),
    jf::field("validation_accuracy", &EpochRecord::validation_accuracy),
    jf::field("validation_balanced_accuracy", &EpochRecord::validation_balanced_accuracy),
    jf::field("lr", &EpochRecord::lr), jf::field("seconds", &EpochRecord::seconds));

void to_json(nlohmann::json& j, const EpochRecord& e) { jf::write(j, e, kEpochFields); }

void from_json(const nlohmann::json& j, EpochRecord& e) {
  jf::read_object(j, e, kEpochFields, "epoch record");
}

const auto kSeedRunFields = std::make_tuple(
    jf::field("seed", &SeedRun::seed),
    jf::field("best_validation_loss", &SeedRun::best_validation_loss),
    jf::field("best_epoch", &SeedRun::best_epoch), jf::field("epochs", &SeedRun::epochs));

void to_json(nlohmann::json& j, const SeedRun& s) { jf::write(j, s, kSeedRunFields); }

void from_json(const nlohmann::json& j, SeedRun& s) {
  jf::read_object(j, s, kSeedRunFields, "seed run");
}

void to_json(nlohmann::json& j, const TrainResult& r) {
  const nlohmann::json history = r.history;
  j = {{"threshold", r.validation.threshold},
       {"metrics", {{"validation", r.validation}, {"test", r.test}}},
       {"history", history},
       {"best_epoch", r.best_epoch},
       {"seed", r.seed},
       {"seed_runs", r.seed_runs},
       {"desert_restarts", r.desert_restarts},
       {"stopped", r.stopped},
       {"samples",
        {{"train", r.train_samples},
         {"validation", r.validation_samples},
         {"test", r.test_samples},
         {"timed", r.timed_samples}}},
       {"seconds", r.seconds},
       {"samples_per_second", r.samples_per_second},
       {"device", r.device}};
  if (r.steps_measured()) {
    j["step_threshold"] = r.validation_steps.threshold;
    j["metrics"]["validation_steps"] = r.validation_steps;
    j["metrics"]["test_steps"] = r.test_steps;
  }
  if (r.zero_shot) {
    j["zero_shot"] = *r.zero_shot;
    j["worse_than_zero_shot"] = r.zero_shot->worse;
  }
}

void to_json(nlohmann::json& j, const ZeroShotCheck& z) {
  j = {{"validation", z.validation},
       {"test", z.test},
       {"validation_loss", z.validation_loss},
       {"trained_validation_loss", z.trained_validation_loss}};
}

void to_json(nlohmann::json& j, const CvResult& r) {
  j = {{"folds", r.folds},
       {"mean", r.mean},
       {"spread", r.spread},
       {"desert_restarts", r.desert_restarts}};
  if (!r.zero_shot_folds.empty())
    j["zero_shot"] = {
        {"folds", r.zero_shot_folds}, {"mean", r.zero_shot_mean}, {"spread", r.zero_shot_spread}};
}

}  // namespace sax
