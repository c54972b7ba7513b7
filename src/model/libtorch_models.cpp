#include "model/libtorch_models.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

#include "infer/detector.h"
#include "model/backbone.h"
#include "model/net.h"

namespace sax {

namespace {

namespace fs = std::filesystem;

std::unique_ptr<Scorer> load_with_libtorch(const fs::path& model_dir,
                                           const nlohmann::json& description) {
  const std::string kind = description.value("kind", "cnn");
  if (kind == "backbone") return load_backbone_scorer(model_dir, description);
  if (kind != "cnn") throw Error(fmt::format("unknown model kind \"{}\"", kind));
  // A CNN from before model.safetensors: its weights through LibTorch, then the same runtime.
  const auto features = description.at("features").get<FeatureConfig>();
  Cnn legacy(net_of_model(description), features.n_mels, features.frames);
  load_model_weights(legacy, model_dir);
  return cnn_scorer(model_dir, description, weights_of(*legacy));
}

}  // namespace

void install_libtorch_models() { install_libtorch_loader(&load_with_libtorch); }

}  // namespace sax
