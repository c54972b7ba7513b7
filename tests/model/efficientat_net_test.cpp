// EfficientAT mn04_as in LibTorch (model/efficientat_net.h) against the numpy reference's golden
// logits for the four WAVs in ../shared/models/efficientat/reference.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "common/error.h"
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

nlohmann::json golden() {
  std::ifstream in(reference_dir() / "golden.json");
  return nlohmann::json::parse(in);
}

torch::Tensor log_mel_of(const std::string& wav) {
  const auto audio = decode_mono(reference_dir() / wav, 32000);
  const auto t = torch::from_blob(const_cast<float*>(audio.data()),
                                  {1, static_cast<int64_t>(audio.size())}, torch::kFloat32);
  return efficientat_log_mel(t);
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

TEST(EfficientatNet, LogMelMatchesTheReference) {
  SKIP_WITHOUT_EFFICIENTAT();
  for (const auto& [wav, expected] : golden().items()) {
    const auto log_mel = log_mel_of(wav).squeeze(0);
    ASSERT_EQ(log_mel.sizes().vec(), expected.at("logmel_shape").get<std::vector<int64_t>>());
    EXPECT_NEAR(log_mel.mean().item<double>(), expected.at("logmel_mean").get<double>(), 1e-4);
    for (int frame : {0, 100}) {
      const auto want = expected.at(fmt::format("logmel_frame_{}", frame)).get<std::vector<float>>();
      const auto got = log_mel.select(1, frame).contiguous();
      for (size_t band = 0; band < want.size(); ++band)
        ASSERT_NEAR(got.data_ptr<float>()[band], want[band], 1e-3) << wav << " band " << band;
    }
  }
}

TEST(EfficientatNet, LogitsMatchTheReferenceOnTheFourWavs) {
  SKIP_WITHOUT_EFFICIENTAT();
  torch::NoGradGuard no_grad;
  auto net = efficientat_net(weights());
  for (const auto& [wav, expected] : golden().items()) {
    const auto logits = net->forward(log_mel_of(wav)).squeeze(0).contiguous();
    const auto want = expected.at("logits").get<std::vector<float>>();
    ASSERT_EQ(logits.numel(), static_cast<int64_t>(want.size()));
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, std::abs(double(logits.data_ptr<float>()[i]) - want[i]));
    EXPECT_LT(worst, 1e-3) << wav;
    std::printf("%s: max |logit - golden| %.2e, saxophone %.4f\n", wav.c_str(), worst,
                logits.data_ptr<float>()[197]);
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
