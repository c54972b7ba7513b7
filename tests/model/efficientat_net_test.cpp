// EfficientAT mn04_as in LibTorch (model/efficientat_net.h) against the numpy reference's golden
// logits for the four WAVs in ../shared/models/efficientat/reference, and against the
// LibTorch-free port (infer/efficientat.h) that runs trained models.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "common/error.h"
#include "infer/efficientat.h"
#include "model/efficientat.h"
#include "model/efficientat_net.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;

fs::path reference_dir() {
  return fs::path(SAXDETECT_SHARED_DIR) / "models" / "efficientat" / "reference";
}

#define SKIP_WITHOUT_EFFICIENTAT()                             \
  do {                                                         \
    if (!fs::exists(reference_dir() / "golden.json"))          \
      GTEST_SKIP() << "no " << reference_dir() / "golden.json" \
                   << " (../shared absent)";                   \
  } while (0)

const WeightsFile& weights() { return efficientat_weights(); }

// The reference's outputs per WAV (kept alive for the loops that iterate it).
const nlohmann::json& golden() {
  static const nlohmann::json j = [] {
    std::ifstream in(reference_dir() / "golden.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

torch::Tensor log_mel_of(const std::string& wav) {
  const auto audio = decode_mono(reference_dir() / wav, 32000);
  const auto t = torch::from_blob(const_cast<float*>(audio.data()),
                                  {1, static_cast<int64_t>(audio.size())}, torch::kFloat32);
  return efficientat_log_mels(t);
}

double max_difference(const torch::Tensor& ours, const std::vector<float>& theirs) {
  EXPECT_EQ(ours.numel(), static_cast<int64_t>(theirs.size()));
  const auto flat = ours.contiguous();
  const float* values = flat.data_ptr<float>();
  double worst = 0;
  for (size_t i = 0; i < theirs.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(values[i]) - theirs[i]));
  return worst;
}

Spectrogram spectrogram_of(const torch::Tensor& log_mel /*[1, rows, cols]*/) {
  const auto flat = log_mel.contiguous();
  return {static_cast<int>(flat.size(1)), static_cast<int>(flat.size(2)),
          std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel())};
}

TEST(EfficientatNet, NamesAndShapesAreTheStateDicts) {
  EfficientatNet net;
  const auto params = net->named_parameters();
  EXPECT_TRUE(params.contains("features.0.0.weight"));
  EXPECT_TRUE(params.contains("features.4.block.2.conc_se_layers.0.fc1.weight"));
  EXPECT_TRUE(params.contains("features.16.1.bias"));
  EXPECT_TRUE(params.contains("classifier.2.weight"));
  EXPECT_TRUE(params.contains("classifier.5.bias"));
  EXPECT_TRUE(net->named_buffers().contains("features.15.block.3.1.running_var"));
  size_t expected = 0;
  for (const auto& [name, tensor] : weights().tensors())
    if (name.find("num_batches_tracked") == std::string::npos) ++expected;
  size_t ours = params.size();
  for (const auto& b : net->named_buffers())
    if (b.key().find("num_batches_tracked") == std::string::npos) ++ours;
  EXPECT_EQ(ours, expected);
}

TEST(EfficientatNet, LogitsMatchTheReferenceOnTheFourWavs) {
  SKIP_WITHOUT_EFFICIENTAT();
  torch::NoGradGuard no_grad;
  auto net = efficientat_net(weights());
  for (const auto& [wav, expected] : golden().items()) {
    const auto logits = net->forward(log_mel_of(wav));
    const double worst = max_difference(logits, expected.at("logits").get<std::vector<float>>());
    EXPECT_LT(worst, 1e-3) << wav;
    std::printf("%s: max |logit - golden| %.2e, saxophone %.4f\n", wav.c_str(), worst,
                logits[0][197].item<float>());
  }
}

TEST(EfficientatNet, MatchesTheRuntimePort) {
  SKIP_WITHOUT_EFFICIENTAT();
  torch::NoGradGuard no_grad;
  auto net = efficientat_net(weights());
  const EfficientAt port(weights());
  for (const auto& item : golden().items()) {
    const std::string wav = item.key();
    const auto log_mel = log_mel_of(wav);
    const auto steps = port.step_embeddings(spectrogram_of(log_mel));
    const auto clip = EfficientAt::mean_of_steps(steps, port.embedding_size());
    const double step_error = max_difference(net->step_embeddings(log_mel), steps);
    const double hidden_error = max_difference(net->hidden(log_mel), port.hidden(clip.data(), 1));
    const double logit_error = max_difference(net->forward(log_mel), port.logits(clip.data(), 1));
    EXPECT_LT(step_error, 1e-3) << wav;
    EXPECT_LT(hidden_error, 1e-3) << wav;
    EXPECT_LT(logit_error, 1e-3) << wav;
    std::printf("%s: LibTorch against the runtime port: steps %.2e, h %.2e, logits %.2e\n",
                wav.c_str(), step_error, hidden_error, logit_error);
  }
}

TEST(EfficientatNet, MissingOrMisShapedTensorIsNamed) {
  auto tensors = weights().tensors();
  tensors.erase("features.7.block.1.0.weight");
  const auto missing = testing::error_of([&] { EfficientatNet()->load({"w.pt", tensors}); });
  EXPECT_NE(missing.find("features.7.block.1.0.weight"), std::string::npos) << missing;
  tensors = weights().tensors();
  tensors["classifier.2.bias"].shape = {511};
  tensors["classifier.2.bias"].values.resize(511);
  const auto shaped = testing::error_of([&] { EfficientatNet()->load({"w.pt", tensors}); });
  EXPECT_NE(shaped.find("classifier.2.bias"), std::string::npos) << shaped;
}

}  // namespace
}  // namespace sax
