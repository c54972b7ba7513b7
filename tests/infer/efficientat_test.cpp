#include "infer/efficientat.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "infer/builtin_model.h"
#include "labels/labels.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;

using testing::error_of;

const fs::path kShared = SAXDETECT_SHARED_DIR;
const fs::path kReference = kShared / "models/efficientat/reference";

const EfficientAt& builtin_net() {
  static const EfficientAt net(builtin_efficientat_weights());
  return net;
}

nlohmann::json golden() {
  std::ifstream in(kReference / "golden.json");
  return nlohmann::json::parse(in);
}

// The clip's logits as EfficientAT computes them: global pooling over the whole input.
std::vector<float> clip_logits(const EfficientAt& net, const Spectrogram& mel) {
  const auto mean = EfficientAt::mean_of_steps(net.step_embeddings(mel), net.embedding_size());
  return net.logits(mean.data(), 1);
}

float max_difference(const std::vector<float>& a, const nlohmann::json& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i].get<float>()));
  return worst;
}

std::vector<float> column(const Spectrogram& s, int c) {
  std::vector<float> out(s.rows);
  for (int r = 0; r < s.rows; ++r) out[r] = s.values[static_cast<size_t>(r) * s.cols + c];
  return out;
}

class EfficientAtGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kReference / "golden.json")) GTEST_SKIP() << "no " << kReference;
  }
};

TEST_F(EfficientAtGolden, LogMelMatchesTheReference) {
  const auto reference = golden();
  for (const auto& [file, expected] : reference.items()) {
    const auto audio = decode_mono(kReference / file, kEfficientAtRate);
    const Spectrogram mel = efficientat_log_mel(audio.data(), audio.size());
    ASSERT_EQ(mel.rows, expected["logmel_shape"][0].get<int>()) << file;
    ASSERT_EQ(mel.cols, expected["logmel_shape"][1].get<int>()) << file;
    double sum = 0, squares = 0;
    for (float v : mel.values) sum += v;
    const double mean = sum / static_cast<double>(mel.values.size());
    for (float v : mel.values) squares += (v - mean) * (v - mean);
    const double std = std::sqrt(squares / static_cast<double>(mel.values.size()));
    const float frame0 = max_difference(column(mel, 0), expected["logmel_frame_0"]);
    const float frame100 = max_difference(column(mel, 100), expected["logmel_frame_100"]);
    std::printf("%-20s log-mel mean %+.2e std %+.2e frame 0 %.2e frame 100 %.2e\n", file.c_str(),
                mean - expected["logmel_mean"].get<double>(),
                std - expected["logmel_std"].get<double>(), frame0, frame100);
    EXPECT_NEAR(mean, expected["logmel_mean"].get<double>(), 1e-4) << file;
    EXPECT_NEAR(std, expected["logmel_std"].get<double>(), 1e-4) << file;
    EXPECT_LT(frame0, 1e-4) << file;
    EXPECT_LT(frame100, 1e-4) << file;
  }
}

TEST_F(EfficientAtGolden, LogitsMatchTheReference) {
  const auto reference = golden();
  for (const auto& [file, expected] : reference.items()) {
    const auto audio = decode_mono(kReference / file, kEfficientAtRate);
    const auto logits = clip_logits(builtin_net(), efficientat_log_mel(audio.data(), audio.size()));
    const float worst = max_difference(logits, expected["logits"]);
    std::printf("%-20s logits max |error| %.2e, Saxophone %.4f (reference %.4f)\n", file.c_str(),
                worst, logits[kAudioSetSaxophone],
                expected["logits"][kAudioSetSaxophone].get<float>());
    EXPECT_LT(worst, 1e-3) << file;
  }
}

// A copy of the built-in weights called `name`, changed by `edit`.
WeightsFile edited_weights(const std::string& name,
                           const std::function<void(std::map<std::string, WeightTensor>&)>& edit) {
  auto tensors = builtin_efficientat_weights().tensors();
  edit(tensors);
  return WeightsFile(name, std::move(tensors));
}

TEST(EfficientAt, MissingOrMisshapenTensorNamesFileAndTensor) {
  const auto missing =
      edited_weights("broken.pt", [](auto& t) { t.erase("features.7.block.1.1.running_var"); });
  const auto message = error_of([&] { EfficientAt net(missing); });
  EXPECT_NE(message.find("broken.pt"), std::string::npos) << message;
  EXPECT_NE(message.find("features.7.block.1.1.running_var"), std::string::npos) << message;

  const auto misshapen = edited_weights("broken.pt", [](auto& t) {
    t["classifier.2.bias"] = WeightTensor{{3}, {0, 0, 0}};
  });
  const auto shape = error_of([&] { EfficientAt net(misshapen); });
  EXPECT_NE(shape.find("broken.pt"), std::string::npos) << shape;
  EXPECT_NE(shape.find("classifier.2.bias has shape [3]"), std::string::npos) << shape;
}

TEST(EfficientAt, OverridesMustNameTheNetworksTensors) {
  const WeightsFile typo("model.safetensors",
                         {{"head.wieght", {{1, 512}, std::vector<float>(512)}}});
  const auto message = error_of([&] { EfficientAt net(builtin_efficientat_weights(), &typo); });
  EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("head.wieght"), std::string::npos) << message;
  const WeightsFile wrong("model.safetensors", {{"head.weight", {{1, 7}, std::vector<float>(7)}},
                                                {"head.bias", {{1}, {0}}}});
  const auto shape = error_of([&] { EfficientAt net(builtin_efficientat_weights(), &wrong); });
  EXPECT_NE(shape.find("head.weight has shape [1, 7]"), std::string::npos) << shape;
}

std::vector<float> noise(size_t count, unsigned seed, float amplitude = 0.1f) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, amplitude);
  std::vector<float> out(count);
  for (float& v : out) v = normal(random);
  return out;
}

WeightsFile head(unsigned seed, float bias) {
  const int hidden = builtin_net().hidden_size();
  return WeightsFile("head.safetensors", {{"head.weight", {{1, hidden}, noise(hidden, seed)}},
                                          {"head.bias", {{1}, {bias}}}});
}

TEST(EfficientAt, HeadAddsItsLogitToTheSaxophoneClass) {
  const auto h = head(3, 0.7f);
  const EfficientAt tuned(builtin_efficientat_weights(), &h);
  const auto audio = testing::tone(3.0, kEfficientAtRate, 1, 440.0, 0.3);
  const auto mel = efficientat_log_mel(audio.data(), audio.size());
  const auto& zero = builtin_net();
  const auto mean = EfficientAt::mean_of_steps(zero.step_embeddings(mel), zero.embedding_size());
  const auto hidden = zero.hidden(mean.data(), 1);
  double head_logit = 0.7;
  for (int i = 0; i < zero.hidden_size(); ++i)
    head_logit += h.tensors().at("head.weight").values[i] * hidden[i];
  const float zero_shot = zero.saxophone_logits(mean.data(), 1)[0];
  EXPECT_NEAR(zero_shot, zero.logits(mean.data(), 1)[kAudioSetSaxophone], 1e-4);
  EXPECT_NEAR(tuned.saxophone_logits(mean.data(), 1)[0], zero_shot + head_logit, 1e-4);
  // The head leaves the 527 AudioSet logits alone.
  EXPECT_EQ(tuned.logits(mean.data(), 1), zero.logits(mean.data(), 1));
}

TEST(EfficientAt, ModelFolderLoadsWithoutLibTorch) {
  testing::TempDir dir;
  head(4, -0.2f).write(dir / kWeightsFile);
  std::ofstream(dir / "model.json")
      << R"({"kind": "efficientat", "name": "sax-head", "threshold": 0.4, "step_threshold": 0.6})";
  const auto scorer = load_detector(dir.path());
  EXPECT_EQ(scorer->name(), "sax-head");
  EXPECT_EQ(scorer->threshold(), 0.4);
  EXPECT_EQ(scorer->step_threshold(), 0.6);
  EXPECT_EQ(scorer->sample_rate(), kEfficientAtRate);
  EXPECT_NEAR(scorer->step_seconds(), 0.32, 1e-9);
  const auto audio = noise(6 * kEfficientAtRate, 5);
  const auto h = head(4, -0.2f);
  EfficientAtScorer direct(
      "direct", std::make_shared<EfficientAt>(builtin_efficientat_weights(), &h), 0.4, 0.6);
  EXPECT_EQ(scorer->score_windows({audio}), direct.score_windows({audio}));
  const auto zero_shot = builtin_efficientat_scorer()->score_windows({audio});
  EXPECT_NE(scorer->score_windows({audio}), zero_shot);
}

TEST(EfficientAt, SqueezeExcitationSpanLongerThanTheInputIsGlobal) {
  const auto audio = noise(4 * kEfficientAtRate, 6);
  const auto mel = efficientat_log_mel(audio.data(), audio.size());
  const auto& net = builtin_net();
  const auto global = net.step_embeddings(mel);
  EXPECT_EQ(global.size(), static_cast<size_t>(EfficientAt::steps_of(mel.cols)) * 384);
  EXPECT_EQ(net.step_embeddings(mel, 10 * mel.cols), global);
  EXPECT_NE(net.step_embeddings(mel, 100), global);
  EXPECT_EQ(net.step_embeddings(mel, 0, 1), global);  // threads change nothing
}

float sax_probability(const std::vector<float>& steps, int first, int last) {
  const auto& net = builtin_net();
  const auto mean = EfficientAt::mean_of_steps(steps, net.embedding_size(), first, last - first);
  return 1.0f / (1.0f + std::exp(-net.saxophone_logits(mean.data(), 1)[0]));
}

TEST(EfficientAt, WindowsAndStepsPoolTheStepEmbeddingsTheyCover) {
  const auto audio = noise(8 * kEfficientAtRate, 7);
  auto scorer = builtin_efficientat_scorer();
  std::vector<float> steps;
  const auto p = scorer->score_sliding_steps(audio.data(), audio.size(), kEfficientAtRate, steps);
  ASSERT_EQ(p.size(), 4u);
  ASSERT_EQ(steps.size(), 4u * 16);
  const auto embeddings =
      builtin_net().step_embeddings(efficientat_log_mel(audio.data(), audio.size()));
  EXPECT_NEAR(p[0], sax_probability(embeddings, 0, 16), 1e-5);
  // Window 1 starts 1 s in: at step 3 (3.125 rounded).
  EXPECT_NEAR(p[1], sax_probability(embeddings, 3, 19), 1e-5);
  EXPECT_NEAR(steps[0], sax_probability(embeddings, 0, 3), 1e-5);
  EXPECT_NEAR(steps[5], sax_probability(embeddings, 4, 8), 1e-5);
  EXPECT_NEAR(steps[16], sax_probability(embeddings, 2, 6), 1e-5);
  EXPECT_EQ(scorer->score_sliding(audio.data(), audio.size(), kEfficientAtRate), p);
}

// Two reference renders back to back: music that changes halfway.
std::vector<float> twenty_seconds() {
  auto audio = decode_mono(kReference / "altosax_band.wav", kEfficientAtRate);
  const auto more = decode_mono(kReference / "trumpet_band.wav", kEfficientAtRate);
  audio.insert(audio.end(), more.begin(), more.end());
  return audio;
}

TEST_F(EfficientAtGolden, SlidingWindowsAgreeWithWindowsScoredAlone) {
  const auto audio = twenty_seconds();
  auto scorer = builtin_efficientat_scorer();
  // Three steps (0.96 s) apart: windows then start exactly on a step, as alone they do. The rest
  // of the difference is context: alone, a window's edges see zero padding, not the music.
  const size_t hop = 3 * kEfficientAtFramesPerStep * kEfficientAtHop;
  const size_t window = scorer->window_samples();
  std::vector<float> steps;
  const auto sliding = scorer->score_sliding_steps(audio.data(), audio.size(), hop, steps);
  ASSERT_EQ(sliding.size(), (audio.size() - window) / hop + 1);
  EXPECT_EQ(steps.size(), sliding.size() * 16);
  std::vector<std::vector<float>> windows;
  for (size_t i = 0; i < sliding.size(); ++i)
    windows.emplace_back(audio.begin() + i * hop, audio.begin() + i * hop + window);
  const auto alone = scorer->score_windows(windows);
  float worst = 0, mean = 0;
  for (size_t i = 0; i < sliding.size(); ++i) {
    std::printf("window %2zu: sliding %.3f alone %.3f\n", i, sliding[i], alone[i]);
    worst = std::max(worst, std::abs(sliding[i] - alone[i]));
    mean += std::abs(sliding[i] - alone[i]) / sliding.size();
  }
  std::printf("sliding vs alone: max |difference| %.3f, mean %.3f\n", worst, mean);
  EXPECT_LT(worst, 0.1);
  EXPECT_LT(mean, 0.03);
}

// ---------------------------------------------------------------------------------------------
// Real recordings: ../shared/data/real-dev (Kevin MacLeod mixes and isolated notes, 22.05 kHz)

struct Clip {
  std::string id, file, kind;
  bool sax = false;
  float score = 0;
};

std::vector<Clip> real_dev_clips(const fs::path& labels) {
  std::ifstream in(labels);
  std::string line;
  std::getline(in, line);
  const auto header = split_csv_line(line);
  auto column = [&](const std::string& name) {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const size_t id = column("id"), file = column("file"), label = column("label"),
               kind = column("kind");
  std::vector<Clip> clips;
  while (std::getline(in, line)) {
    const auto f = split_csv_line(line);
    if (f.size() < header.size()) continue;
    clips.push_back({f[id], f[file], f[kind], f[label] == "sax"});
  }
  return clips;
}

// The chance that a random sax clip scores above a random other one (ties count half).
double roc_auc(const std::vector<Clip>& clips, const std::string& kind) {
  double wins = 0, pairs = 0;
  for (const auto& a : clips)
    for (const auto& b : clips)
      if (a.kind == kind && b.kind == kind && a.sax && !b.sax) {
        wins += a.score > b.score ? 1.0 : a.score == b.score ? 0.5 : 0.0;
        pairs += 1;
      }
  return pairs > 0 ? wins / pairs : 0.5;
}

// A clip's zero-shot score: the most saxophone-like 5-s window, windows 1 s apart (a clip shorter
// than a window is one zero-padded window).
float clip_score(Scorer& scorer, const std::vector<float>& audio) {
  if (audio.size() < scorer.window_samples()) return scorer.score_windows({audio})[0];
  const auto p = scorer.score_sliding(audio.data(), audio.size(), scorer.sample_rate());
  return *std::max_element(p.begin(), p.end());
}

TEST(EfficientAtRealDev, ZeroShotRanksSaxMixesAboveOthers) {
  const fs::path root = kShared / "data/real-dev";
  if (!fs::exists(root / "labels.csv")) GTEST_SKIP() << "no " << root;
  auto clips = real_dev_clips(root / "labels.csv");
  ASSERT_FALSE(clips.empty());
  auto scorer = builtin_efficientat_scorer();
  for (auto& clip : clips) {
    clip.score = clip_score(*scorer, decode_mono(root / clip.file, kEfficientAtRate));
    std::printf("%-8s %-7s %.3f  %s\n", clip.kind.c_str(), clip.sax ? "sax" : "not_sax", clip.score,
                clip.id.c_str());
  }
  const double mixes = roc_auc(clips, "mix"), isolated = roc_auc(clips, "isolated");
  std::printf("zero-shot ROC-AUC: mixes %.3f, isolated notes %.3f\n", mixes, isolated);
  EXPECT_GE(mixes, 0.86);
}

}  // namespace
}  // namespace sax
